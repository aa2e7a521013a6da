"""Documents: content sniffing, image normalisation, PDF pages one at a time, folder expansion,
which text layers are trusted, and damaged files read as far as they can be."""

import logging
import os
import re
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from engine import text_trust
from engine.documents import (
    MAX_ASPECT,
    MIN_SIDE,
    DocumentError,
    PasswordRequired,
    expand,
    open_document,
    sniff,
)
from engine.jobs import PageSource, TextLayer
from engine.testing import samples
from tests.reliability import bad_files


def pages_of(path, **kw):
    doc = open_document(path, **kw)
    try:
        return list(doc.pages())
    finally:
        doc.close()


def test_png_page_is_rgb_and_within_limits(tmp_path):
    p = tmp_path / "a.png"
    Image.new("RGBA", (3000, 1000), (0, 0, 0, 0)).save(p)
    [page] = pages_of(p, max_side=600, max_pixels=600 * 600)
    assert page.image.mode == "RGB"
    assert max(page.image.size) <= 600
    assert page.image.size[0] * page.image.size[1] <= 600 * 600
    # transparent flattened on white, not black
    assert page.image.getpixel((10, 10)) == (255, 255, 255)
    assert page.source == PageSource.MODEL


def test_exif_orientation_applied(tmp_path):
    p = tmp_path / "rot.jpg"
    img = Image.new("RGB", (80, 40), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW
    img.save(p, exif=exif)
    [page] = pages_of(p)
    assert page.image.size == (40, 80)


def test_multipage_tiff_gives_every_frame(tmp_path):
    p = tmp_path / "scan.tiff"
    frames = [Image.new("RGB", (64, 64), c) for c in ("white", "gray", "black")]
    frames[0].save(p, save_all=True, append_images=frames[1:])
    pages = pages_of(p)
    assert [(pg.number, pg.count) for pg in pages] == [(1, 3), (2, 3), (3, 3)]
    assert pages[2].image.getpixel((5, 5)) == (0, 0, 0)


def test_animated_gif_is_one_picture(tmp_path):
    p = tmp_path / "anim.gif"
    frames = [Image.new("P", (40, 40), i) for i in range(3)]
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert len(pages_of(p)) == 1


def test_pdf_text_layer_page_taken_directly_and_scan_rendered(tmp_path):
    p = samples.write_pdf(tmp_path / "doc.pdf", pages=3, text_pages={2})
    pages = pages_of(p, dpi=72)
    assert [pg.source for pg in pages] == [PageSource.MODEL, PageSource.TEXT_LAYER, PageSource.MODEL]
    assert "Page 2" in pages[1].text
    assert pages[0].image.size == (64, 64)
    # with the text layer off every page goes to the model
    assert {pg.source for pg in pages_of(p, dpi=72, text_layer="off")} == {"model"}


def test_pdf_render_respects_dpi_and_max_side(tmp_path):
    p = samples.write_pdf(tmp_path / "d.pdf", pages=1, text_pages=set(), size=(612, 792))
    [page] = pages_of(p, dpi=144, max_side=800, max_pixels=10**8)
    assert max(page.image.size) == 800
    [page] = pages_of(p, dpi=36, max_side=4000, max_pixels=10**8)
    assert page.image.size == (306, 396)


@pytest.mark.parametrize("scanned", [True, False], ids=["scan", "text"])
def test_a_page_is_drawn_in_bands_and_the_picture_is_the_whole_pages(tmp_path, monkeypatch, scanned):
    """In a process with a window, no MuPDF drawing call holds Python's lock for a whole A4 page (the window
    would stall beside it), and drawing band by band changes no pixel."""
    from engine import documents

    monkeypatch.setattr(documents, "_give_way", True)
    monkeypatch.setattr(documents.time, "sleep", lambda s: None)

    p = samples.write_pdf(tmp_path / "d.pdf", pages=1, text_pages=set() if scanned else {1}, size=(595, 842))
    if not scanned:  # a page with text, drawn rather than read: the bands cut through its lines
        doc = pymupdf.open(p)
        doc[0].insert_textbox(pymupdf.Rect(30, 30, 565, 812), "Invoice 2025-0412 total due 612.90 " * 120, fontsize=9)
        doc.save(tmp_path / "t.pdf")
        p = tmp_path / "t.pdf"
    doc = pymupdf.open(p)
    page = doc[0]
    pix = page.get_pixmap(matrix=pymupdf.Matrix(2.0, 2.0), colorspace=pymupdf.csRGB, alpha=False)
    whole = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    drawn = []
    events = []
    real = pymupdf.DisplayList.get_pixmap

    def counted(self, *args, **kwargs):
        pix = real(self, *args, **kwargs)
        drawn.append(pix.height)
        events.append("band")
        return pix

    class Decoded(pymupdf.Pixmap):  # a whole image decoded by decode_page_images (bands make theirs in C)
        def __init__(self, *args):
            if len(args) == 2 and isinstance(args[1], int):
                events.append(("decode", args[1]))
            super().__init__(*args)
    monkeypatch.setattr(pymupdf.DisplayList, "get_pixmap", counted)
    monkeypatch.setattr(pymupdf, "Pixmap", Decoded)
    monkeypatch.setattr(documents, "BAND_ROWS", 300)
    banded = documents.render_in_bands(pymupdf, page, 2.0)
    assert banded.size == whole.size == (1190, 1684)
    assert len(drawn) == 6 and max(drawn) <= 300 and sum(drawn) == 1684
    assert banded.tobytes() == whole.tobytes()
    # a scan's picture is decoded once, whole, before the first band (each band decoded it again from the
    # top otherwise, the last one the longest); a page of text has nothing to decode
    scans = [image[0] for image in page.get_images(full=True)]
    if scanned:
        assert len(scans) == 1 and events[0] == ("decode", scans[0]) and events[1:] == ["band"] * 6
    else:
        assert scans == [] and events == ["band"] * 6


def test_pages_give_way_to_a_window_only_in_a_process_that_has_one(tmp_path, monkeypatch):
    """With a window beside it (desktop.application turns this on), the page is drawn in bands and every
    drawing step is followed by a pause as long as the step, within bounds, so the window thread gets its
    turns at Python's lock; without one (the CLI, a script) the page is drawn in one call, the same picture,
    and nothing pauses (bands cost time: figure 7)."""
    from engine import documents

    p = samples.write_pdf(tmp_path / "d.pdf", pages=1, text_pages=set(), size=(595, 842))
    page = pymupdf.open(p)[0]
    pauses: list[float] = []
    bands: list[int] = []
    real = pymupdf.DisplayList.get_pixmap

    def counted(self, *args, **kwargs):  # Page.get_pixmap draws through a display list too
        pix = real(self, *args, **kwargs)
        bands.append(pix.height)
        return pix

    monkeypatch.setattr(pymupdf.DisplayList, "get_pixmap", counted)
    monkeypatch.setattr(documents.time, "sleep", pauses.append)
    monkeypatch.setattr(documents, "BAND_ROWS", 300)
    monkeypatch.setattr(documents, "_give_way", False)
    alone = documents.render_in_bands(pymupdf, page, 2.0)
    assert pauses == [] and bands == [1684]  # one drawing call, the whole page
    bands.clear()
    documents.give_way_to_window()
    beside = documents.render_in_bands(pymupdf, page, 2.0)
    assert len(bands) == 6 and max(bands) <= 300 and len(pauses) == 1 + 6  # the decode, then each band
    assert alone.size == beside.size == (1190, 1684) and alone.tobytes() == beside.tobytes()
    assert all(documents.GIVE_WAY_MIN_S <= s <= documents.GIVE_WAY_MAX_S for s in pauses), pauses


def test_a_text_layer_read_gives_way_to_a_window_step_by_step(tmp_path, monkeypatch):
    """A born-digital page is read from its text layer in Python steps (text extraction and sorting, the glyph
    and trust checks): with a window each is followed by a pause too; without one nothing pauses."""
    from engine import documents

    p = samples.write_pdf(tmp_path / "t.pdf", pages=1, text_pages={1})
    pauses: list[float] = []
    monkeypatch.setattr(documents.time, "sleep", pauses.append)
    monkeypatch.setattr(documents, "_give_way", False)

    def read() -> str | None:
        doc = open_document(p, text_layer=TextLayer.AUTO)
        try:
            (page,) = list(doc.pages())
        finally:
            doc.close()
        return page.text

    assert read() and pauses == []
    documents.give_way_to_window()
    assert read() and len(pauses) == 4  # after the extraction, the sorted text, the glyph check and the verdict
    assert all(documents.GIVE_WAY_MIN_S <= s <= documents.GIVE_WAY_MAX_S for s in pauses), pauses


def test_pdf_pages_are_lazy(tmp_path):
    p = samples.write_pdf(tmp_path / "many.pdf", pages=50, text_pages=set())
    doc = open_document(p)
    it = doc.pages()
    first = next(it)
    assert (first.number, first.count) == (1, 50)
    doc.close()


def test_pdf_only_selected_pages(tmp_path):
    p = samples.write_pdf(tmp_path / "d.pdf", pages=5, text_pages=set())
    doc = open_document(p)
    assert [pg.number for pg in doc.pages({2, 5})] == [2, 5]
    doc.close()


def test_password_pdf(tmp_path):
    src = samples.write_pdf(tmp_path / "plain.pdf", pages=1)
    doc = pymupdf.open(src)
    p = tmp_path / "locked.pdf"
    doc.save(p, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="s3cret", owner_pw="owner")
    with pytest.raises(PasswordRequired) as e:
        open_document(p)
    assert str(e.value) == "locked.pdf: this PDF is protected by a password"
    with pytest.raises(PasswordRequired) as e:
        open_document(p, password="nope")
    assert e.value.wrong
    assert len(pages_of(p, password="s3cret")) == 1


@pytest.mark.parametrize(
    "name, data, problem",
    [
        ("empty.png", b"", "the file is empty"),
        ("notes.txt", b"hello world, not an image", "not an image or PDF"),
        ("truncated.pdf", b"%PDF-1.7\n1 0 obj <<", "PDF"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(tmp_path, name, data, problem):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(DocumentError) as e:
        pages_of(p)
    msg = str(e.value)
    assert msg.startswith(name + ": ")
    assert problem in msg
    assert "\n" not in msg


def test_truncated_png(tmp_path):
    good = tmp_path / "g.png"
    Image.effect_noise((200, 200), 50).convert("RGB").save(good)
    p = tmp_path / "cut.png"
    p.write_bytes(good.read_bytes()[:400])
    with pytest.raises(DocumentError) as e:
        pages_of(p)
    assert str(e.value).startswith("cut.png: ")


def test_wrong_extension_is_read_by_content(tmp_path):
    png_named_pdf = tmp_path / "really-a-png.pdf"
    samples.text_image().save(png_named_pdf, "PNG")
    assert sniff(png_named_pdf) == "image"
    pdf_named_png = tmp_path / "really-a-pdf.png"
    samples.write_pdf(pdf_named_png, pages=2)
    assert sniff(pdf_named_png) == "pdf"
    assert len(pages_of(pdf_named_png)) == 2


def test_tiny_and_strip_images_padded(tmp_path):
    one = tmp_path / "one.png"
    Image.new("RGB", (1, 1), "black").save(one)
    [page] = pages_of(one)
    assert min(page.image.size) >= MIN_SIDE
    strip = tmp_path / "strip.png"
    Image.new("L", (8, 20000), 0).save(strip)
    [page] = pages_of(strip, max_side=1600, max_pixels=1600 * 1600)
    w, h = page.image.size
    assert h <= 1600 and max(w, h) / min(w, h) <= MAX_ASPECT


def test_16bit_and_cmyk_and_palette_alpha(tmp_path):
    import numpy as np

    p16 = tmp_path / "deep.png"
    Image.fromarray(np.full((40, 40), 65535, dtype=np.uint16)).save(p16)
    [page] = pages_of(p16)
    assert page.image.getpixel((1, 1)) == (255, 255, 255)
    cmyk = tmp_path / "print.jpg"
    Image.new("CMYK", (40, 40), (0, 0, 0, 255)).save(cmyk)
    [page] = pages_of(cmyk)
    assert page.image.mode == "RGB"
    pal = tmp_path / "pal.png"
    im = Image.new("P", (40, 40), 0)
    im.info["transparency"] = 0
    im.save(pal, transparency=0)
    [page] = pages_of(pal)
    assert page.image.getpixel((1, 1)) == (255, 255, 255)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(p)  # 400 Mpx, a few KB on disk
    with pytest.raises(DocumentError) as e:
        pages_of(p)
    assert "too large" in str(e.value)


def test_heic_named_clearly(tmp_path):
    p = tmp_path / "photo.heic"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(DocumentError) as e:
        sniff(p)
    assert "HEIC" in str(e.value) and str(e.value).startswith("photo.heic: ")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DocumentError) as e:
        sniff(tmp_path / "gone.png")
    assert "no longer exists" in str(e.value)
    p = samples.write_png(tmp_path / "secret.png")
    os.chmod(p, 0)
    if os.access(p, os.R_OK):
        os.chmod(p, 0o600)
        pytest.skip("running as root: permissions are not enforced, so an unreadable file cannot be made here "
                    "(tests/reliability/test_bad_input.py reads one as 'nobody' instead)")
    with pytest.raises(DocumentError) as e:
        sniff(p)
    assert "permission denied" in str(e.value)


def test_expand_folder_keeps_supported_reports_rest_and_loops(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    samples.write_png(d / "b.png")
    samples.write_pdf(d / "sub" / "a.pdf", pages=1)
    (d / "readme.docx").write_bytes(b"PK..")
    (d / "sub" / "loop").symlink_to(d, target_is_directory=True)
    files, problems = expand([d, tmp_path / "absent.png"])
    assert [os.path.basename(f) for f in files] == ["b.png", "a.pdf"]
    messages = [str(p) for p in problems]
    assert any(m.startswith("readme.docx: ") for m in messages)
    assert any("loop" in m for m in messages)
    assert any(m.startswith("absent.png: ") for m in messages)


def test_expand_dedupes(tmp_path):
    p = samples.write_png(tmp_path / "x.png")
    files, _ = expand([p, p, str(p)])
    assert files == [str(p)]



DAMAGED_READER = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="LOG %(message)s")
from engine.documents import DocumentError, open_document
doc = open_document(sys.argv[1])
try:
    for page in doc.pages():
        print("page", page.number, flush=True)
except DocumentError as e:
    print("error", e, flush=True)
doc.close()
"""


def test_damaged_pdf_repairs_are_logged_not_printed(tmp_path):
    """MuPDF prints what it repairs to stdout, which would break `ocr-tray ocr --json`: it is logged instead.

    In a child process: PyMuPDF writes through the stdout object it saw at import, which
    pytest's capture replaces."""
    import subprocess
    import sys

    path = samples.write_pdf(tmp_path / "damaged.pdf", pages=3, text_pages={1})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])  # cut off: the xref and the later objects are gone
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run([sys.executable, "-c", DAMAGED_READER, str(path)], capture_output=True, text=True,
                         cwd=root, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines and lines[0] == "page 1"
    assert all(line.startswith(("page ", "error ")) for line in lines), run.stdout  # nothing else on stdout
    assert "MuPDF error" not in run.stderr
    # repaired while opening: logged under the file's name, as a count and fixed wording
    assert "LOG damaged.pdf (opening): MuPDF: " in run.stderr
    assert "the file was damaged and repaired" in run.stderr


def test_formats_label_names_heic_only_when_it_can_be_read(monkeypatch):
    from engine import documents

    monkeypatch.setattr(documents, "_heif_plugin", lambda: False)
    assert documents.formats_label() == "PNG, JPEG, TIFF, GIF, WebP, BMP, PDF"
    assert ".heic" not in documents.readable_suffixes() and ".webp" in documents.readable_suffixes()
    monkeypatch.setattr(documents, "_heif_plugin", lambda: True)
    assert documents.formats_label() == "PNG, JPEG, TIFF, GIF, WebP, BMP, HEIC, PDF"
    assert ".heic" in documents.readable_suffixes()


# --------------------------------------------------------------------------- text layers
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture
def dejavu() -> Path:
    if not DEJAVU.exists():
        pytest.skip(f"needs the DejaVu Sans font at {DEJAVU} (Debian: fonts-dejavu-core) to write non-Latin text")
    return DEJAVU


def builtin_cjk(fontname: str) -> str:
    try:
        pymupdf.Font(fontname)
    except Exception as e:
        pytest.skip(f"this PyMuPDF has no built-in CJK font {fontname!r} ({e})")
    return fontname


def text_pdf(path, lines, *, fontfile=None, fontname="helv", render_mode=0, rtl=False) -> Path:
    """One page of ``lines``; right-to-left lines are drawn in visual order, as PDF producers do."""
    doc = pymupdf.open()
    page = doc.new_page(width=500, height=300)
    if fontfile is not None:
        page.insert_font(fontname="body", fontfile=str(fontfile))
        fontname = "body"
    for n, line in enumerate(lines):
        page.insert_text((20, 40 + 18 * n), line[::-1] if rtl else line, fontname=fontname, fontsize=11,
                         render_mode=render_mode)
    doc.save(os.fspath(path))
    doc.close()
    return Path(path)


def to_unicode_cmap(mapping: dict[int, str], code_bytes: int = 2) -> bytes:
    """A ToUnicode CMap saying character code → text (``bfchar`` entries, 100 a block)."""
    digits = 2 * code_bytes
    out = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        f"1 begincodespacerange <{'0' * digits}> <{'F' * digits}> endcodespacerange",
    ]
    entries = sorted(mapping.items())
    for start in range(0, len(entries), 100):
        chunk = entries[start:start + 100]
        out.append(f"{len(chunk)} beginbfchar")
        out += [f"<{code:0{digits}X}> <{text.encode('utf-16-be').hex().upper()}>" for code, text in chunk]
        out.append("endbfchar")
    out.append("endcmap CMapName currentdict /CMap defineresource pop end end")
    return "\n".join(out).encode()


def remap_text(path: Path, fontfile: Path, wrong) -> Path:
    """Rewrite the ToUnicode map of the page's embedded font so that each character reads as ``wrong(c)``.

    PyMuPDF embeds the font as Identity-H, so a character code is the glyph number."""
    doc = pymupdf.open(path)
    text = doc[0].get_text()
    font = pymupdf.Font(fontfile=str(fontfile))
    mapping = {}
    for c in sorted(set(text) - {"\n"}):
        glyph = font.has_glyph(ord(c))
        assert glyph, f"the font has no glyph for {c!r}"
        mapping[glyph] = " " if c == " " else wrong(c)
    [(xref, *_)] = [f for f in doc[0].get_fonts() if f[2] == "Type0"]
    kind, ref = doc.xref_get_key(xref, "ToUnicode")
    assert kind == "xref", "PyMuPDF wrote no ToUnicode map"
    doc.update_stream(int(ref.split()[0]), to_unicode_cmap(mapping))
    out = path.with_name("broken-" + path.name)
    doc.save(os.fspath(out))
    doc.close()
    return out


ARABIC = ["مرحبا بالعالم هذا نص عربي عادي", "يحتوي على كلمات كثيرة ومفيدة"]
HEBREW = ["שלום עולם זה טקסט בעברית רגיל", "עם כמה מילים נוספות בשורה השנייה"]
SOUND_LAYERS = {
    "latin": (["The quick brown fox jumps over the lazy dog.", "Invoice 2024-03: total 1,234.56 paid."], {}),
    "cyrillic": (["Привет мир, это обычный русский текст.", "Вторая строка про работу и жизнь."], {"dejavu": True}),
    "greek": (["Καλημέρα κόσμε, αυτό είναι ελληνικό κείμενο.", "Δεύτερη γραμμή με λέξεις."], {"dejavu": True}),
    "arabic": (ARABIC, {"dejavu": True, "rtl": True}),
    "hebrew": (HEBREW, {"dejavu": True, "rtl": True}),
    "math": (["∑ xᵢ ≤ ∫₀¹ f(x) dx for all x ∈ ℝ, α + β = γ", "√2 ≈ 1.414, Δx → 0, ∂f/∂x ≠ 0"], {"dejavu": True}),
    "symbols": (["© 2024 ACME™ — § 4 ¶ 2 † • bullet ✓ done", "25 ± 2 °C, 5 µm, ½ cup, № 7, €12"], {"dejavu": True}),
    "chinese": (["这是一个中文句子，包含数字和标点。", "第二行文字，北京欢迎你！"], {"cjk": "china-s"}),
    "japanese": (["日本語のテキストです。ひらがなとカタカナ。", "漢字も混ざっています。"], {"cjk": "japan"}),
    "korean": (["한국어 텍스트입니다. 서울특별시.", "두 번째 줄의 문장입니다."], {"cjk": "korea"}),
}


@pytest.mark.parametrize("name", list(SOUND_LAYERS))
def test_sound_text_layers_are_read_from_the_pdf(tmp_path, request, name):
    lines, how = SOUND_LAYERS[name]
    kw = {}
    if how.get("dejavu"):
        kw["fontfile"] = request.getfixturevalue("dejavu")
    if how.get("cjk"):
        kw["fontname"] = builtin_cjk(how["cjk"])
    path = text_pdf(tmp_path / f"{name}.pdf", lines, rtl=how.get("rtl", False), **kw)
    [page] = pages_of(path)
    assert (page.source, page.text_layer_rejected) == (PageSource.TEXT_LAYER, None)
    if how.get("rtl"):
        # the letters of every word come out right; the sorted extraction orders a line's words
        # left to right, so a right-to-left line reads with its words in reverse
        assert sorted(page.text.split()) == sorted(" ".join(lines).split())
    else:
        assert page.text == "\n".join(lines)


def unrelated_scripts(c: str) -> str:
    """Gujarati, Myanmar, Cyrillic and Latin-1 symbols in turn, as a broken Arabic TrueType font maps them."""
    pool = "ગ၀жઅ¤၁ગдက§ઇ၂и¶ક၃б©ખ၄в®ઘ၅г±"
    return pool[ord(c) % len(pool)]


def mojibake(c: str) -> str:
    return c.encode("utf-8").decode("cp1252", "replace")  # é → Ã©, ’ → â€™


BROKEN_LAYERS = {
    # name: (lines, how the ToUnicode map is broken, reason)
    "arabic mapped to unrelated scripts": (ARABIC, unrelated_scripts, text_trust.REASON_SCRIPTS),
    "utf-8 read as windows-1252": (
        ["L’été dernier à Besançon, c’était très agréable.", "Créée à l’époque, répétée après."],
        mojibake, text_trust.REASON_MOJIBAKE),
    "icons in private use": (
        ["Invoice total due now", "Payment received thanks"],
        lambda c: chr(0xE000 + ord(c) % 64), text_trust.REASON_PUA),
}


@pytest.mark.parametrize("name", list(BROKEN_LAYERS))
def test_text_layer_with_a_wrong_character_map_goes_to_the_model(tmp_path, dejavu, name):
    lines, wrong, reason = BROKEN_LAYERS[name]
    sound = text_pdf(tmp_path / "doc.pdf", lines, fontfile=dejavu, rtl=lines is ARABIC)
    assert pages_of(sound)[0].source == PageSource.TEXT_LAYER  # the same page with its map intact is read as text
    broken = remap_text(sound, dejavu, wrong)
    [page] = pages_of(broken)
    assert (page.source, page.text, page.text_layer_rejected) == (PageSource.MODEL, None, reason)
    assert page.image is not None and page.image.mode == "RGB"
    # "always" takes any text layer as it is: the garbage the trust check keeps from the user
    [taken] = pages_of(broken, text_layer="always")
    assert taken.source == PageSource.TEXT_LAYER and not any(line in taken.text for line in lines)


def test_cid_font_without_a_to_unicode_map_goes_to_the_model(tmp_path, dejavu):
    path = text_pdf(tmp_path / "cid.pdf", ["A line of text in an embedded CID font.", "And a second one."],
                    fontfile=dejavu)
    doc = pymupdf.open(path)
    [(xref, *_)] = [f for f in doc[0].get_fonts() if f[2] == "Type0"]
    doc.xref_set_key(xref, "ToUnicode", "null")
    doc.save(tmp_path / "no-map.pdf")
    doc.close()
    [page] = pages_of(tmp_path / "no-map.pdf")
    assert (page.source, page.text_layer_rejected) == (PageSource.MODEL, text_trust.REASON_UNMAPPED)
    # MuPDF's own fallback (the raw glyph numbers as characters) is what "always" shows
    [taken] = pages_of(tmp_path / "no-map.pdf", text_layer="always")
    assert "A line of text" not in taken.text


def raw_text_pdf(path: Path, content: bytes, fonts: dict[bytes, bytes], extra: list | None = None) -> Path:
    """One page with ``content`` and ``fonts`` (resource name → font object number, objects from 5 on)."""
    resources = b" ".join(b"/%s %s 0 R" % (name, number) for name, number in fonts.items())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R /Resources << /Font << %s >> >> >>"
        % resources,
        (b"<< /Length %d >>" % len(content), content),
        bad_files.HELVETICA,
        *(extra or []),
    ]
    path.write_bytes(bad_files.raw_pdf(objects))
    return path


