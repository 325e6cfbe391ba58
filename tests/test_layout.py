"""The package stays easy to read: small modules, short functions (issue 8's rule of the
house). A function's length counts from its first body line, so a compiled kernel's long
typed parameter list does not count against it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "filerate"
MODULES = sorted(SRC.rglob("*.py"))
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_small_modules_and_short_functions(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it by concern"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.body[0].lineno + 1
            assert lines <= MAX_FUNCTION_LINES, f"{path.name}: {node.name} has {lines} lines"
