"""The benchmarks' documents are what their docstrings say: A4 pages of real text at 144 dpi, scanned pages
the engine renders for the model and text pages it takes from the text layer, and varied documents whose
every kind reaches the engine as declared."""

from __future__ import annotations

import hashlib

import pymupdf
import pytest
from PIL import Image

from bench import documents
from engine.documents import open_document


def test_a_page_image_is_an_a4_page_of_real_text_at_144_dpi():
    image = documents.page_image(1)
    assert image.size == (1190, 1684) and image.mode == "L"  # 595 × 842 points at 2 pixels a point
    histogram = image.histogram()
    dark = sum(histogram[:96])
    assert 0.01 < dark / (image.width * image.height) < 0.2  # glyphs, not a blank or a black page
    assert documents.page_image(2).tobytes() != image.tobytes()  # every page's text differs


def test_a_text_that_does_not_fit_is_an_error_not_a_blank_page():
    doc = pymupdf.open()
    page = doc.new_page(width=100, height=100)
    with pytest.raises(ValueError, match="does not fit"):
        documents._text_page(page, 1, lines=45)


def test_write_pdf_scans_the_pages_asked_and_the_engine_reads_them_so(tmp_path):
    pdf = documents.write_pdf(tmp_path / "a.pdf", 4, {2, 4})
    with pymupdf.open(pdf) as doc:
        assert [tuple(round(x) for x in p.rect[2:]) for p in doc] == [(595, 842)] * 4
        assert [bool(p.get_images()) for p in doc] == [False, True, False, True]
    read = open_document(str(pdf), max_side=1600, max_pixels=1600 * 1600, dpi=144, text_layer="auto")
    pages = list(read.pages())
    read.close()
    assert [p.text is not None for p in pages] == [True, False, True, False]  # text layer, model, …
    assert all(p.image.size == (1131, 1600) for p in pages if p.image is not None)  # 144 dpi, fitted to 1600
    assert "Page 1" in pages[0].text


def test_write_png_is_one_a4_page_at_144_dpi(tmp_path):
    with Image.open(documents.write_png(tmp_path / "p.png", 3)) as image:
        assert image.size == (1190, 1684) and image.format == "PNG"


def test_varied_documents_are_distinct_and_each_kind_reaches_the_model_as_declared(tmp_path):
    paths = documents.varied(tmp_path, 9)
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}) == 9
    assert [p.suffix for p in paths] == ["." + k[1] for k in documents.VARIED_KINDS] + [".png"]
    for i, path in enumerate(paths):
        name, _, model_pages = documents.varied_kind(i)
        doc = open_document(str(path), max_side=1600, max_pixels=1600 * 1600, dpi=144, text_layer="auto")
        pages = list(doc.pages())
        doc.close()
        assert all(p.error is None for p in pages), (name, [p.error for p in pages])
        assert sum(p.image is not None for p in pages) == model_pages, name
        assert all(p.text is None or len(p.text) > 200 for p in pages), name  # real text in the text layer
