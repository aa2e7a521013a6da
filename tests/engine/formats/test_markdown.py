"""Markdown answers (GLM-OCR text, LightOnOCR-2, the body of DeepSeek-OCR's grounded answers)."""

import pytest

from engine.formats import markdown
from engine.formats.document import Cell, Code, Formula, Heading, ListItem, Paragraph, Table
from tests.engine.formats import samples


def _kinds(text: str) -> list[str]:
    return [type(b).__name__ for b in markdown.convert(text).blocks]


def test_glm_text_answer():
    blocks = markdown.convert(samples.GLM_TEXT).blocks
    assert [type(b) for b in blocks] == [Heading, Paragraph, ListItem, ListItem, Code, Paragraph]
    assert blocks[0] == Heading(2, "2. Installation")
    assert blocks[4] == Code("pip install -e .", "bash")
    assert blocks[5].text == "The cost is $O(n \\log n)$ per page."


def test_lighton_page_with_display_math_an_html_table_and_a_numbered_list():
    blocks = markdown.convert(samples.LIGHTON_PAGE).blocks
    assert [type(b) for b in blocks] == [Heading, Paragraph, Formula, Table, ListItem, ListItem]
    assert blocks[2].latex.startswith("\\mathrm{MAE}") and blocks[2].display
    table = blocks[3]
    assert [[c.text for c in row] for row in table.rows] == [["Split", "MAE"], ["train", "0.12"], ["test", "0.19"]]
    assert all(c.header for c in table.rows[0]) and not any(c.header for c in table.rows[1])
    assert (blocks[4].ordered, blocks[4].number, blocks[5].number) == (True, 1, 2)


def test_pipe_table_keeps_pipes_inside_code_spans_and_escaped_pipes():
    text = "| Op | Syntax | Note |\n|:---|:---:|---:|\n| or | `a || b` | a \\| b |\n| pipe | ``x | `y` `` | - |\n"
    table = markdown.convert(text).blocks[0]
    assert isinstance(table, Table)
    assert [[c.text for c in row] for row in table.rows] == [
        ["Op", "Syntax", "Note"], ["or", "`a || b`", "a | b"], ["pipe", "``x | `y` ``", "-"]]
    assert [c.header for c in table.rows[0]] == [True, True, True]


def test_pipe_table_without_outer_pipes_ends_at_a_line_without_a_pipe():
    blocks = markdown.convert("a | b\n--- | ---\n1 | 2\n3 | 4<br>5\nafter").blocks
    assert blocks[0] == Table(((Cell("a", header=True), Cell("b", header=True)), (Cell("1"), Cell("2")),
                               (Cell("3"), Cell("4\n5"))))
    assert blocks[1] == Paragraph("after")


def test_a_pipe_in_running_text_is_not_a_table():
    assert _kinds("either a | b\nor c") == ["Paragraph"]
    assert _kinds("a | b\n---") == ["Paragraph"]


def test_nested_lists_get_their_depth_from_the_indentation():
    blocks = markdown.convert("- a\n  - b\n    - c\n  - d\n- e\n  lazy continuation\n\n3. three").blocks
    expected = [("a", 0), ("b", 1), ("c", 2), ("d", 1), ("e\nlazy continuation", 0)]
    assert [(b.text, b.depth) for b in blocks[:5]] == expected
    assert blocks[5] == ListItem("three", True, 0, 3)


@pytest.mark.parametrize("text, latex", [
    ("$$x+1$$", "x+1"),
    ("$$\nx+1\n$$", "x+1"),
    ("\\[\n\\int_0^1 f\n\\]", "\\int_0^1 f"),
    ("\\[ a \\]", "a"),
    ("$$\n\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}\n$$",
     "\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}"),
])
def test_display_math(text, latex):
    assert markdown.convert(text).blocks == (Formula(latex),)


def test_inline_math_stays_in_the_paragraph():
    assert markdown.convert("Let $x$ and \\(y\\) be reals.").blocks == (Paragraph("Let $x$ and \\(y\\) be reals."),)


def test_unclosed_display_math_ends_at_the_next_blank_line():
    assert markdown.convert("$$ x +\ny\n\nnext").blocks == (Formula("x +\ny"), Paragraph("next"))


def test_unclosed_fence_runs_to_the_end():
    page = markdown.convert("```python\nprint(1)\n# not a heading")
    assert page.blocks == (Code("print(1)\n# not a heading", "python"),)


def test_text_around_an_html_table_on_the_same_line_is_kept():
    blocks = markdown.convert("Before <table><tr><td>a</td></tr></table> after").blocks
    assert blocks == (Paragraph("Before"), Table(((Cell("a"),),)), Paragraph("after"))


def test_a_table_tag_inside_a_code_span_is_text():
    text = "Use the `<table>` element.\n\nNext"
    assert markdown.convert(text).blocks == (Paragraph("Use the `<table>` element."), Paragraph("Next"))


def test_wrapper_tags_thematic_breaks_and_entities():
    blocks = markdown.convert('<div align="center">\n\nx &gt; 0 &amp; y\n\n---\n\n</div>').blocks
    assert blocks == (Paragraph("x > 0 & y"),)


def test_headings_need_a_space_and_drop_closing_hashes():
    assert markdown.convert("### Title ###\n#hashtag").blocks == (Heading(3, "Title"), Paragraph("#hashtag"))
    assert markdown.convert("## Learn C#").blocks == (Heading(2, "Learn C#"),)


def test_a_backtick_line_with_a_backtick_in_its_info_is_not_a_fence():
    assert markdown.convert("```a`b```").blocks == (Paragraph("```a`b```"),)
    assert markdown.convert("~~~ text\nx\n~~~").blocks == (Code("x", "text"),)


@pytest.mark.parametrize("sample", [samples.GLM_TEXT, samples.LIGHTON_PAGE])
def test_every_cut_keeps_the_blocks_completed_before_it(sample):
    for cut in range(len(sample) + 1):
        blocks = markdown.convert(sample[:cut]).blocks
        boundary = sample.rfind("\n\n", 0, cut)
        complete = markdown.convert(sample[:boundary]).blocks if boundary > 0 else ()
        assert blocks[:len(complete)] == complete, cut