def symbolic_truetype(base_font: bytes, to_unicode: int, descriptor: int) -> list:
    """A non-embedded symbolic TrueType font (what Word writes for Symbol and Wingdings), and its descriptor."""
    return [
        b"<< /Type /Font /Subtype /TrueType /BaseFont /%s /FirstChar 32 /LastChar 255 /ToUnicode %d 0 R "
        b"/FontDescriptor %d 0 R >>" % (base_font, to_unicode, descriptor),
        b"<< /Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [0 -220 1113 1005] /ItalicAngle 0 "
        b"/Ascent 1005 /Descent -220 /CapHeight 1005 /StemV 80 >>" % base_font,
    ]


def test_symbol_font_formula_is_repaired_and_read_from_the_pdf(tmp_path):
    """Operators in a Symbol font whose ToUnicode map points into the private-use area (as Word writes them)."""
    cmap = to_unicode_cmap({0x2B: "\uf02b", 0x3D: "\uf03d", 0xB3: "\uf0b3"}, code_bytes=1)
    content = (b"BT /F1 14 Tf 20 150 Td (Vector sum: OA ) Tj /F2 14 Tf (+) Tj /F1 14 Tf ( OB ) Tj /F2 14 Tf (+) Tj "
               b"/F1 14 Tf ( OC ) Tj /F2 14 Tf (=) Tj /F1 14 Tf ( u, |u| ) Tj /F2 14 Tf (\\263) Tj "
               b"/F1 14 Tf ( 0) Tj ET")
    path = raw_text_pdf(tmp_path / "formula.pdf", content, {b"F1": b"5", b"F2": b"6"},
                        [*symbolic_truetype(b"SymbolMT", 8, 7), (b"<< /Length %d >>" % len(cmap), cmap)])
    raw = pymupdf.open(path)[0].get_text().strip()
    assert raw == "Vector sum: OA \uf02b OB \uf02b OC \uf03d u, |u| \uf0b3 0"  # what the PDF itself says
    [page] = pages_of(path)
    assert (page.source, page.text_layer_rejected) == (PageSource.TEXT_LAYER, None)
    assert page.text == "Vector sum: OA + OB + OC = u, |u| ≥ 0"


