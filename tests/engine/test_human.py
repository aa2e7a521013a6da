"""Sizes, durations and errors as a person reads them."""

from engine.human import duration, one_line, plural, ranges, size_text


def test_sizes_are_decimal_as_finder_prints_them():
    assert [size_text(n) for n in (0, 999, 1_000, 12_345, 812_400_000, 1_900_000_000, 250e9)] == [
        "0 bytes", "999 bytes", "1.0 KB", "12.3 KB", "812 MB", "1.9 GB", "250 GB"]


def test_durations():
    assert [duration(s) for s in (0, 42, 272, 3723, -5)] == ["0:00", "0:42", "4:32", "1:02:03", "0:00"]


def test_one_line_joins_and_cuts():
    assert one_line(ValueError("two\n  lines")) == "two lines"
    assert one_line(KeyError()) == "KeyError"  # no message: the type
    cut = one_line("x" * 500, limit=50)
    assert len(cut) == 50 and cut.endswith("…")


def test_plural_and_ranges():
    assert (plural(1, "page"), plural(3, "page"), plural(2, "document was", "documents were")) == (
        "1 page", "3 pages", "2 documents were")
    assert ranges([5, 1, 2, 3, 9, 10]) == "1–3, 5, 9–10" and ranges([]) == ""


def test_plain_problems_in_words_a_person_knows():
    from engine.human import plain_problem

    assert plain_problem("the hub cannot be reached ([Errno -2] Name or service not known)") == "No internet connection"
    assert plain_problem(OSError(28, "No space left on device")) == "The disk is full"
    assert plain_problem(PermissionError(13, "Permission denied")) == "Permission denied"
    assert plain_problem(ValueError("tensor x lies past its end")) is None
