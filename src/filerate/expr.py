"""Safe evaluation of worker-count expressions such as ``cpu_count*4+16``.

Only integer arithmetic on numbers and the name ``cpu_count`` is allowed: + - * //,
unary minus, parentheses, min() and max(). The expression is parsed with ``ast`` and
walked by hand; nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import operator

ALLOWED = "integers, cpu_count, + - * //, parentheses, min(), max()"

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}
_FUNCS = {"min": min, "max": max}
_MAX_LEN = 200


class ExpressionError(ValueError):
    """An expression that is not plain arithmetic on cpu_count."""


def evaluate(expr: int | str, cpu_count: int) -> int:
    """Return the integer value of ``expr`` with ``cpu_count`` bound."""
    if isinstance(expr, bool):
        raise ExpressionError(f"{expr!r} is a boolean; allowed: {ALLOWED}")
    if isinstance(expr, int):
        return expr
    if not isinstance(expr, str) or not expr.strip():
        raise ExpressionError(f"{expr!r} is not an expression; allowed: {ALLOWED}")
    if len(expr) > _MAX_LEN:
        raise ExpressionError(f"expression longer than {_MAX_LEN} characters")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{expr!r} does not parse ({exc.msg}); allowed: {ALLOWED}") from None
    return _walk(tree.body, expr, cpu_count)


def _walk(node: ast.AST, expr: str, cpu_count: int) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id == "cpu_count":
        return cpu_count
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _walk(node.left, expr, cpu_count)
        right = _walk(node.right, expr, cpu_count)
        if isinstance(node.op, ast.FloorDiv) and right == 0:
            raise ExpressionError(f"{expr!r} divides by zero")
        if isinstance(node.op, ast.Mult) and abs(left) * abs(right) > 10**9:
            raise ExpressionError(f"{expr!r} is implausibly large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_walk(node.operand, expr, cpu_count)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and node.args
        and not node.keywords
    ):
        return _FUNCS[node.func.id](_walk(a, expr, cpu_count) for a in node.args)
    raise ExpressionError(
        f"{expr!r} uses {type(node).__name__} {ast.unparse(node)!r}; allowed: {ALLOWED}"
    )