def test_wingdings_bullets_are_kept_not_read_as_symbol(tmp_path):
    """F0A7 is a small square in Wingdings but a club suit in Symbol: only Symbol's are translated."""
    cmap = to_unicode_cmap({0xA7: "\uf0a7", 0xFC: "\uf0fc"}, code_bytes=1)
    content = b"BT 20 170 Td 16 TL "
    for line in (b"the first point of the list", b"the second point of the list", b"the third point, done"):
        content += b"/F2 11 Tf (\\247 ) Tj /F1 11 Tf (%s) Tj T* " % line
    content += b"/F2 11 Tf (\\374 ) Tj /F1 11 Tf (checked) Tj ET"
    path = raw_text_pdf(tmp_path / "bullets.pdf", content, {b"F1": b"5", b"F2": b"6"},
                        [*symbolic_truetype(b"Wingdings-Regular", 8, 7), (b"<< /Length %d >>" % len(cmap), cmap)])
    [page] = pages_of(path)
    assert page.source == PageSource.TEXT_LAYER
    assert page.text.count("\uf0a7") == 3 and "\uf0fc" in page.text
    assert "♣" not in page.text and "⎫" not in page.text


def test_shift_jis_in_a_font_without_a_character_map_goes_to_the_model(tmp_path):
    """Japanese bytes shown through a simple TrueType font with no encoding and no ToUnicode map."""
    japanese = "日本語テスト".encode("shift_jis").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    content = b"BT /F2 12 Tf 20 150 Td (Hello ASCII ) Tj (%s) Tj ET" % japanese
    path = raw_text_pdf(tmp_path / "sjis.pdf", content, {b"F1": b"5", b"F2": b"6"},
                        [b"<< /Type /Font /Subtype /TrueType /BaseFont /MS-Mincho /FirstChar 32 /LastChar 255 >>"])
    [taken] = pages_of(path, text_layer="always")
    assert taken.text == "Hello ASCII \x93œ\x96{\x8cŒ\x83e\x83X\x83g"  # what MuPDF makes of it
    [page] = pages_of(path)
    assert (page.source, page.text_layer_rejected) == (PageSource.MODEL, text_trust.REASON_UNMAPPED)


