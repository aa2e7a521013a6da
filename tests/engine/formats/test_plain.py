"""Plain text answers (PaddleOCR-VL "OCR:", DeepSeek-OCR "Free OCR.")."""

from engine.formats import plain
from engine.formats.document import Formula, Paragraph
from tests.engine.formats import samples


def test_blank_lines_separate_paragraphs_and_line_breaks_stay():
    page = plain.convert(samples.DEEPSEEK_FREE)
    assert page.blocks == (
        Paragraph("Exercise sheet 3\nSolutions"),
        Paragraph("Let 0 < z < 1 and n a natural number.\nWe consider the sum S_n."),
    )


def test_a_paragraph_that_is_one_display_formula_becomes_a_formula_and_inline_math_stays():
    blocks = plain.convert(samples.PADDLE_TEXT).blocks
    assert [type(b) for b in blocks] == [Paragraph, Formula, Paragraph]
    assert "\\(c_t\\)" in blocks[0].text
    assert blocks[1] == Formula("R = \\sum_{t=1}^{4} r_t")


def test_nothing_but_white_space_gives_an_empty_page():
    assert plain.convert("").blocks == ()
    assert plain.convert(" \n\t\r\n ").blocks == ()


def test_windows_line_ends_are_line_ends():
    assert plain.convert("a\r\nb\r\n\r\nc").blocks == (Paragraph("a\nb"), Paragraph("c"))


def test_every_cut_of_an_answer_keeps_the_paragraphs_already_complete():
    text = samples.PADDLE_TEXT
    first_end = text.index("\n\n")
    for cut in range(len(text) + 1):
        blocks = plain.convert(text[:cut]).blocks
        if cut > first_end:
            assert blocks[0] == Paragraph(text[:first_end])
