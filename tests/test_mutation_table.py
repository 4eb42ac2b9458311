"""The mutation check's table (``benchmarks/mutation.py``) still applies to the sources it mutates.

Running the mutants takes minutes (``python benchmarks/mutation.py``); this only keeps the table from rotting: a
snippet edited away in the module would otherwise make its mutant silently impossible."""

from __future__ import annotations

import ast
import importlib.util
import shlex
import sys

import pytest
from conftest import ROOT

_spec = importlib.util.spec_from_file_location("mutation", ROOT / "benchmarks" / "mutation.py")
assert _spec and _spec.loader
mutation = importlib.util.module_from_spec(_spec)
sys.modules["mutation"] = mutation  # dataclasses look their module up while the class is made
_spec.loader.exec_module(mutation)


@pytest.mark.parametrize("mutant", mutation.MUTANTS, ids=[m.id for m in mutation.MUTANTS])
def test_every_mutant_applies_once_and_still_parses(mutant):
    source = (ROOT / mutant.file).read_text(encoding="utf-8")
    mutated = mutation.apply(source, mutant)
    assert mutated != source
    ast.parse(mutated)  # a semantic change, not a syntax error that any import would catch
    files = [a for a in mutant.tests if a.startswith("tests/")]
    assert files and all((ROOT / f).is_file() for f in files), shlex.join(mutant.tests)


def test_mutant_ids_are_unique_and_the_issue_table_is_required():
    ids = [m.id for m in mutation.MUTANTS]
    assert len(ids) == len(set(ids))
    required = {m.id for m in mutation.MUTANTS if m.required}
    assert required == {"wilson-z-1645", "bh-to-by", "pairing-check-removed", "lsar-argmax", "verdict-median-other-pair",
                        "verdict-borderline-ignores-impact-ci"}


def test_a_snippet_must_occur_exactly_once():
    m = mutation.Mutant("x", "f.py", "a = 1", "a = 2", ("tests/test_x.py",), "nothing")
    assert mutation.apply("a = 1\nb = 2\n", m) == "a = 2\nb = 2\n"
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutation.apply("b = 2\n", m)
    with pytest.raises(ValueError, match="occurs 2 times"):
        mutation.apply("a = 1\na = 1\n", m)


def test_only_explained_survivors_are_accepted():
    def mutant(required: bool = False, harmless: str = ""):
        return mutation.Mutant("m", "f.py", "a", "b", ("tests/t.py",), "x", required=required, harmless=harmless)

    explained, unexplained, required = mutant(harmless="a speed constant"), mutant(), mutant(required=True)
    results = [(explained, "survived", 1.0), (unexplained, "survived", 1.0), (required, "survived", 1.0),
               (mutant(required=True), "killed", 1.0)]
    assert mutation.bad_survivors(results) == [unexplained, required]
