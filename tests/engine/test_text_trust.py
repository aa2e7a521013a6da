"""The text-layer trust check on its own: sound text in every script is kept, each kind of garbage is refused."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import text_trust
from engine.text_trust import GlyphStats, assess, has_symbol_pua, map_symbol_pua

SOUND = {
    "english": "The quick brown fox jumps over the lazy dog. Invoice 2024-03, total €1,234.56 — paid on time.",
    "french": "« Voilà ! » L’été dernier, nous sommes allés à Besançon ; c’était très agréable. Créée à l’époque.",
    "german": "„Der Fuß“ und „groß“: Grüße aus Köln, Straße 5. Ärger über Öl und Übermut.",
    "french-typography": "«\u00a0Été\u00a0» et «\u00a0Voilà\u00a0!\u00a0» — c’est réglé\u00a0; "
                         "«\u00a0café\u00a0», «\u00a0thé\u00a0».",
    "icelandic": "Alþingi er þjóðþing Íslendinga. Þjóðin kýs fulltrúa á fjögurra ára fresti.",
    "portuguese": "«IRMÃ» e «MÃE» — coração, não, informação, São Paulo.",
    "polish": "Zażółć gęślą jaźń. Łódź, Kraków i Gdańsk — „cudzysłów” po polsku.",
    "vietnamese": "Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh, người Việt Nam.",
    "cyrillic": "Привет мир! Это обычный русский текст про IT-специалиста и Windows-приложение.",
    "greek": "Καλημέρα κόσμε, αυτό είναι ελληνικό κείμενο με τόνους.",
    "arabic": "مرحبا بالعالم. هذا نص عربي عادي يحتوي على أرقام ١٢٣ و PDF أيضا.",
    "persian": "سلام دنیا، این یک متن فارسی است که گ و چ و پ دارد.",
    "hebrew": "שלום עולם. זה טקסט בעברית עם ב-Windows וגם ה-CPU של המחשב.",
    "chinese": "这是一个中文句子，包含数字123和English单词。北京欢迎你！",
    "japanese": "日本語のテキストです。ひらがなとカタカナ、漢字が混ざっています。α線とβ線。iPhone用のケース（´Д｀）。",
    "korean": "한국어 텍스트입니다. 漢字도 섞여 있습니다. 서울특별시.",
    "hindi": "नमस्ते दुनिया, यह हिंदी पाठ है। भारत एक विशाल देश है।",
    "thai": "สวัสดีชาวโลก นี่คือข้อความภาษาไทยที่ไม่มีช่องว่างระหว่างคำ",
    "math": "∑ᵢ xᵢ ≤ ∫₀^∞ f(x) dx, α + β = γ, √2 ≈ 1.414, ∀x ∈ ℝ: x² ≥ 0, Δx → 0, ∂f/∂x ≠ 0",
    "symbols": "© 2024 ACME™ ® § 4 ¶ 2 † ‡ • bullet ✓ done ★★★ 25 ± 2 °C, 5 µm, ½ cup, № 7",
    "digits-and-code": "user@example.com https://example.org/a?b=c&d=e 192.168.0.1 #tag $HOME ~/path C:\\Users",
}


@pytest.mark.parametrize("name", sorted(SOUND))
def test_sound_text_in_every_script_is_kept(name):
    verdict = assess(SOUND[name] * 5)
    assert verdict.ok, (name, verdict)
    assert verdict.reason is None
    assert verdict.text == SOUND[name] * 5  # nothing repaired, nothing lost


def test_arabic_font_mapped_to_unrelated_scripts_is_refused():
    # an Arabic page whose embedded font maps glyphs to Gujarati, Myanmar, Cyrillic and Latin-1 symbols
    garbage = "ગ၀жઅ¤ ၁ગжက§ дગ၂¶ અ၃и© ကગбઇ ¤ဂжક ગ၄д¶ ხ"
    verdict = assess(garbage * 4)
    assert not verdict.ok
    assert verdict.reason == text_trust.REASON_SCRIPTS
    assert verdict.reason == "text layer unreadable: characters from unrelated scripts inside words"
    assert verdict.signals.mixed_words >= 20


def test_symbol_font_formula_is_repaired_and_kept():
    verdict = assess("Vectors: OA \uf02b OB \uf02b OC \uf03d u")
    assert verdict.ok
    assert verdict.text == "Vectors: OA + OB + OC = u"
    assert verdict.signals.symbol_pua == 3 and verdict.signals.pua == 0


def test_shift_jis_bytes_shown_as_latin1_are_refused():
    verdict = assess("Hello ASCII \x93œ\x96{\x8cŒ\x83e\x83X\x83g")
    assert not verdict.ok
    assert verdict.reason == text_trust.REASON_CONTROL
    assert verdict.signals.controls == 6


def test_unmapped_glyphs_are_refused():
    verdict = assess("Hello ASCII �œ�{�Œ�e�X�g")  # the same page, extracted without MuPDF's raw-code fallback
    assert (verdict.ok, verdict.reason) == (False, text_trust.REASON_UNMAPPED)


@pytest.mark.parametrize(
    "garbage",
    [
        "Ã©tÃ© Ã  Besanâ€™on, trÃ¨s agrÃ©able, crÃ©Ã©e Ã  lâ€™Ã©poque",  # UTF-8 read as Windows-1252
        "Ïðèâåò ìèð! Ýòî îáû÷íûé ðóññêèé òåêñò.",  # Windows-1251 Cyrillic read as Windows-1252
        "ÇáÚÑÈíÉ áÛÉ ÌãíáÉ æåí áÛÉ ÇáÞÑÂä",  # Windows-1256 Arabic read as Windows-1252
    ],
)
def test_mojibake_is_refused(garbage):
    verdict = assess(garbage)
    assert (verdict.ok, verdict.reason) == (False, text_trust.REASON_MOJIBAKE)


def test_private_use_text_is_refused_but_a_few_bullets_are_not():
    icons = "".join(chr(0xE000 + i) for i in range(40))
    assert assess(f"{icons[:10]} {icons[10:25]} {icons[25:]} total").reason == text_trust.REASON_PUA
    page = ("\uf0a7 A point made in a list, with a Wingdings bullet in front of it.\n" * 8)
    verdict = assess(page, GlyphStats(lines=8, non_symbol_pua=frozenset("\uf0a7")))
    assert verdict.ok
    assert "\uf0a7" in verdict.text and "♣" not in verdict.text  # not turned into Symbol's club suit


def test_a_stray_odd_character_does_not_refuse_a_page():
    page = SOUND["english"] * 20
    assert assess(page[:500] + "\ufffd" + page[500:]).ok
    assert assess(page[:500] + "\x07" + page[500:]).ok
    assert assess(page[:500] + "Ã©" + page[500:]).ok
    assert assess(page[:500] + "ж" + page[500:] + "ગ").ok


def test_several_small_problems_add_up():
    damage = "\ufffd\ufffd \x01\x02 \ue000\ue001 ગ၀ ၁ગ "
    s = assess("word " * 15 + damage).signals
    assert max(s.replacement, s.controls, s.pua, s.script_changes) < text_trust.MIN_COUNT  # each under its own bar
    assert assess("word " * 15 + damage).reason is not None  # together: 8 of 72 characters
    assert assess("word " * 60 + damage).ok  # the same damage in a longer page: 8 of 252


def test_hidden_lines_refuse_the_layer():
    text = SOUND["english"] * 5
    assert assess(text, GlyphStats(lines=10, invisible_lines=9)).reason == text_trust.REASON_HIDDEN
    assert assess(text, GlyphStats(lines=10, tiny_lines=6)).reason == text_trust.REASON_HIDDEN
    assert assess(text, GlyphStats(lines=10, invisible_lines=2, tiny_lines=2)).ok
    assert assess(text, GlyphStats()).ok


def test_symbol_table_is_adobes():
    table = text_trust.SYMBOL_PUA
    assert len(table) == 189  # 0x20–0x7E and 0xA0–0xFE, less 0xF0
    expected = {0x22: "∀", 0x24: "∃", 0x2B: "+", 0x2D: "−", 0x3D: "=", 0x44: "Δ", 0x57: "Ω", 0x61: "α",
                0x6D: "μ", 0x70: "π", 0xA0: "€", 0xA3: "≤", 0xB3: "≥", 0xB9: "≠", 0xC5: "⊕", 0xE5: "∑",
                0xF2: "∫", 0xE1: "\u2329", 0xF1: "\u232a"}
    for code, char in expected.items():
        assert table[0xF000 + code] == char, hex(code)
    assert 0xF0F0 not in table and 0xF07F not in table
    for char in table.values():
        assert not (0xE000 <= ord(char) <= 0xF8FF), "a Symbol code mapped to another private-use point"
        assert unicodedata.category(char) != "Cn"


def test_map_symbol_pua_keeps_what_another_font_drew():
    assert map_symbol_pua("a \uf0b3 b") == "a ≥ b"
    assert map_symbol_pua("a \uf0b3 b", keep={"\uf0b3"}) == "a \uf0b3 b"
    assert map_symbol_pua("no private use") == "no private use"
    assert has_symbol_pua("x\uf020") and not has_symbol_pua("x\ue000")


every_character = st.characters(exclude_categories=())  # surrogates, controls, unassigned: everything


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=every_character, max_size=300),
       st.builds(GlyphStats, lines=st.integers(0, 1000), invisible_lines=st.integers(0, 1000),
                 tiny_lines=st.integers(0, 1000),
                 non_symbol_pua=st.frozensets(st.characters(min_codepoint=0xF000, max_codepoint=0xF0FF), max_size=5))
       | st.none())
def test_any_string_is_judged_without_an_error(text, glyphs):
    verdict = assess(text, glyphs)
    assert verdict.reason != text_trust.REASON_UNCHECKED  # the safety net never had to catch anything
    assert verdict.ok == (verdict.reason is None)
    assert len(verdict.text) == len(text)  # the Symbol repair replaces characters one for one
    s = verdict.signals
    assert 0 <= s.replacement + s.controls + s.pua <= s.chars <= len(text)
    assert s.script_changes <= s.script_letters and s.mixed_words <= s.words


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(SOUND)), min_size=1, max_size=4))
def test_sound_text_stays_sound_when_scripts_are_on_one_page(names):
    """A bilingual page (Russian and Arabic, Japanese and Hebrew…) is not "mixed": its words are not."""
    assert assess("\n".join(SOUND[n] for n in names)).ok