def test_invisible_text_without_a_picture_goes_to_the_model(tmp_path):
    lines = ["Visible heading", *[f"Hidden line {n} that the page does not show at all." for n in range(6)]]
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_text((20, 30), lines[0], fontsize=11)
    for n, line in enumerate(lines[1:]):
        page.insert_text((20, 60 + 20 * n), line, fontsize=11, render_mode=3)
    doc.save(tmp_path / "hidden.pdf")
    doc.close()
    [page] = pages_of(tmp_path / "hidden.pdf")
    assert (page.source, page.text_layer_rejected) == (PageSource.MODEL, text_trust.REASON_HIDDEN)
    assert pages_of(tmp_path / "hidden.pdf", text_layer="always")[0].text.count("Hidden line") == 6


def test_microscopic_text_goes_to_the_model(tmp_path):
    """Words set at 0.2 pt: in the text layer, but no one can see them on the page."""
    content = b"BT /F1 12 Tf 20 170 Td (Visible title of the page) Tj ET BT /F1 0.2 Tf 20 140 Td 5 TL "
    content += b"".join(b"(keyword stuffing line %d that nobody can see) ' " % n for n in range(8)) + b"ET"
    path = raw_text_pdf(tmp_path / "tiny.pdf", content, {b"F1": b"5"})
    assert pages_of(path, text_layer="always")[0].text.count("keyword stuffing") == 8
    [page] = pages_of(path)
    assert (page.source, page.text_layer_rejected) == (PageSource.MODEL, text_trust.REASON_HIDDEN)


