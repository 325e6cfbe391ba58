"""filerate.expr: the safe evaluator of worker-count expressions."""

from __future__ import annotations

import pytest

from filerate.expr import ExpressionError, evaluate

REFUSED = [
    # calls to anything but min/max
    "__import__('os')",
    "__import__('os').system('true')",
    "open('x')",
    "eval('1')",
    "exec('1')",
    "abs(-1)",
    "len('ab')",
    "min()",
    "max()",
    "min(1, key=abs)",
    "min(*[1, 2])",
    "(lambda: 1)()",
    # attribute access, subscripts
    "cpu_count.real",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "cpu_count.bit_length()",
    "[1][0]",
    # names other than cpu_count
    "x",
    "cpu_counts",
    "os",
    "True",
    "None",
    # literals that are not ints
    "'abc'",
    "b'1'",
    "1.5",
    "1e3",
    "1j",
    "[1]",
    "(1, 2)",
    "{1: 2}",
    # other constructs
    "lambda: 1",
    "[x for x in (1,)]",
    "(x for x in (1,))",
    "cpu_count if 1 else 2",
    "cpu_count > 1",
    "cpu_count and 2",
    "(y := 3)",
    "~cpu_count",
    "+cpu_count",
    "not cpu_count",
    # operators outside + - * //
    "2**3",
    "cpu_count**2",
    "4/2",
    "cpu_count/2",
    "cpu_count % 3",
    "cpu_count << 2",
    "cpu_count | 1",
    "cpu_count @ 1",
    # division by zero, huge products
    "cpu_count//0",
    "1//(cpu_count-cpu_count)",
    "100000*100000",
    "-100000*100000",
    "cpu_count*999999999*999999999",
    "(1000*1000)*(1000*1000)",
    # empty, malformed, too long
    "",
    "   ",
    "cpu_count*",
    "cpu_count +* 2",
    "(cpu_count",
    "cpu_count; 1",
    "import os",
    "1 +" + "1+" * 100,
    "1" + "+1" * 100,  # 201 characters
]


@pytest.mark.parametrize("expr", REFUSED)
def test_refused(expr):
    with pytest.raises(ExpressionError):
        evaluate(expr, 4)


@pytest.mark.parametrize("value", [True, False, 1.5, None, b"1", ["cpu_count"], {"a": 1}])
def test_refused_non_expressions(value):
    with pytest.raises(ExpressionError):
        evaluate(value, 4)


def test_refusal_is_one_line_and_says_what_is_allowed():
    with pytest.raises(ExpressionError) as info:
        evaluate("__import__('os')", 4)
    msg = str(info.value)
    assert "\n" not in msg
    assert "__import__" in msg
    assert "cpu_count" in msg and "min()" in msg


def test_too_long_is_refused_before_parsing():
    long = "cpu_count+" * 30 + "1"
    assert len(long) > 200
    with pytest.raises(ExpressionError, match="longer than"):
        evaluate(long, 4)
    # just under the limit still works
    ok = "+".join(["1"] * 100)  # 199 characters
    assert len(ok) < 200
    assert evaluate(ok, 4) == 100


def test_is_an_expression_error_subclass_of_value_error():
    assert issubclass(ExpressionError, ValueError)


def test_never_calls_eval(monkeypatch):
    import builtins

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("eval called")

    monkeypatch.setattr(builtins, "eval", boom)
    assert evaluate("cpu_count*2+8", 3) == 14


PLAN = {
    "cpu_count*2+8": lambda c: c * 2 + 8,
    "cpu_count*4+16": lambda c: c * 4 + 16,
    "cpu_count*6+32": lambda c: c * 6 + 32,
    "max(1, cpu_count//2)": lambda c: max(1, c // 2),
    "min(cpu_count, 4)": lambda c: min(c, 4),
    "cpu_count": lambda c: c,
    " cpu_count * 2 ": lambda c: c * 2,
    "(cpu_count + 1) * 2": lambda c: (c + 1) * 2,
    "cpu_count - 1": lambda c: c - 1,
    "-cpu_count + 10": lambda c: 10 - c,
    "-(cpu_count)": lambda c: -c,
    "max(1, min(cpu_count, 8), 2)": lambda c: max(1, min(c, 8), 2),
    "min(cpu_count)": lambda c: c,
    "cpu_count // 3 * 3": lambda c: c // 3 * 3,
}


@pytest.mark.parametrize("cpus", [1, 2, 3, 8, 16, 64, 256])
@pytest.mark.parametrize("expr", list(PLAN))
def test_plan_expressions(expr, cpus):
    got = evaluate(expr, cpus)
    assert got == PLAN[expr](cpus)
    assert type(got) is int


def test_plain_ints_pass_through():
    assert evaluate(7, 2) == 7
    assert evaluate(0, 2) == 0
    assert evaluate(-3, 2) == -3  # range checks are the config's job
    assert evaluate("12", 2) == 12


def test_known_plan_values_for_16_cpus():
    # the plan's laptop: 16 threads
    assert evaluate("cpu_count*2+8", 16) == 40
    assert evaluate("cpu_count*4+16", 16) == 80
    assert evaluate("cpu_count*6+32", 16) == 128


def test_largest_allowed_product():
    assert evaluate("1000*1000000", 1) == 10**9
    with pytest.raises(ExpressionError, match="implausibly large"):
        evaluate("1000*1000001", 1)
