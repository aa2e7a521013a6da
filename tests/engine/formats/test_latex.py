"""Formula answers (PaddleOCR-VL and GLM-OCR "Formula Recognition:")."""

import pytest

from engine.formats import latex
from engine.formats.document import Formula, Paragraph
from tests.engine.formats import samples


@pytest.mark.parametrize("text, expected", [
    (samples.PADDLE_FORMULA, "\\frac{a}{b}=\\sum_{i=1}^{n} x_{i}^{2}"),
    (samples.GLM_FORMULA, "E = m c^{2}"),
    ("\\( a+b \\)", "a+b"),
    ("$x$", "x"),
    ("x^2 + y^2 = z^2", "x^2 + y^2 = z^2"),
    ("\\begin{pmatrix} 1 & 2 \\\\[2pt] 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\[2pt] 3 & 4 \\end{pmatrix}"),
    ("a \\$ 5", "a \\$ 5"),
])
def test_wrappers_are_stripped_and_the_formula_is_display_math(text, expected):
    assert latex.convert(text).blocks == (Formula(expected, display=True),)


def test_several_formulas_or_text_around_one_are_read_as_markdown():
    assert latex.convert("$$a$$\n\n$$b$$").blocks == (Formula("a"), Formula("b"))
    assert latex.convert("where $x$ is free").blocks == (Paragraph("where $x$ is free"),)


def test_empty_answers_give_an_empty_page():
    assert latex.convert("").blocks == ()
    assert latex.convert("$$ $$").blocks == ()


@pytest.mark.parametrize("sample", [samples.PADDLE_FORMULA, samples.GLM_FORMULA])
def test_every_cut_is_a_formula_without_its_wrapper(sample):
    for cut in range(len(sample) + 1):
        for block in latex.convert(sample[:cut]).blocks:
            assert isinstance(block, Formula), cut
            assert not block.latex.startswith(("$", "\\[")), cut
