"""scripts/mutation_check.py stays in step with the code: each break's edit applies exactly once to
the tree as it is (the breaks themselves run in CI after the suite, and in docs/reliability.md)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.processes import ROOT

spec = importlib.util.spec_from_file_location("mutation_check", ROOT / "scripts" / "mutation_check.py")
assert spec and spec.loader
mutation_check = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutation_check  # (dataclasses look their module up)
spec.loader.exec_module(mutation_check)


@pytest.mark.parametrize("number", range(1, len(mutation_check.BREAKS) + 1))
def test_each_break_applies_once_and_names_existing_tests(number, tmp_path):
    brk = mutation_check.BREAKS[number - 1]
    edits = [(brk.file, brk.old, brk.new)]
    if number in mutation_check.EXTRA:
        edits.append(mutation_check.EXTRA[number])
    for file, old, new in edits:
        copy = tmp_path / file
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text((ROOT / file).read_text() if not copy.exists() else copy.read_text())
        mutation_check.edit(tmp_path, file, old, new)
        assert new in copy.read_text()
    for test in brk.tests:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), test
        assert not name or f"def {name}(" in (ROOT / path).read_text(), test


def test_a_stale_break_is_reported_not_passed(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(LookupError, match="stale"):
        mutation_check.edit(tmp_path, "a.py", "y = 2", "y = 3")