def test_text_of_no_size_never_reaches_the_text(tmp_path):
    """Font size 0 or horizontal scaling 0: MuPDF's sorted text leaves such words out, so the page is kept."""
    content = (b"BT /F1 12 Tf 20 170 Td (Visible title of the page) Tj ET "
               b"BT /F1 0 Tf 20 100 Td (keywords nobody can see) Tj ET "
               b"BT /F1 12 Tf 0 Tz 20 80 Td (more keywords nobody can see) Tj ET")
    path = raw_text_pdf(tmp_path / "zero.pdf", content, {b"F1": b"5"})
    [page] = pages_of(path)
    assert (page.source, page.text) == (PageSource.TEXT_LAYER, "Visible title of the page")


def test_scan_with_an_invisible_ocr_layer_is_a_scan(tmp_path):
    """Invisible text over a page-sized picture is the scan's own OCR: the page goes to the model, and
    that is no broken text layer (no reason is given)."""
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=200)
    page.insert_image(page.rect, stream=samples._png_bytes(200, 200))
    page.insert_text((20, 100), "OCR text of the scan under the picture", fontsize=8, render_mode=3)
    doc.save(tmp_path / "scan.pdf")
    doc.close()
    [page] = pages_of(tmp_path / "scan.pdf")
    assert (page.source, page.text_layer_rejected) == (PageSource.MODEL, None)


