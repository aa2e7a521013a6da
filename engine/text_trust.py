"""Does a PDF page's text layer read as text? A pure, fast check of one page's text.

A born-digital page is read from its own text layer, without the model. Some text layers
are garbage, and they look like it: a font whose character map points at the wrong code
points gives words mixing Gujarati, Myanmar and Cyrillic letters; a font with no usable map
gives U+FFFD, control characters, or the bytes of another encoding shown as Latin-1; a
Symbol font gives Private Use Area code points instead of its operators and Greek letters.
``assess`` measures those signals and says whether to trust the layer; a page it refuses
goes to the model, and ``Verdict.reason`` says why in words a person reads.

Symbol-font text is repaired first (``map_symbol_pua``): a page whose only problem is
Symbol private-use code points is kept, with real characters.

Pure: no PyMuPDF here. What only the page's drawing knows (invisible text, text too small
to see, which font drew a private-use character) is gathered by ``engine.documents`` and
passed in as ``GlyphStats``. Nothing here raises on any string, and nothing is logged.
Fast: a page is measured with a few vectorised passes over its code points (numpy); each
code point's class is looked up once per process with regex's ``\\p{Script=…}``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

# --------------------------------------------------------------------------- thresholds
# A layer is refused when a signal passes both its count and its share. The count keeps a
# stray odd character from refusing a page; the shares keep sound layers in every script.
MIN_COUNT = 3  # below this many suspect characters (or sequences) a signal never refuses a layer
MAX_REPLACEMENT_SHARE = 0.03  # U+FFFD per non-space character
MAX_CONTROL_SHARE = 0.01  # C0/C1 controls per non-space character (sound text has none)
MAX_PUA_SHARE = 0.10  # private-use characters left after the Symbol repair (a few bullets are fine)
MAX_SCRIPT_CHANGE_SHARE = 0.10  # changes between unrelated scripts inside words, per letter of those scripts
MAX_MOJIBAKE_SHARE = 0.05  # mis-decoded sequences per word
MAX_SUSPECT_SHARE = 0.10  # all of the above together, per non-space character
MAX_HIDDEN_SHARE = 0.5  # text lines drawn invisibly or too small to see, per text line

REASON_UNMAPPED = "text layer unreadable: characters its fonts do not map to text"
REASON_CONTROL = "text layer unreadable: control characters instead of text (a font without a usable character map)"
REASON_PUA = "text layer unreadable: private-use symbols instead of text"
REASON_SCRIPTS = "text layer unreadable: characters from unrelated scripts inside words"
REASON_MOJIBAKE = "text layer unreadable: characters decoded with the wrong encoding (mojibake)"
REASON_HIDDEN = "text layer is mostly invisible or microscopic text, not what the page shows"
REASON_UNCHECKED = "text layer could not be checked"

# --------------------------------------------------------------------------- Symbol font
# Adobe Symbol encoding → Unicode (Adobe's symbol.txt, as published by the Unicode Consortium
# in VENDORS/ADOBE/symbol.txt), codes 0x20–0x7E and 0xA0–0xFE. A symbol-encoded TrueType font
# (Symbol, SymbolMT) puts code N at U+F000+N, which is what a PDF without a usable ToUnicode
# map gives for it. Departures from symbol.txt: Delta, Omega and mu are the Greek letters
# (symbol.txt also lists INCREMENT, OHM SIGN, MICRO SIGN), and 0x60 radicalex, which
# symbol.txt maps to Adobe's own private-use U+F8E5, is OVERLINE (as in X.Org's table).
_SYMBOL_20_7E = (
    " !∀#∃%&∋()∗+,−./0123456789:;<=>?"
    "≅ΑΒΧΔΕΦΓΗΙϑΚΛΜΝΟΠΘΡΣΤΥςΩΞΨΖ[∴]⊥_"
    "‾αβχδεφγηιϕκλμνοπθρστυϖωξψζ{|}∼"
)
_SYMBOL_A0_FE = (
    "€ϒ′≤⁄∞ƒ♣♦♥♠↔←↑→↓°±″≥×∝∂•÷≠≡≈…⏐⎯↵"
    "ℵℑℜ℘⊗⊕∅∩∪⊃⊇⊄⊂⊆∈∉∠∇®©™∏√⋅¬∧∨⇔⇐⇑⇒⇓"
    "◊\u2329®©™∑⎛⎜⎝⎡⎢⎣⎧⎨⎩⎪\0\u232a∫⌠⎮⌡⎞⎟⎠⎤⎥⎦⎫⎬⎭"  # \0: 0xF0 is not in the encoding
)
assert len(_SYMBOL_20_7E) == 0x7F - 0x20 and len(_SYMBOL_A0_FE) == 0xFF - 0xA0
SYMBOL_PUA: dict[int, str] = {
    0xF000 + code: ch
    for first, table in ((0x20, _SYMBOL_20_7E), (0xA0, _SYMBOL_A0_FE))
    for code, ch in enumerate(table, first)
    if ch != "\0"
}
# Wingdings, Webdings and other symbol fonts use the same U+F020–U+F0FF range for other
# pictures. There is no standard table for them (the Unicode Consortium publishes none), so
# their code points stay as they are and count as private-use; engine.documents names them
# (GlyphStats.non_symbol_pua) so that the Symbol table never turns a check box into a Greek letter.
_SYMBOL_RANGE = regex.compile(r"[\uF020-\uF0FE]")


def has_symbol_pua(text: str) -> bool:
    """Whether ``text`` holds code points of the Symbol-font private-use range."""
    return _SYMBOL_RANGE.search(text) is not None


def map_symbol_pua(text: str, keep: Collection[str] = ()) -> str:
    """``text`` with Symbol-font private-use code points (U+F020–U+F0FE) as real characters.

    ``keep``: private-use characters drawn in another font (Wingdings, MT Extra…), left as they are.
    """
    if not _SYMBOL_RANGE.search(text):
        return text
    table = SYMBOL_PUA
    if keep:
        table = {k: v for k, v in SYMBOL_PUA.items() if chr(k) not in keep}
    return text.translate(table)


# --------------------------------------------------------------------------- characters
# Every code point gets a class, looked up once per process (regex's \p{Script=…}) and kept in
# a table; a page is then measured with a few numpy operations over its code points.
_SCRIPTS = (  # noqa: SIM905 - one string reads better than 170 quoted names
    "Latin Common Inherited Han Hiragana Katakana Hangul Cyrillic Arabic Greek Hebrew Devanagari Thai "
    "Bengali Tamil Telugu Gujarati Gurmukhi Kannada Malayalam Oriya Sinhala Myanmar Khmer Lao Georgian "
    "Armenian Ethiopic Tibetan Mongolian Thaana Syriac Bopomofo KatakanaOrHiragana Yi Cherokee "
    "CanadianAboriginal Tifinagh Nko Javanese Balinese Sundanese Adlam Vai Bamum Coptic Glagolitic Runic "
    "Ogham Braille Tagalog Hanunoo Buhid Tagbanwa Limbu TaiLe NewTaiLue Buginese TaiTham Batak Lepcha "
    "OlChiki Saurashtra KayahLi Rejang Cham TaiViet MeeteiMayek Lisu Chakma Miao Sharada Takri Osage "
    "Wancho Gothic OldItalic Deseret Shavian Osmanya Cypriot LinearB Ugaritic OldPersian Phoenician "
    "Kharoshthi Cuneiform EgyptianHieroglyphs Samaritan Mandaic Brahmi Kaithi SoraSompeng Avestan "
    "ImperialAramaic InscriptionalParthian InscriptionalPahlavi OldSouthArabian OldTurkic Carian Lycian "
    "Lydian MeroiticCursive MeroiticHieroglyphs AnatolianHieroglyphs Ahom BassaVah Bhaiksuki "
    "CaucasianAlbanian Dogra Duployan Elbasan Elymaic Grantha GunjalaGondi HanifiRohingya Hatran "
    "Khojki Khudawadi LinearA Mahajani Makasar Manichaean Marchen MasaramGondi Medefaidrin MendeKikakui "
    "Modi Mro Multani Nabataean Nandinagari Newa Nushu NyiakengPuachueHmong OldHungarian OldNorthArabian "
    "OldPermic OldSogdian PahawhHmong Palmyrene PauCinHau PhagsPa PsalterPahlavi Siddham SignWriting "
    "Sogdian Soyombo SylotiNagri Tangut Tirhuta WarangCiti ZanabazarSquare Yezidi Chorasmian DivesAkuru "
    "KhitanSmallScript Tangsa Toto Vithkuqi CyproMinoan OldUyghur Kawi NagMundari"
).split()  # most frequent first: the alternation is tried in this order
# Common and Inherited are not scripts; Latin and Greek letters turn up inside words of every
# script (product names, units, α-particles). None of these make a word "mixed".
_NEUTRAL_SCRIPTS = {"Latin", "Greek", "Common", "Inherited"}
_CJK_SCRIPTS = {"Han", "Hiragana", "Katakana", "KatakanaOrHiragana", "Bopomofo", "Hangul"}  # written together

# classes of a code point (uint8); from _UNKNOWN up: letters of a script group other than Latin/Greek
_NEUTRAL, _SPACE, _CONTROL, _PUA, _REPLACEMENT, _UNKNOWN, _CJK = range(7)
_WHITESPACE = " \t\n\r\x0b\x0c"


def _compile_scripts() -> tuple[regex.Pattern, list[str]]:
    def alternation(names: list[str]) -> regex.Pattern:
        return regex.compile("|".join(rf"(\p{{Script={n}}})" for n in names))

    try:
        return alternation(_SCRIPTS), list(_SCRIPTS)
    except regex.error:  # a script this regex version does not know: leave it out
        names = []
        for name in _SCRIPTS:
            try:
                regex.compile(rf"\p{{Script={name}}}")
                names.append(name)
            except regex.error:
                continue
        return alternation(names), names


_SCRIPT_RE, _SCRIPT_NAMES = _compile_scripts()
_OTHER_SCRIPTS = [n for n in _SCRIPT_NAMES if n not in _NEUTRAL_SCRIPTS | _CJK_SCRIPTS]
_SCRIPT_CLASS = dict.fromkeys(_NEUTRAL_SCRIPTS, _NEUTRAL) | dict.fromkeys(_CJK_SCRIPTS, _CJK) | {
    n: _CJK + 1 + i for i, n in enumerate(_OTHER_SCRIPTS)
}
assert max(_SCRIPT_CLASS.values()) < 256


def _classify(cp: int) -> int:
    ch = chr(cp)
    if ch in _WHITESPACE:
        return _SPACE
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return _CONTROL
    if 0xE000 <= cp <= 0xF8FF or 0xF0000 <= cp <= 0xFFFFD or 0x100000 <= cp <= 0x10FFFD:
        return _PUA
    if cp == 0xFFFD:
        return _REPLACEMENT
    m = _SCRIPT_RE.match(ch)
    return _SCRIPT_CLASS[_SCRIPT_NAMES[m.lastindex - 1]] if m else _UNKNOWN


class _Table:
    """Code point → class, filled lazily. ``np.zeros`` is calloc: untouched parts cost no memory."""

    def __init__(self) -> None:
        self.cls = np.zeros(0x110000, dtype=np.uint8)
        self.known = np.zeros(0x110000, dtype=bool)

    def classes(self, cps: np.ndarray) -> np.ndarray:
        new = ~self.known[cps]
        if new.any():
            for cp in np.unique(cps[new]).tolist():  # bounded: the distinct new code points of one page
                self.cls[cp] = _classify(cp)
            self.known[cps] = True
        return self.cls[cps]


_TABLE: _Table | None = None


def _table() -> _Table:
    global _TABLE
    if _TABLE is None:
        _TABLE = _Table()
    return _TABLE


_ASCII_IS_SPACE = bytes(int(chr(i) in _WHITESPACE) for i in range(256))  # bytes.translate table
_ASCII_NOT_TEXT = bytes(i for i in range(128) if _classify(i) in (_SPACE, _CONTROL))


def _words(is_space: np.ndarray) -> int:
    """Runs of non-space characters."""
    if len(is_space) == 0:
        return 0
    return int(np.count_nonzero(is_space[:-1] & ~is_space[1:])) + int(not is_space[0])


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class GlyphStats:
    """What the page's drawing says about its text, beyond the characters (gathered by engine.documents).

    A glyph its font does not map to text arrives in the text as U+FFFD (documents extracts
    without MuPDF's raw-code fallback), so unmapped glyphs are counted from the text itself.
    """

    lines: int = 0  # text lines looked at
    invisible_lines: int = 0  # drawn neither filled nor stroked (render mode 3: hidden, or a scan's OCR layer)
    tiny_lines: int = 0  # too small to see (a font size or horizontal scaling near zero): hidden words
    non_symbol_pua: frozenset[str] = frozenset()  # private-use characters drawn in a font other than Symbol


@dataclass(frozen=True)
class Signals:
    """What was measured, for tests, benchmarks and a person wondering why."""

    chars: int = 0  # non-space characters (after the Symbol repair)
    words: int = 0
    replacement: int = 0  # U+FFFD
    controls: int = 0  # C0/C1 control characters other than whitespace
    symbol_pua: int = 0  # Symbol-font private-use characters repaired
    pua: int = 0  # private-use characters left
    script_letters: int = 0  # letters of scripts other than Latin and Greek
    script_changes: int = 0  # changes between unrelated scripts inside a word
    mixed_words: int = 0  # words holding letters of unrelated scripts
    mojibake: int = 0  # mis-decoded sequences (UTF-8 or another code page read as Windows-1252)
    hidden_lines: float = 0.0  # share of text lines drawn invisibly or too small to see


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None  # a short phrase for a person when not ok
    text: str  # the text to use: the layer with Symbol private-use characters repaired
    signals: Signals


# --------------------------------------------------------------------------- the check
def assess(text: str, glyphs: GlyphStats | None = None) -> Verdict:
    """Whether ``text`` (one page's text layer) reads as text. Never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        keep = glyphs.non_symbol_pua if glyphs is not None else ()
        repaired = map_symbol_pua(text, keep)
        signals = _measure(repaired, glyphs)
        if repaired is not text:
            before = len(_SYMBOL_RANGE.findall(text)) - len(_SYMBOL_RANGE.findall(repaired))
            signals = Signals(**{**signals.__dict__, "symbol_pua": before})
    except Exception:  # a bug here must not cost the page its text quietly: send it to the model
        return Verdict(False, REASON_UNCHECKED, text, Signals())
    reason = _judge(signals)
    return Verdict(reason is None, reason, repaired, signals)


def _measure(text: str, glyphs: GlyphStats | None) -> Signals:
    s: dict[str, Any] = {}
    if glyphs is not None and glyphs.lines > 0:
        s["hidden_lines"] = min(1.0, (glyphs.invisible_lines + glyphs.tiny_lines) / glyphs.lines)
    if text.isascii():  # the common case: only control characters can be wrong
        b = text.encode("ascii")
        is_space = np.frombuffer(b.translate(_ASCII_IS_SPACE), dtype=bool)
        s["chars"] = len(b) - int(np.count_nonzero(is_space))
        s["words"] = _words(is_space)
        s["controls"] = s["chars"] - len(b.translate(None, _ASCII_NOT_TEXT))
        return Signals(**s)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    cls = _table().classes(cps)
    counts = np.bincount(cls, minlength=256)
    is_space = cls == _SPACE
    s["chars"] = len(cls) - int(counts[_SPACE])
    s["words"] = _words(is_space)
    s["replacement"] = int(counts[_REPLACEMENT])
    s["controls"] = int(counts[_CONTROL])
    s["pua"] = int(counts[_PUA])
    s["script_letters"] = int(counts[_UNKNOWN:].sum())
    if np.count_nonzero(counts[_UNKNOWN:]) > 1:  # letters of two unrelated scripts on the page: compare inside words
        seq = cls[is_space | (cls >= _UNKNOWN)]  # neutral characters (punctuation, digits, Latin) left out
        a, b = seq[:-1], seq[1:]
        change = (a != b) & (a != _SPACE) & (b != _SPACE)
        s["script_changes"] = int(np.count_nonzero(change))
        s["mixed_words"] = int(np.unique(np.cumsum(seq == _SPACE)[:-1][change]).size)
    if np.count_nonzero((cps >= 0xC0) & (cps <= 0xFF)) >= MIN_COUNT:
        s["mojibake"] = _mojibake(text)
    return Signals(**s)


# Windows-1252 bytes that are punctuation: after an accented letter they are legitimate
# („Fuß“, « été », IRMÃ), so only the classic lead characters may be followed by them
_PUNCTUATION_1252 = np.zeros(256, dtype=bool)
_PUNCTUATION_1252[[0x82, 0x84, 0x85, 0x8B, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x9B, 0xA0, 0xAB, 0xAD, 0xB7,
                   0xBB]] = True
_LATIN1_LETTER = np.zeros(256, dtype=bool)
_LATIN1_LETTER[0xC0:] = True
_LATIN1_LETTER[[0xD7, 0xF7]] = False  # × ÷


def _mojibake(text: str) -> int:
    """Sequences that are the bytes of another encoding shown as Windows-1252 (one byte per character)."""
    b = np.frombuffer(text.encode("cp1252", "replace"), dtype=np.uint8)
    if len(b) < 4:
        b = np.concatenate([b, np.full(4 - len(b), 0x20, dtype=np.uint8)])
    cont = (b >= 0x80) & (b <= 0xBF)  # a UTF-8 continuation byte: €, ’, ©, ¼ … as shown
    plain = cont & ~_PUNCTUATION_1252[b]
    c1, c2 = cont[1:-2], cont[2:-1]
    p1, p2, p3 = plain[1:-2], plain[2:-1], plain[3:]
    lead = b[:-3]
    after = b[2:-1]
    inside_word = (((after | 0x20) >= 0x61) & ((after | 0x20) <= 0x7A)) | (after >= 0xC0)  # a letter follows
    # Ã© for é, Â° for °: the classic; with punctuation (Ã» for û) only inside a word, not «IRMÃ»
    n = np.count_nonzero(((lead == 0xC2) | (lead == 0xC3)) & (p1 | (c1 & inside_word)))
    n += np.count_nonzero((lead >= 0xC4) & (lead <= 0xDF) & p1)  # Ð¿ Ñ€ for п р, Ø§ for ا, Î± for α
    n += np.count_nonzero((lead == 0xE2) & ((b[1:-2] == 0x80) | (b[1:-2] == 0x82)) & c2)  # â€™ for ’, â‚¬ for €
    n += np.count_nonzero((lead >= 0xE0) & (lead <= 0xEF) & (lead != 0xE2) & p1 & p2)  # æ—¥ for 日
    n += np.count_nonzero((lead >= 0xF0) & (lead <= 0xF4) & p1 & p2 & p3)  # ðŸ˜€ for an emoji
    # a Cyrillic, Greek, Hebrew or Arabic code page read as Windows-1252: runs of accented
    # letters no language writes (Ïðèâåò for Привет)
    letter = _LATIN1_LETTER[b]
    run = letter[:-3] & letter[1:-2] & letter[2:-1] & letter[3:]
    n += np.count_nonzero(run[1:] & ~run[:-1]) + int(run[0])
    return int(n)


def _over(count: float, share: float, total: float) -> bool:
    return count >= MIN_COUNT and count >= share * max(total, 1)


def _judge(s: Signals) -> str | None:
    if s.hidden_lines > MAX_HIDDEN_SHARE:
        return REASON_HIDDEN
    checks = (
        (s.replacement, _over(s.replacement, MAX_REPLACEMENT_SHARE, s.chars), REASON_UNMAPPED),
        (s.controls, _over(s.controls, MAX_CONTROL_SHARE, s.chars), REASON_CONTROL),
        (s.pua, _over(s.pua, MAX_PUA_SHARE, s.chars), REASON_PUA),
        (s.script_changes, _over(s.script_changes, MAX_SCRIPT_CHANGE_SHARE, s.script_letters), REASON_SCRIPTS),
        (2 * s.mojibake, _over(s.mojibake, MAX_MOJIBAKE_SHARE, s.words), REASON_MOJIBAKE),
    )
    for _, failed, reason in checks:
        if failed:
            return reason
    # several kinds of damage, each under its own bar, can still add up to a page of garbage
    suspects = [weight for weight, _, _ in checks]
    if _over(sum(suspects), MAX_SUSPECT_SHARE, s.chars):
        return checks[max(range(len(suspects)), key=suspects.__getitem__)][2]
    return None
