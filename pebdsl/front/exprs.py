"""Expressions, numbers, strings and names printed canonically (the formatter's leaves).

Input: syntax nodes (`pebdsl.front.syntax`). Output: their canonical text, as `pebdsl fmt`
writes it (used by front/formatter.py and by `resolve/goals.py` to quote a goal). Raises
nothing.
"""

from __future__ import annotations

from pebdsl.front import syntax as s

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _number(n: s.Number) -> str:
    if n.text:
        return n.text
    v = n.value
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_expr(e: s.Expr) -> str:
    """One expression on one line (lists unwrapped)."""
    if isinstance(e, s.Number):
        return _number(e)
    if isinstance(e, s.Quantity):
        return f"{_number(e.number)} {e.unit.text}"
    if isinstance(e, s.String):
        return _string(e.value)
    if isinstance(e, s.Bool):
        return "true" if e.value else "false"
    if isinstance(e, s.DateTime):
        return e.text
    if isinstance(e, s.Ref):
        return str(e.path)
    if isinstance(e, s.List):
        inner = ", ".join(format_expr(i) for i in e.items)
        return f"[{inner}]" + (f" {e.unit.text}" if e.unit is not None else "")
    if isinstance(e, s.Daily):
        return "daily " + format_expr(e.values)
    if isinstance(e, s.ByScenario):
        inner = "; ".join(
            f"{a.name.value} = {format_expr(a.value)}"
            for a in e.body.items
            if isinstance(a, s.Attribute)
        )
        return f"by_scenario {{ {inner} }}" if inner else "by_scenario { }"
    if isinstance(e, s.Call):
        return f"{e.func.value}(" + ", ".join(_arg(a) for a in e.args) + ")"
    if isinstance(e, s.UnitValue):
        return e.unit.text
    if isinstance(e, s.BinOp):
        prec = _PREC.get(e.op, 2)
        left = format_expr(e.left)
        if isinstance(e.left, s.BinOp) and _PREC.get(e.left.op, 2) < prec:
            left = f"({left})"
        right = format_expr(e.right)
        if isinstance(e.right, s.BinOp) and _PREC.get(e.right.op, 2) <= prec:
            right = f"({right})"
        return f"{left} {e.op} {right}"
    if isinstance(e, s.Neg):
        inner = format_expr(e.operand)
        if isinstance(e.operand, s.BinOp):
            inner = f"({inner})"
        return "-" + inner
    if isinstance(e, s.Paren):
        return f"({format_expr(e.inner)})"
    raise TypeError(f"not an expression: {type(e).__name__}")  # pragma: no cover


def _arg(a: s.Arg) -> str:
    value = format_expr(a.value)
    return value if a.name is None else f"{a.name.value} = {value}"


def _decl_name(n: s.DeclName) -> str:
    if isinstance(n, s.RangeName):
        return f"{n.stem}[{n.first}..{n.last}]"
    return n.value


def _target(kind: str | None, path: s.Path) -> str:
    if kind == "link" and len(path.parts) == 2:
        return f"link {path.parts[0]} -- {path.parts[1]}"
    return (f"{kind} " if kind else "") + str(path)