def test_text_layer_modes(tmp_path):
    p = samples.write_pdf(tmp_path / "doc.pdf", pages=2, text_pages={1})
    assert [pg.source for pg in pages_of(p)] == [PageSource.TEXT_LAYER, PageSource.MODEL]  # auto: a scan is rendered
    assert [pg.source for pg in pages_of(p, text_layer="never")] == [PageSource.MODEL, PageSource.MODEL]
    assert [pg.source for pg in pages_of(p, text_layer="off")] == ["model", "model"]  # the older name
    scan_with_ocr = tmp_path / "scan.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=200)
    page.insert_image(page.rect, stream=samples._png_bytes(200, 200))
    page.insert_text((20, 100), "OCR layer of a scan", fontsize=8, render_mode=3)
    doc.save(scan_with_ocr)
    doc.close()
    # always: any text layer with text, no image-cover check and no trust check
    assert [(pg.source, pg.text) for pg in pages_of(scan_with_ocr, text_layer="always")] == [
        ("text-layer", "OCR layer of a scan")]
    with pytest.raises(ValueError):
        open_document(p, text_layer="sometimes")


def test_a_page_whose_text_cannot_be_extracted_is_rendered(tmp_path, monkeypatch):
    from engine import documents

    def broken(self, page):
        raise RuntimeError("code=2: syntax error in content stream")

    monkeypatch.setattr(documents._PdfDocument, "_trusted_text", broken)
    [page] = pages_of(samples.write_pdf(tmp_path / "doc.pdf", pages=1, text_pages={1}))
    assert (page.source, page.text_layer_rejected) == (PageSource.MODEL, documents.TEXT_LAYER_FAILED)


