"""The one environment-skip helper: a skip locally, a failure under XLALIGN_REQUIRE_ALL=1 (CI)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import FILE_MODES_BIND, REQUIRE_ALL, ROOT, import_or_skip, require_or_skip, rerun_where_file_modes_bind


@pytest.fixture
def local(monkeypatch):
    monkeypatch.delenv(REQUIRE_ALL, raising=False)


@pytest.fixture
def ci(monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL, "1")


def test_what_is_there_goes_on_in_both_modes(monkeypatch):
    for value in ("", "1"):
        monkeypatch.setenv(REQUIRE_ALL, value)
        assert require_or_skip(True, "unused") is None
        assert import_or_skip("json") is json


def test_a_missing_thing_skips_locally(local):
    with pytest.raises(pytest.skip.Exception, match=r"^chromium is not installed$"):
        require_or_skip(False, "chromium is not installed")
    with pytest.raises(pytest.skip.Exception, match="no_such_module_xyz is not installed"):
        import_or_skip("no_such_module_xyz")


def test_a_missing_thing_fails_under_require_all(ci):
    with pytest.raises(pytest.fail.Exception, match=r"^XQuAD not found at /x \(XLALIGN_REQUIRE_ALL=1: every test"):
        require_or_skip(False, "XQuAD not found at /x")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_xyz is not installed"):
        import_or_skip("no_such_module_xyz")


def test_only_the_value_1_turns_it_on(monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL, "0")
    with pytest.raises(pytest.skip.Exception):
        require_or_skip(False, "x")


def test_a_rerun_that_still_cannot_bind_file_modes_fails(monkeypatch, request):
    monkeypatch.setenv(FILE_MODES_BIND, "1")  # as if this were already the child
    with pytest.raises(pytest.fail.Exception, match="file modes still do not bind"):
        rerun_where_file_modes_bind(request)


def test_ci_sets_require_all_before_the_tests():
    script = (ROOT / ".ci" / "run").read_text()
    exported = re.search(r"^export .*\bXLALIGN_REQUIRE_ALL=1\b", script, re.M)
    assert exported and exported.start() < script.index("python3 -m pytest")
