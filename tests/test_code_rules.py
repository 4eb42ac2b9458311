"""Rules of the code base that review would otherwise have to catch.

* No function over 60 lines in xlalign/ and app.py, unless its def line says why (``# long: <reason>``).
  Measured with ``ast``: ``end_lineno - lineno + 1`` of every ``def`` (decorators not counted, docstring and
  nested functions counted). Split a long function into named helpers instead of adding a reason.
* No test name used twice in tests/ (a second definition in one file hides the first; across files a name
  no longer says which test failed).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from conftest import ROOT

LIMIT = 60
_REASON = re.compile(r"#.*\blong:\s*\S")


def long_functions(source: str, name: str = "<source>") -> list[str]:
    """``name:line function (N lines)`` for every def over :data:`LIMIT` lines without a ``# long:`` reason
    on its header (the lines from ``def`` to the end of its signature)."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        header = lines[node.lineno - 1: max(node.lineno, node.body[0].lineno - 1)]
        if length > LIMIT and not any(_REASON.search(line) for line in header):
            found.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return found


def _def(name: str, body_lines: int, header: str = "") -> str:
    return f"def {name}():{header}\n" + "".join(f"    x{i} = {i}\n" for i in range(body_lines))


def test_the_checker_counts_lines_and_honours_a_stated_reason():
    assert long_functions(_def("ok", LIMIT - 1)) == []  # def line + 59 = 60 lines
    assert long_functions(_def("over", LIMIT)) == ["<source>:1 over (61 lines)"]
    assert long_functions(_def("said", LIMIT, "  # long: one table, read whole")) == []
    assert long_functions(_def("empty_reason", LIMIT, "  # long:")) == ["<source>:1 empty_reason (61 lines)"]
    nested = "class A:\n    def m(self):\n" + "".join(f"        y{i} = {i}\n" for i in range(LIMIT))
    assert long_functions(nested) == ["<source>:2 m (61 lines)"]
    multi_line_signature = "def f(\n    a: int,  # long: a kernel\n):\n" + "".join(f"    z{i} = a\n" for i in range(LIMIT))
    assert long_functions(multi_line_signature) == []


def test_no_function_over_60_lines():
    files = [*sorted((ROOT / "xlalign").rglob("*.py")), ROOT / "app.py"]
    assert len(files) > 40
    found = [hit for path in files for hit in long_functions(path.read_text(encoding="utf-8"),
                                                              str(Path(path).relative_to(ROOT)))]
    assert found == [], "split these into named helpers (or say why on the def line: # long: <reason>):\n" + \
        "\n".join(found)


def test_no_test_name_is_used_twice():
    names = Counter(node.name for path in sorted((ROOT / "tests").glob("test_*.py"))
                    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"))
    assert len(names) > 400
    assert [name for name, n in names.items() if n > 1] == []