# ----------------------------------------------------------- damaged and unusual files
def test_pdf_without_its_header_line_is_read(tmp_path):
    path = bad_files.headerless_pdf(tmp_path / "no-header.pdf")
    assert path.read_bytes().startswith(b"%\xe2\xe3\xcf\xd3\n1 0 obj")
    assert sniff(path) == "pdf"
    renamed = path.rename(tmp_path / "no-header.bin")  # recognised by its structure, not its name
    assert sniff(renamed) == "pdf"
    [page] = pages_of(renamed)
    assert page.source == PageSource.TEXT_LAYER and "lost its header line" in page.text


def test_pdf_whose_only_encrypted_part_is_an_attachment_needs_no_password(tmp_path):
    path = bad_files.attachment_encrypted_pdf(tmp_path / "with-attachment.pdf", password="for-the-attachment")
    raw = pymupdf.open(path)
    assert raw.needs_pass and raw.xref_get_key(-1, "Encrypt/EFF") == ("name", "/StdCF")  # what used to ask
    assert raw.authenticate("for-the-attachment")  # the password is real: it opens the attachment
    [page] = pages_of(path)
    assert page.source == PageSource.TEXT_LAYER and "not encrypted" in page.text
    [page] = pages_of(path, password="for-the-attachment")
    assert page.source == PageSource.TEXT_LAYER


def test_pdf_whose_pages_are_encrypted_still_asks_for_the_password(tmp_path):
    for method in (pymupdf.PDF_ENCRYPT_RC4_128, pymupdf.PDF_ENCRYPT_AES_128, pymupdf.PDF_ENCRYPT_AES_256):
        locked = tmp_path / f"locked-{method}.pdf"
        doc = pymupdf.open(samples.write_pdf(tmp_path / "plain.pdf", pages=1))
        doc.save(locked, encryption=method, user_pw="s3cret", owner_pw="owner")
        doc.close()
        with pytest.raises(PasswordRequired):
            open_document(locked)


@pytest.mark.parametrize("damage", bad_files.FUZZED_PAGE_TREES)
def test_pdf_with_a_damaged_page_tree_is_read(tmp_path, damage):
    path = bad_files.fuzzed_page_tree_pdf(tmp_path / f"{damage}.pdf", damage)
    [page] = pages_of(path)
    assert (page.number, page.count, page.source) == (1, 1, PageSource.TEXT_LAYER)
    assert f"damage: {damage}" in page.text


