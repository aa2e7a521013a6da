"""The public entry ``engine.formats.convert``, and fuzzing: no converter and no renderer ever raises."""

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.formats as formats
from engine.formats import CONVERTERS, OutputFormat, Page, Paragraph, Table, convert, render
from tests.engine.formats import samples
from tests.processes import ROOT, child_env

PIECES = list("ab |`\\$[]()<>/#-*+1.:\n\t=&;{}^_~\"'") + [
    "<table>", "</table>", "<tr>", "<td>", "<th>", "</td>", "</tr>", "<thead>", "<br>", " rowspan=\"3\"",
    " colspan=\"2\"", "<fcel>", "<lcel>", "<ucel>", "<xcel>", "<ecel>", "<nl>", "<|ref|>", "<|/ref|>", "<|det|>",
    "<|/det|>", "[[1, 2, 3, 4]]", "```", "$$", "\\[", "\\]", "\\(", "\\)", "&gt;", "&#x41;", "<![", "<!--", "\n\n",
    "| --- |", "- ", "1. ", "    ", "title", "\r\n", "<script>", "<b>",
]
ANSWERS = st.lists(st.sampled_from(PIECES), max_size=80).map("".join) | st.text(max_size=300)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("fmt, sample", [
    ("plain", samples.PADDLE_TEXT), ("markdown", samples.LIGHTON_PAGE), ("otsl", samples.OTSL_SPANNED),
    ("html", samples.GLM_TABLE), ("latex", samples.GLM_FORMULA), ("grounded-markdown", samples.DEEPSEEK_GROUNDED),
    ("pipe-table", samples.PADDLE_CHART),
])
def test_convert_dispatches_on_the_format_or_its_value(fmt, sample):
    assert convert(sample, fmt) == CONVERTERS[OutputFormat(fmt)](sample) == convert(sample, OutputFormat(fmt))
    assert convert(sample, fmt).blocks


def test_every_format_has_a_converter():
    assert set(CONVERTERS) == set(OutputFormat)


def test_an_unknown_format_is_a_value_error():
    with pytest.raises(ValueError):
        convert("x", "docx")


def test_a_failing_converter_falls_back_to_plain_text(monkeypatch):
    def broken(raw: str) -> Page:
        raise RuntimeError("bug")

    monkeypatch.setitem(formats.CONVERTERS, OutputFormat.OTSL, broken)
    assert convert("a\n\nb", "otsl").blocks == (Paragraph("a"), Paragraph("b"))


@pytest.mark.parametrize("fmt", list(OutputFormat))
@FUZZ
@given(raw=ANSWERS)
def test_no_converter_or_renderer_raises(fmt, raw):
    page = CONVERTERS[fmt](raw)
    assert isinstance(page, Page)
    render.to_text(page)
    render.to_markdown(page)
    render.to_html(page)
    render.to_json(page)
    render.document_to_markdown([("p", page)])
    for block in page.blocks:
        if isinstance(block, Table):
            render.table_to_csv(block)
            render.table_to_csv(block, delimiter="\t")


@FUZZ
@given(raw=ANSWERS)
def test_html_output_never_carries_a_tag_from_the_answer(raw):
    for converter in CONVERTERS.values():
        html = render.to_html(converter(raw))
        assert "<script" not in html and "<fcel>" not in html and "<|" not in html.replace("&lt;|", "")


N = 50_000
LOOPS = {  # answers stuck repeating one thing; a quadratic regex would take minutes on these
    "dashes": "|" + "-" * N + "x",
    "tilde fence": "~~~" + "~" * N + "`",
    "heading with spaces": "# a" + " " * N + "b",
    "unclosed refs": "<|ref|>text" * (N // 10),
    "unmatched backticks": "| a | b |\n|---|---|\n| " + "`a``" * (N // 4) + " |",
    "empty formatting in a cell": "<table><tr><td>" + "<i> </i>" * (N // 10) + "</td></tr></table>",
}


@pytest.mark.parametrize("name", list(LOOPS))
def test_repetition_loops_convert_in_linear_time(name):
    """Every converter on each stuck answer, in a child process: linear work takes well under a
    second; a quadratic pattern takes minutes, and the child is stopped by the bound on the wait
    (a hang guard, not a timing: a regex running in C cannot be interrupted in this process)."""
    code = (f"from tests.engine.formats.test_convert import CONVERTERS, LOOPS\n"
            f"for converter in CONVERTERS.values():\n    converter(LOOPS[{name!r}])\nprint('converted')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, cwd=ROOT,
                         env=child_env())
    assert run.returncode == 0 and run.stdout.split() == ["converted"], run.stderr[-2000:]
