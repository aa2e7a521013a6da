"""DeepSeek-OCR's grounded Markdown: boxes parsed and stripped, the rest read as Markdown."""

import pytest

from engine.formats import grounding
from engine.formats.document import Box, Formula, Heading, Paragraph, Table
from tests.engine.formats import samples


def test_blocks_and_boxes_of_a_grounded_page():
    page = grounding.convert(samples.DEEPSEEK_GROUNDED)
    assert [type(b) for b in page.blocks] == [Heading, Heading, Paragraph, Formula, Table, Paragraph]
    assert page.blocks[0] == Heading(1, "Exercise sheet 3")
    assert page.blocks[1] == Heading(2, "Solutions")
    assert page.blocks[3] == Formula("S_n = \\sum_{k=0}^{n} z^k")
    assert page.blocks[4].rows[1][0].text == "x > 0"
    labels = ["title", "sub_title", "text", "equation", "table", "image", "image_caption"]
    assert [b.label for b in page.boxes] == labels
    assert page.boxes[0] == Box("title", 115 / 999, 166 / 999, 488 / 999, 202 / 999)
    assert all(0 <= v <= 1 for b in page.boxes for v in (b.x1, b.y1, b.x2, b.y2))


def test_no_tag_text_is_left_anywhere():
    page = grounding.convert(samples.DEEPSEEK_GROUNDED + "<|grounding|>stray <|ref|>")
    assert not any("<|" in getattr(b, "text", "") for b in page.blocks)


def test_several_boxes_in_one_det_and_odd_coordinates():
    page = grounding.convert("<|ref|>text<|/ref|><|det|>[[10, 20, 5, 1], [0, 0, 2000, 999]]<|/det|>\nhello")
    assert page.boxes == (Box("text", 5 / 999, 1 / 999, 10 / 999, 20 / 999), Box("text", 0.0, 0.0, 1.0, 1.0))
    assert page.blocks == (Paragraph("hello"),)


def test_a_title_with_more_than_one_line_stays_a_paragraph():
    page = grounding.convert("<|ref|>title<|/ref|><|det|>[[1, 1, 2, 2]]<|/det|>\nline one\nline two")
    assert page.blocks == (Paragraph("line one\nline two"),)


@pytest.mark.parametrize("tail", ["<|ref|>", "<|ref|>equ", "<|ref|>equation<|/ref|><|det|>[[12, 3", "<|re", "<|/de"])
def test_a_cut_grounding_tag_is_dropped(tail):
    page = grounding.convert("<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nkept\n\n" + tail)
    assert page.blocks == (Paragraph("kept"),)
    assert len(page.boxes) == 1


def test_every_cut_keeps_every_finished_box_and_no_tag_text():
    text = samples.DEEPSEEK_GROUNDED
    for cut in range(len(text) + 1):
        page = grounding.convert(text[:cut])
        assert len(page.boxes) == text[:cut].count("<|/det|>"), cut
        assert not any("<|" in getattr(b, "text", "") or "|>" in getattr(b, "text", "") for b in page.blocks), cut
