"""engine.testing.golden: the edit distance is exact, the normalisation forgives markup and not
misreadings, and the pages really show their ground truth."""

import json
import random
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.models.presets import DEFAULT_PRESET_ID, PRESETS
from engine.testing import golden
from tests.processes import ROOT, child_env


def textbook(a: str, b: str) -> int:
    """The dynamic-programming table, for comparison."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


@pytest.mark.parametrize("a, b, d", [
    ("", "", 0), ("abc", "", 3), ("", "abc", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2),
    ("same", "same", 0), ("ab", "ba", 2), ("a" * 200, "a" * 199 + "b", 1),
])
def test_levenshtein_known_distances(a, b, d):
    assert golden.levenshtein(a, b) == d == golden.levenshtein(b, a)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab cdé€", max_size=70), st.text(alphabet="ab cdé€", max_size=70))
def test_levenshtein_matches_the_textbook_table(a, b):
    assert golden.levenshtein(a, b) == textbook(a, b)


def test_levenshtein_handles_whole_pages_without_the_quadratic_table():
    """Two 20,000-character pages: the bit-parallel pass takes about 0.3 s here; the textbook
    table (400 million cells in Python) would take minutes, so the child doing it is stopped
    by the bound on the wait (a hang guard, not a timing)."""
    code = textwrap.dedent("""
        import random
        from engine.testing import golden
        rng = random.Random(7)
        a = "".join(rng.choice("abcdefgh ijklmnop.") for _ in range(20000))
        b = "".join(rng.choice("abcdefgh ijklmnop.") for _ in range(20000))
        print(golden.levenshtein(a, b))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env=child_env())
    assert run.returncode == 0 and 0 < int(run.stdout) <= 20000, run.stderr[-2000:]
    rng = random.Random(7)
    a = "".join(rng.choice("abcdefgh ijklmnop.") for _ in range(700))
    b = "".join(rng.choice("abcdefgh ijklmnop.") for _ in range(600))
    assert golden.levenshtein(a, b) == textbook(a, b)


def test_cer_is_distance_over_the_reference_length():
    assert golden.cer("The quick brown fox", "The quick brown fox") == 0
    assert golden.cer("The quick brovn fox", "The quick brown fox") == pytest.approx(1 / 19)
    assert golden.cer("", "abcd") == 1.0
    assert golden.cer("abcdabcd", "abcd") == 1.0  # four extra characters on a four-character truth
    assert golden.cer("", "") == 0.0 and golden.cer("x", "") == 1.0


def test_markup_and_line_breaks_are_not_errors_but_misreadings_are():
    truth = "\n".join(" ".join(c for c in row if c) for row in golden.TABLE)
    markdown = "| " + " | ".join(golden.TABLE[0]) + " |\n|---|---:|---:|---:|\n" + "\n".join(
        "| " + " | ".join(row) + " |" for row in golden.TABLE[1:])
    html = "<table><tr>" + "".join(f"<td>{c}</td>" for c in golden.TABLE[0]) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in golden.TABLE[1:]) + "</table>"
    assert golden.cer(markdown, truth) == 0
    assert golden.cer(html, truth) == 0
    assert golden.cer("**Quarterly report**,\nsecond   quarter.", "Quarterly report, second quarter.") == 0
    assert golden.cer("# Quarterly <b>report</b>, second<br>quarter.", "Quarterly report, second quarter.") == 0
    assert golden.cer("it\u2019s \u201cdone\u201d \u2014 ok", "it's \"done\" - ok") == 0
    assert golden.cer("Quarterly rep0rt", "Quarterly report") == pytest.approx(1 / 16)
    assert golden.cer("quarterly report", "Quarterly report") > 0  # case is read, not normalised away


def test_the_ground_truths_hold_no_character_the_normalisation_removes():
    for page in golden.pages():
        assert not set(page.truth) & set("|*#_`<>$"), page.name
        assert golden.normalize(page.truth) == " ".join(page.truth.split()), page.name


def test_six_pages_of_the_promised_kinds():
    pages = golden.pages()
    assert [p.name for p in pages] == ["body-8pt", "body-11pt", "body-16pt", "two-column", "table", "receipt-photo"]
    assert len({p.image for p in pages}) == 6
    assert all(len(golden.normalize(p.truth)) > 100 for p in pages)


def test_every_preset_has_a_threshold_and_custom_models_none():
    assert set(golden.THRESHOLDS) == {p.id for p in PRESETS}
    assert all(0 < t < 0.5 for t in golden.THRESHOLDS.values())
    assert golden.threshold(DEFAULT_PRESET_ID) is not None
    assert golden.threshold("custom") is None and golden.threshold(None) is None


def test_overall_weighs_pages_by_their_length():
    scores = [golden.Score("a", 100, 100, 10), golden.Score("b", 300, 300, 0)]
    assert golden.overall(scores) == pytest.approx(10 / 400)
    assert golden.overall([]) == 0.0


def test_the_pdf_pages_carry_exactly_their_ground_truth(tmp_path):
    """What is drawn is what is scored against: the text PyMuPDF reads back from each drawn page
    (before the receipt is photographed) is the ground truth, whitespace aside."""
    import pymupdf

    pdf = golden.build_pdf(tmp_path / "golden.pdf")
    doc = pymupdf.open(pdf)
    try:
        assert doc.page_count == 6
        for page, spec in zip(doc, golden.pages()):
            assert golden.normalize(page.get_text("text")) == golden.normalize(spec.truth), spec.name
    finally:
        doc.close()


def test_write_pages_draws_images_with_their_truth_beside_them(tmp_path):
    from PIL import Image

    pages = golden.write_pages(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [p["name"] for p in manifest["pages"]] == [p.name for p in pages]
    assert not list(tmp_path.glob("*.pdf"))
    for p in pages:
        with Image.open(tmp_path / p.image) as image:
            assert image.mode == "RGB"
            assert max(image.size) <= 1600  # every preset's image limit: nothing is scaled away
            assert min(image.size) >= 200
            kind = image.format
        assert kind == ("JPEG" if p.name == "receipt-photo" else "PNG")
        assert (tmp_path / f"{p.name}.txt").read_text(encoding="utf-8") == p.truth + "\n"


def test_the_receipt_photo_is_turned_noisy_and_on_a_dark_table(tmp_path):
    import numpy as np
    from PIL import Image

    golden.write_pages(tmp_path)
    with Image.open(tmp_path / "receipt-photo.jpg") as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    corner = pixels[:20, :20].mean(axis=(0, 1))
    h, w = pixels.shape[:2]
    centre = pixels[h // 2 - 10:h // 2 + 10, w // 2 - 10:w // 2 + 10]
    assert corner.max() < 120  # the table shows around the paper (rotated: the corners are table)
    assert centre.mean() > 180  # paper
    assert pixels[:20, :20].std() > 3  # sensor noise, not a flat fill


def test_pages_are_the_same_each_time(tmp_path):
    golden.write_pages(tmp_path / "a")
    golden.write_pages(tmp_path / "b")
    for p in golden.pages():
        assert (tmp_path / "a" / p.image).read_bytes() == (tmp_path / "b" / p.image).read_bytes(), p.name