def test_pdf_page_tree_with_a_cycle_costs_one_page(tmp_path):
    path = bad_files.page_tree_cycle_pdf(tmp_path / "cycle.pdf")
    pages = pages_of(path)
    assert [(pg.number, pg.count, pg.source) for pg in pages] == [
        (1, 3, "text-layer"), (2, 3, "failed"), (3, 3, "text-layer")]
    assert pages[1].error == "cycle.pdf: page 2 cannot be read (cycle in page tree)"
    assert (pages[1].text, pages[1].image) == (None, None)
    assert "after the broken one" in pages[2].text
    doc = open_document(path)
    assert [pg.source for pg in doc.pages({2, 3})] == [PageSource.FAILED, PageSource.TEXT_LAYER]
    doc.close()


def test_single_page_that_cannot_be_read_fails_the_document(tmp_path):
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [3 0 R] /Count 1 >>",
    ]
    path = tmp_path / "one.pdf"
    path.write_bytes(bad_files.raw_pdf(objects))
    with pytest.raises(DocumentError) as e:
        pages_of(path)
    assert str(e.value) == "one.pdf: page 1 cannot be read (cycle in page tree)"


def test_tiff_with_a_damaged_page_costs_one_page(tmp_path):
    path = bad_files.tiff_with_damaged_page(tmp_path / "scan.tiff", pages=3, damaged=2)
    pages = pages_of(path)
    expected = [(1, PageSource.MODEL), (2, PageSource.FAILED), (3, PageSource.MODEL)]
    assert [(pg.number, pg.source) for pg in pages] == expected
    assert pages[1].error.startswith("scan.tiff: page 2: the image data is damaged")
    assert "\n" not in pages[1].error
    assert pages[2].image.getpixel((5, 5)) == (0, 0, 0)


def test_postscript_is_never_handed_to_ghostscript(tmp_path, monkeypatch):
    """Pillow's EPS plugin runs Ghostscript; a PostScript file under an image name is refused instead."""
    from PIL import EpsImagePlugin

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "ghostscript-was-called"
    (bin_dir / "gs").write_text(f"#!/bin/sh\necho \"$@\" >> '{called}'\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # Pillow looks Ghostscript up again
    path = bad_files.postscript(tmp_path / "holiday-photo.png")
    with pytest.raises(DocumentError) as e:
        pages_of(path)
    assert str(e.value) == "holiday-photo.png: not an image or PDF that can be read"
    assert not called.exists(), called.read_text()
    from engine.documents import pillow_formats

    assert "EPS" not in pillow_formats() and {"PNG", "JPEG", "TIFF"} <= set(pillow_formats())


def test_mupdf_messages_are_logged_without_the_documents_words(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    secret = bad_files.unknown_keyword_pdf(tmp_path / "payroll.pdf", "TOPSECRETPAYROLL", pages=2)
    assert [pg.source for pg in pages_of(secret)] == [PageSource.TEXT_LAYER, PageSource.TEXT_LAYER]
    records = [r for r in caplog.records if "payroll.pdf" in r.getMessage()]
    assert [r.getMessage() for r in records] == [
        f"payroll.pdf page {n}: MuPDF: 2 messages: errors in a page's drawing instructions ×2" for n in (1, 2)]
    assert not any("TOPSECRETPAYROLL" in r.getMessage() or "TOPSECRETPAYROLL" in repr(r.args) for r in caplog.records)


def test_mupdf_messages_of_a_refused_pdf_stay_with_it(tmp_path, caplog):
    """A PDF MuPDF complains about and then refuses; the clean PDF opened next logs nothing of it."""
    caplog.set_level(logging.DEBUG)
    broken = bad_files.truncated(tmp_path / "cut.pdf", lambda p: bad_files.text_pdf(p, 3), keep=0.1)
    with pytest.raises(DocumentError):
        open_document(broken)
    clean = bad_files.text_pdf(tmp_path / "clean.pdf")
    assert [pg.source for pg in pages_of(clean)] == [PageSource.TEXT_LAYER]
    assert any(r.getMessage().startswith("cut.pdf (opening): MuPDF: ") for r in caplog.records)
    assert not [r.getMessage() for r in caplog.records if "clean.pdf" in r.getMessage()]


def test_mupdf_message_summary_has_only_our_words():
    from engine.documents import _mupdf_problem, _mupdf_summary

    messages = "\n".join([
        "syntax error: unknown keyword: 'SALARY-OF-JANE-DOE'",
        "... repeated 4 times...",
        "format error: cannot find object in xref (12 0 R)",
        "warning: non-embedded font using identity encoding: SecretFontName",
        "something nobody has seen before: \"quoted words\"",
    ])
    count, kinds = _mupdf_summary(messages)
    assert count == 8
    assert kinds == ("errors in a page's drawing instructions ×5; damaged file structure ×1; font problems ×1; "
                     "other problems ×1")
    words = set(re.findall(r"[A-Za-z]+", kinds))
    assert not words & {"SALARY", "JANE", "DOE", "SecretFontName", "quoted"}
    assert _mupdf_problem(RuntimeError("code=7: unknown keyword: 'SALARY'")) == "unknown keyword: …"
