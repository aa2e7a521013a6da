"""Documents: content sniffing, image normalisation, PDF pages one at a time, folder expansion."""

import os

import pymupdf
import pytest
from PIL import Image

from engine.testing import samples
from engine.documents import (
    MAX_ASPECT,
    MIN_SIDE,
    DocumentError,
    PasswordRequired,
    expand,
    open_document,
    sniff,
)


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
    assert page.source == "model"


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
    assert [pg.source for pg in pages] == ["model", "text-layer", "model"]
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
    assert "LOG damaged.pdf page 1: MuPDF:" in run.stderr and "repair" in run.stderr


def test_formats_label_names_heic_only_when_it_can_be_read(monkeypatch):
    from engine import documents

    monkeypatch.setattr(documents, "_heif_plugin", lambda: False)
    assert documents.formats_label() == "PNG, JPEG, TIFF, PDF"
    monkeypatch.setattr(documents, "_heif_plugin", lambda: True)
    assert documents.formats_label() == "PNG, JPEG, TIFF, HEIC, PDF"
