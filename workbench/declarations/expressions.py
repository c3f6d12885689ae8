"""Safe arithmetic expressions: parsed into a small tree, never executed as Python.

Only numbers, names, `+ - * /`, brackets and `min`/`max`/`abs` are accepted. Size and depth are
bounded before and while parsing (a 100,000-term expression is refused with a code, not a
RecursionError), so every later walk of the tree (evaluation, SQL translation) stays shallow.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.declarations.model import Expr
from workbench.declarations.vocabulary import (
    FUNCTIONS,
    MAX_EXPR_CHARS,
    MAX_EXPR_DEPTH,
    MAX_EXPR_NODES,
)

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class ExprLimitError(ValueError):
    """An expression over a size or depth limit; `code` is the issue code to report."""

    def __init__(self, code: str, limit: int) -> None:
        super().__init__(code)
        self.code, self.limit = code, limit


def _depth(node: ast.AST) -> int:
    """Nesting depth of a syntax tree, without recursion (the tree may be hostile)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_EXPR_DEPTH:
            return d
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(n))
    return deepest


def parse_expr(text: str) -> Expr:
    """Parse `a / (b + c)` into a nested tuple; raises ValueError on anything else
    (`ExprLimitError` when it is too long or too deep)."""
    source = str(text).strip()
    if len(source) > MAX_EXPR_CHARS:
        raise ExprLimitError("E_EXPR_TOO_LONG", MAX_EXPR_CHARS)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"syntax: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExprLimitError("E_EXPR_TOO_DEEP", MAX_EXPR_DEPTH) from None
    if _depth(tree) > MAX_EXPR_DEPTH:
        raise ExprLimitError("E_EXPR_TOO_DEEP", MAX_EXPR_DEPTH)
    if sum(1 for _ in ast.walk(tree)) > MAX_EXPR_NODES:
        raise ExprLimitError("E_EXPR_TOO_MANY_TERMS", MAX_EXPR_NODES)
    names: set[str] = set()

    def conv(node: ast.AST) -> tuple:
        if isinstance(node, ast.Expression):
            return conv(node.body)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        ):
            return ("num", float(node.value))
        if isinstance(node, ast.Name):
            names.add(node.id)
            return ("name", node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return ("bin", _BINOPS[type(node.op)], conv(node.left), conv(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = conv(node.operand)
            return ("neg", inner) if isinstance(node.op, ast.USub) else inner
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS
            and not node.keywords
            and node.args
        ):
            if node.func.id == "abs" and len(node.args) != 1:
                raise ValueError("abs takes one argument")
            return ("call", node.func.id, tuple(conv(a) for a in node.args))
        raise ValueError(f"forbidden: {type(node).__name__}")

    out = conv(tree)
    return Expr(source, out, frozenset(names))


def eval_expr(expr: Expr | tuple, env: Mapping[str, Any]) -> Any:
    """Evaluate on numpy arrays (or floats); x/0 gives NaN, never inf or an error."""
    node = expr.tree if isinstance(expr, Expr) else expr
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return env[node[1]]
    if kind == "neg":
        return -eval_expr(node[1], env)
    if kind == "bin":
        a, b = eval_expr(node[2], env), eval_expr(node[3], env)
        with np.errstate(divide="ignore", invalid="ignore"):
            if node[1] == "+":
                return np.add(a, b)
            if node[1] == "-":
                return np.subtract(a, b)
            if node[1] == "*":
                return np.multiply(a, b)
            bf = np.asarray(b, dtype="float64")
            res = np.divide(np.asarray(a, dtype="float64"), np.where(bf == 0, np.nan, bf))
            return res
    if kind == "call":
        args = [eval_expr(a, env) for a in node[2]]
        if node[1] == "abs":
            return np.abs(args[0])
        fn = np.minimum if node[1] == "min" else np.maximum
        out = args[0]
        for a in args[1:]:
            out = fn(out, a)
        return out
    raise ValueError(kind)
