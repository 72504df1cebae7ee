"""Small units with one job each: no function in src/ over 80 lines, no class over 160."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LIMITS = {ast.FunctionDef: 80, ast.AsyncFunctionDef: 80, ast.ClassDef: 160}


def test_no_function_over_80_lines_and_no_class_over_160():
    too_long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            limit = LIMITS.get(type(node))
            if limit is not None and node.end_lineno - node.lineno + 1 > limit:
                too_long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, too_long
