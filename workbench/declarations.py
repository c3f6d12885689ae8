"""Indicator declarations: YAML files → validated, frozen objects.

Policy lives in `indicators/*.yaml` (measures, indicators, targets, hierarchies, calendars), not in
code. Loading keeps each node's file and line; validation runs in passes and collects every issue
(level, stable code, Chinese message, file, line, how to fix) so a user fixes a file in one go.
Computation only ever sees the frozen dataclasses built here, never raw dicts, and nothing in a
declaration is executed: filters are `{field, op, value}` triples and expressions are parsed into
a tiny arithmetic tree.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from workbench.composite_methods import IMPUTERS, NORMALISERS, OPTIONS, STEP_KEYS, check_method
from workbench.contracts import LEDGERS
from workbench.messages import catalogue, t

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Vocabulary (method names, not policy numbers)
# ---------------------------------------------------------------------------------------------
AGGS = ("count", "sum", "distinct_count", "any", "months")
ROLLUPS = ("sum", "max", "last")
CITY_ROLLUPS = ("sum", "max", "distinct")
OPS = ("==", "!=", "in", "not_in", ">", ">=", "<", "<=", "is_null", "not_null")
TARGET_OPS = (">=", "<=", "==", ">", "<")
INDICATOR_TYPES = ("ratio", "share", "change", "count", "derived")
SPANS = ("month", "quarter", "ytd", "ctd", "r12")
PHASE_SPAN = "phase:"  # a milestone's span may be one calendar phase: phase:<code>
WEIGHTINGS = ("equal", "manual", "pca")
FUNCTIONS = ("min", "max", "abs")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")

KNOWN_KEYS = {
    "file": {
        "kind",
        "code",
        "name",
        "description",
        "source",
        "calendar",
        "include",
        "parameters",
        "measures",
        "indicators",
        "hierarchies",
        "grade_bands",
        "default_span",
        "campaign",
        "phases",
        "milestones",
        "projection",
        "version",
    },
    "parameter": {"value", "name", "unit", "description", "source"},
    "measure": {
        "ledger",
        "agg",
        "field",
        "expr",
        "where",
        "date",
        "join",
        "rollup",
        "city",
        "since",
        "done_by",
        "name",
        "description",
        "unit",
    },
    "indicator": {
        "type",
        "name",
        "description",
        "unit",
        "direction",
        "numerator",
        "denominator",
        "of",
        "baseline",
        "expr",
        "target",
        "span",
        "scale",
        "bounds",
        "source",
        "workbench_definition",
        "group",
        "note",
    },
    "target": {"op", "value", "relative", "baseline", "deadline", "source", "note"},
    "hierarchy": {
        "name",
        "description",
        "span",
        "weights",
        "method",
        "grade_bands",
        "tree",
        "source",
        "workbench_definition",
    },
    "node": {"code", "name", "weight", "children", "indicator", "target", "direction", "goalposts"},
    # `method:` keys are the composite catalogue's (composite_methods), checked by check_method
    "method": {*STEP_KEYS, *OPTIONS, "uncertainty_samples"},
    "denominator": {"indicator", "scale"},
    "phase": {"code", "name", "start", "end", "source"},
    "milestone": {"code", "name", "indicator", "op", "value", "deadline", "span", "source"},
    "campaign": {"start", "end", "name"},
    "join": {"ledger", "on"},
    "filter": {"field", "op", "value", "any", "all"},
    "band": {"min", "grade"},
    "projection": {"method", "min_points"},
}


# ---------------------------------------------------------------------------------------------
# Issues
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    """One problem in a declaration file; tests assert on (code, file, line), never wording."""

    level: str  # "error" | "warning"
    code: str
    message: str
    file: str
    line: int | None
    fix: str = ""
    path: str = ""

    def __str__(self) -> str:
        where = (
            t("ind.where", file=self.file, line=self.line)
            if self.line
            else t("ind.where_file", file=self.file)
        )
        head = t("ind.level." + self.level)
        text = f"[{head}] {self.code} {where}：{self.message}"
        return text + (f"（{t('ind.fix_prefix')}{self.fix}）" if self.fix else "")


class DeclarationError(Exception):
    """Raised when declarations have errors; `.issues` holds every one found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        errors = [i for i in self.issues if i.level == "error"]
        super().__init__(
            t("ind.declaration_errors", n=len(errors)) + "\n" + "\n".join(str(i) for i in errors)
        )


def _fill(key: str, values: Mapping[str, object]) -> str:
    """Format a catalogue message (values may include a placeholder called `key`)."""
    template = catalogue().get(key)
    if template is None:
        return ""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


class _Issues:
    def __init__(self) -> None:
        self.items: list[Issue] = []

    def add(
        self,
        level: str,
        code: str,
        file: str,
        line: int | None,
        path: str = "",
        /,
        **values: object,
    ) -> None:
        msg = _fill(f"ind.{code}", values) or code
        fix = _fill(f"ind.fix.{code}", values)
        self.items.append(Issue(level, code, msg, file, line, fix, path))

    def error(self, code: str, at: tuple[str, int | None], path: str = "", /, **v: object) -> None:
        self.add("error", code, at[0], at[1], path, **v)

    def warning(
        self, code: str, at: tuple[str, int | None], path: str = "", /, **v: object
    ) -> None:
        self.add("warning", code, at[0], at[1], path, **v)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.items if i.level == "error"]


# ---------------------------------------------------------------------------------------------
# YAML with line numbers
# ---------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A YAML value without line bookkeeping (mappings → dict, lists → list)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class LMap(dict):
    """A YAML mapping that remembers where it and each of its keys came from."""

    file: str = ""
    line: int | None = None
    key_lines: dict

    def at(self, key: str | None = None) -> tuple[str, int | None]:
        if key is not None and key in self.key_lines:
            return self.file, self.key_lines[key]
        return self.file, self.line


class LList(list):
    file: str = ""
    line: int | None = None
    item_lines: list

    def at(self, i: int | None = None) -> tuple[str, int | None]:
        if i is not None and 0 <= i < len(self.item_lines):
            return self.file, self.item_lines[i]
        return self.file, self.line


_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{k}"
    for k in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "merge")
}


def _located(node: Any, file: str, cons: SafeConstructor, issues: _Issues) -> Any:
    if node.tag not in _PLAIN_TAGS:
        # Explicit tags (e.g. !!python/object) are refused, never constructed.
        issues.error("E_YAML_TAG", (file, node.start_mark.line + 1), tag=node.tag)
        return None
    if isinstance(node, MappingNode):
        cons.flatten_mapping(node)
        out = LMap()
        out.file, out.line, out.key_lines = file, node.start_mark.line + 1, {}
        for k_node, v_node in node.value:
            line = k_node.start_mark.line + 1
            if not isinstance(k_node, ScalarNode):
                issues.error("E_YAML_KEY", (file, line))
                continue
            key = str(k_node.value)  # keys stay text: `on:` is not YAML 1.1's boolean here
            if key in out:
                issues.error("E_DUPLICATE_KEY", (file, line), key=key, first=out.key_lines.get(key))
                continue
            value = _located(v_node, file, cons, issues)
            if isinstance(value, (LMap, LList)):
                value.line = line  # a nested block is "at" the key that introduces it
            out[key] = value
            out.key_lines[key] = line
        return out
    if isinstance(node, SequenceNode):
        lst = LList(_located(n, file, cons, issues) for n in node.value)
        lst.file, lst.line = file, node.start_mark.line + 1
        lst.item_lines = [n.start_mark.line + 1 for n in node.value]
        return lst
    return cons.construct_object(node, deep=True)


# libyaml's parser when PyYAML has it (same nodes and marks, several times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, file: str, issues: _Issues) -> LMap | None:
    """Safe-load one YAML document keeping lines; a syntax error becomes an issue, not a crash."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        issues.error("E_YAML_SYNTAX", (file, line), problem=exc.problem or str(exc))
        return None
    except yaml.YAMLError as exc:
        issues.error("E_YAML_SYNTAX", (file, None), problem=str(exc))
        return None
    if node is None:
        issues.error("E_FILE_EMPTY", (file, 1))
        return None
    try:
        data = _located(node, file, SafeConstructor(), issues)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.error("E_YAML_SYNTAX", (file, mark.line + 1 if mark else None), problem=str(exc))
        return None
    if not isinstance(data, LMap):
        issues.error("E_NOT_MAPPING", (file, node.start_mark.line + 1), what=file)
        return None
    return data


# ---------------------------------------------------------------------------------------------
# Frozen objects
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamRef:
    """A `$name` reference, replaced by the parameter's value during validation."""

    name: str


@dataclass(frozen=True)
class Parameter:
    code: str
    value: Any
    name: str = ""
    unit: str = ""
    description: str = ""
    source: str = ""
    file: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Clause:
    """`field op value`; comparisons with a blank cell are false (SQL semantics)."""

    field: str
    op: str
    value: Any = None
    line: int | None = None


@dataclass(frozen=True)
class AnyOf:
    """At least one of the clauses holds."""

    clauses: tuple[Clause | AnyOf | AllOf, ...]
    line: int | None = None


@dataclass(frozen=True)
class AllOf:
    clauses: tuple[Clause | AnyOf | AllOf, ...]
    line: int | None = None


Condition = Clause | AnyOf | AllOf


def _spans_allowed(phases: Iterable[Phase] = ()) -> str:
    """The spans a declaration may name, each with its Chinese name (for E_BAD_SPAN)."""
    return "、".join(
        [
            *(f"{s}（{t(f'ind.span.{s}')}）" for s in SPANS),
            *(f"{PHASE_SPAN}{ph.code}（{t('ind.span.phase', name=ph.name)}）" for ph in phases),
        ]
    )


def clauses_of(conds: Iterable[Condition]) -> list[Clause]:
    """Every clause inside the conditions, any_of/all_of groups flattened."""
    out: list[Clause] = []
    for c in conds:
        if isinstance(c, Clause):
            out.append(c)
        else:
            out.extend(clauses_of(c.clauses))
    return out


@dataclass(frozen=True)
class Join:
    """Look up fields of another ledger by key (e.g. an inspection's institution)."""

    ledger: str
    on: str


@dataclass(frozen=True)
class Expr:
    """A parsed arithmetic expression: numbers, names, + - * /, min/max/abs."""

    text: str
    tree: tuple
    names: frozenset[str]


@dataclass(frozen=True)
class Measure:
    """A count/sum/distinct count of ledger rows per county × month (or a stock per county)."""

    code: str
    agg: str
    ledger: str | None = None
    field: str | None = None
    expr: Expr | None = None
    where: tuple[Condition, ...] = ()
    date: str | None = None
    join: Join | None = None
    rollup: str = "sum"
    city: str = ""  # sum | max | distinct; blank: distinct for a dated distinct count, else sum
    since: str | None = None  # YYYY-MM, for `months`
    done_by: str | None = None  # a date field: a row counts in a window only once done by its end
    name: str = ""
    description: str = ""
    unit: str = ""
    file: str = ""
    line: int | None = None
    key_lines: Mapping[str, int] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not self.city:
            object.__setattr__(
                self,
                "city",
                "distinct" if self.agg == "distinct_count" and self.date is not None else "sum",
            )

    def at(self, key: str | None = None) -> tuple[str, int | None]:
        """File and line of the measure, or of one of its keys."""
        return self.file, self.key_lines.get(key, self.line) if key else self.line

    @property
    def is_stock(self) -> bool:
        """Undated ledgers (名录) give a level per county (per year), not a monthly flow."""
        return self.agg != "months" and self.date is None

    def fields_used(self) -> dict[str, frozenset[str]]:
        """Ledger → the names this measure reads there: its field or expression names, its
        date and filter fields; a joined `ledger.field` also reads the join key on both sides.
        Expression names may be parameters rather than fields (callers keep known fields)."""
        if self.ledger is None:
            return {}
        names = [
            self.field,
            self.date,
            self.done_by,
            *(sorted(self.expr.names) if self.expr else ()),
            *(c.field for c in clauses_of(self.where)),
        ]
        own: set[str] = set()
        joined: set[str] = set()
        for name in names:
            if name is None:
                continue
            if "." in name:
                joined.add(name.split(".", 1)[1])
            else:
                own.add(name)
        out = {self.ledger: own}
        if self.join is not None:
            own.add(self.join.on)
            out.setdefault(self.join.ledger, set()).update(joined | {self.join.on})
        return {k: frozenset(v) for k, v in out.items()}


@dataclass(frozen=True)
class Baseline:
    kind: str  # "previous_year" | "year"
    year: int | None = None

    @property
    def key(self) -> str:
        return "previous_year" if self.kind == "previous_year" else f"year:{self.year}"


@dataclass(frozen=True)
class Target:
    op: str
    value: float | None = None
    relative: float | None = None
    baseline: Baseline | None = None
    deadline: dt.date | None = None
    source: str = ""
    note: str = ""

    @property
    def is_relative(self) -> bool:
        return self.relative is not None


@dataclass(frozen=True)
class Indicator:
    code: str
    type: str
    name: str
    description: str = ""
    unit: str = ""
    direction: int = 1
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    of: str | None = None
    baseline: Baseline | None = None
    expr: Expr | None = None
    target: Target | None = None
    span: str | None = None
    scale: float = 1.0
    bounds: tuple[float | None, float | None] | None = None
    source: str = ""
    workbench_definition: bool = False
    group: str = ""
    note: str = ""
    file: str = ""
    line: int | None = None
    key_lines: Mapping[str, int] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def at(self, key: str | None = None) -> tuple[str, int | None]:
        """File and line of the indicator, or of one of its keys."""
        return self.file, self.key_lines.get(key, self.line) if key else self.line

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Other indicators this one is computed from."""
        if self.type == "change" and self.of:
            return (self.of,)
        if self.type == "derived" and self.expr:
            return tuple(sorted(self.expr.names))
        return ()


@dataclass(frozen=True)
class HierarchyNode:
    code: str
    name: str
    parent: str | None
    level: int
    weight: float | None = None
    indicator: str | None = None
    direction: int | None = None
    target: float | None = None
    goalposts: tuple[float, float] | None = None
    line: int | None = None


@dataclass(frozen=True)
class Denominator:
    indicator: str
    scale: float = 1.0
    line: int | None = None


@dataclass(frozen=True)
class Method:
    """A hierarchy's `method:`; `options` holds every other catalogue option that was set
    (composite_methods.OPTIONS), `denominate` leaf node → denominator indicator."""

    impute: str = "none"
    treat: bool = False
    normalise: str = "minmax"
    aggregate: str | Mapping[int, str] = "arithmetic"
    uncertainty_samples: int | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    denominate: Mapping[str, Denominator] = field(default_factory=lambda: MappingProxyType({}))
    lines: Mapping[str, int | None] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class GradeBand:
    min: float
    grade: str


@dataclass(frozen=True)
class HierarchyDecl:
    code: str
    name: str
    nodes: tuple[HierarchyNode, ...]
    span: str = "ytd"
    weights: str = "equal"
    method: Method = Method()
    grade_bands: tuple[GradeBand, ...] = ()
    description: str = ""
    source: str = ""
    workbench_definition: bool = False
    file: str = ""
    line: int | None = None

    @property
    def indicators(self) -> tuple[str, ...]:
        return tuple(n.indicator for n in self.nodes if n.indicator)


@dataclass(frozen=True)
class Phase:
    code: str
    name: str
    start: dt.date
    end: dt.date
    source: str = ""


@dataclass(frozen=True)
class Milestone:
    code: str
    name: str
    indicator: str
    op: str
    value: float
    deadline: dt.date
    span: str = "ctd"
    source: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Calendar:
    code: str
    name: str
    start: dt.date
    end: dt.date
    phases: tuple[Phase, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    projection_method: str = "linear"
    projection_min_points: int = 2
    source: str = ""
    file: str = ""

    def phase_of(self, day: dt.date) -> Phase | None:
        for ph in self.phases:
            if ph.start <= day <= ph.end:
                return ph
        return None


@dataclass(frozen=True)
class IndicatorSet:
    """Everything needed to compute one indicator system; immutable once validated."""

    code: str
    name: str
    parameters: Mapping[str, Parameter]
    measures: Mapping[str, Measure]
    indicators: Mapping[str, Indicator]
    hierarchies: Mapping[str, HierarchyDecl]
    calendar: Calendar | None = None
    grade_bands: tuple[GradeBand, ...] = ()
    default_span: str = "ytd"
    description: str = ""
    source: str = ""
    files: tuple[str, ...] = ()
    warnings: tuple[Issue, ...] = ()

    def indicator(self, code: str) -> Indicator:
        return self.indicators[code]

    def order(self) -> list[str]:
        """Indicator codes in dependency order (inputs before what is derived from them)."""
        done: list[str] = []
        seen: set[str] = set()

        def visit(code: str) -> None:
            if code in seen:
                return
            seen.add(code)
            for dep in self.indicators[code].depends_on:
                visit(dep)
            done.append(code)

        for code in self.indicators:
            visit(code)
        return done

    def param(self, code: str) -> Any:
        return self.parameters[code].value


# ---------------------------------------------------------------------------------------------
# Safe expressions
# ---------------------------------------------------------------------------------------------
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def parse_expr(text: str) -> Expr:
    """Parse `a / (b + c)` into a nested tuple; raises ValueError on anything else."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"syntax: {exc.msg}") from None
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
    return Expr(str(text).strip(), out, frozenset(names))


def eval_expr(expr: Expr | tuple, env: Mapping[str, Any]) -> Any:
    """Evaluate on numpy arrays (or floats); x/0 gives NaN, never inf or an error."""
    import numpy as np

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


# ---------------------------------------------------------------------------------------------
# Pass 2: shape — raw located YAML → draft frozen objects
# ---------------------------------------------------------------------------------------------
@dataclass
class _FileDecl:
    path: Path
    kind: str
    code: str
    data: LMap
    parameters: dict[str, Parameter] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    hierarchies: dict[str, HierarchyDecl] = field(default_factory=dict)
    grade_bands: tuple[GradeBand, ...] = ()
    includes: list[tuple[str, int | None]] = field(default_factory=list)
    calendar_ref: tuple[str, int | None] | None = None
    calendar: Calendar | None = None
    default_span: str = "ytd"


class _Shaper:
    """Reads one file's located dicts into draft objects, reporting shape problems."""

    def __init__(self, issues: _Issues) -> None:
        self.issues = issues

    # -- small helpers ------------------------------------------------------------------------
    def unknown_keys(self, m: LMap, kind: str, path: str) -> None:
        for key in m:
            if key not in KNOWN_KEYS[kind]:
                self.issues.warning(
                    "W_UNKNOWN_KEY",
                    m.at(key),
                    path,
                    key=key,
                    allowed="、".join(sorted(KNOWN_KEYS[kind])),
                )

    def mapping(self, value: Any, at: tuple[str, int | None], path: str) -> LMap | None:
        if isinstance(value, LMap):
            return value
        self.issues.error("E_NOT_MAPPING", at, path, what=path)
        return None

    def text(
        self, m: LMap, key: str, path: str, required: bool = False, code: str = "E_MISSING_KEY"
    ) -> str:
        if key not in m or m[key] is None:
            if required:
                self.issues.error(code, m.at(), path, key=key, what=path)
            return ""
        v = m[key]
        if isinstance(v, (LMap, LList)):
            self.issues.error("E_TYPE", m.at(key), path, key=key, expected=t("ind.type.text"))
            return ""
        return str(v)

    def number(
        self, m: LMap, key: str, path: str, allow_param: bool = True, required: bool = False
    ) -> float | ParamRef | None:
        if key not in m or m[key] is None:
            if required:
                self.issues.error("E_MISSING_KEY", m.at(), path, key=key, what=path)
            return None
        v = m[key]
        ref = _param_ref(v) if allow_param else None
        if ref:
            return ref
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            v2 = _percent(v)
            if v2 is None:
                self.issues.error("E_TYPE", m.at(key), path, key=key, expected=t("ind.type.number"))
                return None
            return v2
        return float(v)

    def date(self, m: LMap, key: str, path: str, required: bool = False) -> dt.date | None:
        if key not in m or m[key] is None:
            if required:
                self.issues.error("E_MISSING_KEY", m.at(), path, key=key, what=path)
            return None
        v = m[key]
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            self.issues.error("E_BAD_DATE", m.at(key), path, key=key, value=v)
            return None

    def code_ok(self, code: str, at: tuple[str, int | None], path: str) -> bool:
        if not _ID_RE.match(code):
            self.issues.error("E_BAD_CODE", at, path, code=code)
            return False
        return True

    def names(self, v: Any, at: tuple[str, int | None], path: str, key: str) -> tuple[str, ...]:
        """A measure name or a list of them (summed)."""
        if isinstance(v, str):
            return (v,)
        if isinstance(v, LList) and v and all(isinstance(x, str) for x in v):
            return tuple(v)
        self.issues.error("E_TYPE", at, path, key=key, expected=t("ind.type.names"))
        return ()

    # -- sections -------------------------------------------------------------------------------
    def file(self, path: Path, data: LMap) -> _FileDecl | None:
        fname = data.file
        kind = self.text(data, "kind", fname, required=True)
        code = self.text(data, "code", fname, required=True)
        self.unknown_keys(data, "file", fname)
        if kind not in ("indicator_set", "calendar"):
            if kind:
                self.issues.error("E_BAD_KIND", data.at("kind"), fname, kind=kind)
            return None
        if code and not self.code_ok(code, data.at("code"), fname):
            code = ""
        if not code:
            return None
        decl = _FileDecl(path, kind, code, data)
        if kind == "calendar":
            decl.calendar = self.calendar(data, code)
            return decl
        if "include" in data:
            inc = data["include"]
            if isinstance(inc, str):
                decl.includes.append((inc, data.at("include")[1]))
            elif isinstance(inc, LList):
                decl.includes.extend((str(x), inc.at(i)[1]) for i, x in enumerate(inc))
            else:
                self.issues.error(
                    "E_TYPE", data.at("include"), fname, key="include", expected=t("ind.type.names")
                )
        if data.get("calendar") is not None:
            decl.calendar_ref = (str(data["calendar"]), data.at("calendar")[1])
        span = self.text(data, "default_span", fname) or "ytd"
        if span not in SPANS:
            self.issues.error(
                "E_BAD_SPAN", data.at("default_span"), fname, span=span, allowed=_spans_allowed()
            )
            span = "ytd"
        decl.default_span = span
        for key, fn, target in (
            ("parameters", self.parameter, decl.parameters),
            ("measures", self.measure, decl.measures),
            ("indicators", self.indicator, decl.indicators),
            ("hierarchies", self.hierarchy, decl.hierarchies),
        ):
            if key not in data or data[key] is None:
                continue
            section = self.mapping(data[key], data.at(key), key)
            if section is None:
                continue
            for item_code, body in section.items():
                at = section.at(item_code)
                p = f"{key}.{item_code}"
                if not self.code_ok(item_code, at, p):
                    continue
                obj = fn(item_code, body, at, p)
                if obj is not None:
                    target[item_code] = obj
        if "grade_bands" in data:
            decl.grade_bands = self.grade_bands(
                data["grade_bands"], data.at("grade_bands"), "grade_bands"
            )
        return decl

    def parameter(self, code: str, body: Any, at: tuple, path: str) -> Parameter | None:
        if not isinstance(body, LMap):
            body_map = LMap({"value": body})
            body_map.file, body_map.line, body_map.key_lines = at[0], at[1], {"value": at[1]}
            body = body_map
        self.unknown_keys(body, "parameter", path)
        if "value" not in body:
            self.issues.error("E_MISSING_KEY", at, path, key="value", what=path)
            return None
        if isinstance(body["value"], (LMap, LList)) or body["value"] is None:
            self.issues.error(
                "E_TYPE", body.at("value"), path, key="value", expected=t("ind.type.scalar")
            )
            return None
        return Parameter(
            code,
            body["value"],
            self.text(body, "name", path),
            self.text(body, "unit", path),
            self.text(body, "description", path),
            self.text(body, "source", path),
            at[0],
            at[1],
        )

    def condition(self, item: Any, at: tuple, path: str) -> Condition | None:
        if not isinstance(item, LMap):
            self.issues.error("E_BAD_FILTER", at, path)
            return None
        self.unknown_keys(item, "filter", path)
        for group_key, cls in (("any", AnyOf), ("all", AllOf)):
            if group_key in item:
                sub = item[group_key]
                if not isinstance(sub, LList) or not sub:
                    self.issues.error("E_BAD_FILTER", item.at(group_key), path)
                    return None
                parts = [
                    self.condition(x, sub.at(i), f"{path}.{group_key}[{i}]")
                    for i, x in enumerate(sub)
                ]
                if any(p is None for p in parts):
                    return None
                return cls(tuple(parts), item.line)  # type: ignore[arg-type]
        fld = self.text(item, "field", path, required=True)
        op = self.text(item, "op", path, required=True)
        if not fld or not op:
            return None
        if op not in OPS:
            self.issues.error("E_BAD_OP", item.at("op"), path, op=op, allowed=" ".join(OPS))
            return None
        if op in ("is_null", "not_null"):
            return Clause(fld, op, None, item.line)
        if "value" not in item:
            self.issues.error("E_MISSING_KEY", item.at(), path, key="value", what=path)
            return None
        value = item["value"]
        if op in ("in", "not_in"):
            if not isinstance(value, LList):
                self.issues.error(
                    "E_TYPE", item.at("value"), path, key="value", expected=t("ind.type.list")
                )
                return None
            value = tuple(_param_ref(v) or v for v in value)
        elif isinstance(value, (LMap, LList)):
            self.issues.error(
                "E_TYPE", item.at("value"), path, key="value", expected=t("ind.type.scalar")
            )
            return None
        else:
            value = _param_ref(value) or value
        return Clause(fld, op, value, item.line)

    def measure(self, code: str, body: Any, at: tuple, path: str) -> Measure | None:
        m = self.mapping(body, at, path)
        if m is None:
            return None
        self.unknown_keys(m, "measure", path)
        agg = self.text(m, "agg", path, required=True)
        if agg and agg not in AGGS:
            self.issues.error("E_BAD_AGG", m.at("agg"), path, agg=agg, allowed="、".join(AGGS))
            return None
        if not agg:
            return None
        ledger = self.text(m, "ledger", path, required=agg != "months") or None
        if agg != "months" and not ledger:
            return None
        fld = self.text(m, "field", path) or None
        expr = None
        if "expr" in m:
            try:
                expr = parse_expr(str(m["expr"]))
            except ValueError as exc:
                self.issues.error(
                    "E_BAD_EXPR", m.at("expr"), path, expr=m["expr"], problem=str(exc)
                )
                return None
        if agg in ("sum", "distinct_count") and not fld and not expr:
            self.issues.error("E_MEASURE_NO_FIELD", m.at(), path, agg=agg)
            return None
        where: list[Condition] = []
        if "where" in m and m["where"] is not None:
            w = m["where"]
            if not isinstance(w, LList):
                self.issues.error("E_BAD_FILTER", m.at("where"), path)
                return None
            for i, item in enumerate(w):
                c = self.condition(item, w.at(i), f"{path}.where[{i}]")
                if c is None:
                    return None
                where.append(c)
        join = None
        if "join" in m:
            j = self.mapping(m["join"], m.at("join"), f"{path}.join")
            if j is None:
                return None
            self.unknown_keys(j, "join", f"{path}.join")
            jl, jon = self.text(j, "ledger", path, True), self.text(j, "on", path, True)
            if not jl or not jon:
                return None
            join = Join(jl, jon)
        date: str | None
        if "date" in m:
            date = None if m["date"] is None else str(m["date"])
        elif ledger and ledger in LEDGERS:
            date = LEDGERS[ledger].date_field
        else:
            date = None
        # A dated distinct count's city figure counts each value once however many counties
        # report it; `city: sum` adds the counties' counts instead.
        dated_distinct = agg == "distinct_count" and date is not None
        rollup = self.text(m, "rollup", path) or "sum"
        city = self.text(m, "city", path) or ""  # Measure picks distinct or sum
        cities = (
            CITY_ROLLUPS if dated_distinct else tuple(c for c in CITY_ROLLUPS if c != "distinct")
        )
        for key, val, allowed in (("rollup", rollup, ROLLUPS), ("city", city, cities)):
            if val and val not in allowed:
                self.issues.error(
                    "E_BAD_ROLLUP", m.at(key), path, value=val, allowed="、".join(allowed)
                )
                return None
        since = None
        if "since" in m and m["since"] is not None:
            since = _month_text(m["since"])
            if since is None:
                self.issues.error("E_BAD_DATE", m.at("since"), path, key="since", value=m["since"])
        done_by = self.text(m, "done_by", path) or None
        if done_by is not None and (agg not in ("count", "sum") or date is None or rollup != "sum"):
            self.issues.error("E_DONE_BY", m.at("done_by"), path)
            return None
        return Measure(
            code,
            agg,
            ledger,
            fld,
            expr,
            tuple(where),
            date,
            join,
            rollup,
            city,
            since,
            done_by,
            self.text(m, "name", path),
            self.text(m, "description", path),
            self.text(m, "unit", path),
            at[0],
            at[1],
            MappingProxyType(dict(m.key_lines)),
        )

    def baseline(self, v: Any, at: tuple, path: str) -> Baseline | ParamRef | None:
        if v == "previous_year":
            return Baseline("previous_year")
        if isinstance(v, LMap) and "year" in v:
            y = v["year"]
            ref = _param_ref(y)
            if ref:
                return Baseline("year", ref)  # type: ignore[arg-type]
            if isinstance(y, int) and not isinstance(y, bool):
                return Baseline("year", y)
        self.issues.error("E_BAD_BASELINE", at, path, value=v)
        return None

    def target(self, v: Any, at: tuple, path: str) -> Target | None:
        m = self.mapping(v, at, path)
        if m is None:
            return None
        self.unknown_keys(m, "target", path)
        op = self.text(m, "op", path) or ">="
        if op not in TARGET_OPS:
            self.issues.error(
                "E_BAD_TARGET_OP", m.at("op"), path, op=op, allowed=" ".join(TARGET_OPS)
            )
            return None
        value = self.number(m, "value", path)
        relative = self.number(m, "relative", path)
        if (value is None) == (relative is None):
            self.issues.error("E_BAD_TARGET", m.at(), path)
            return None
        baseline = None
        if relative is not None:
            if "baseline" not in m:
                self.issues.error("E_MISSING_KEY", m.at(), path, key="baseline", what=path)
                return None
            baseline = self.baseline(m["baseline"], m.at("baseline"), path)
            if baseline is None:
                return None
        return Target(
            op,
            value,
            relative,
            baseline,  # type: ignore[arg-type]
            self.date(m, "deadline", path),
            self.text(m, "source", path),
            self.text(m, "note", path),
        )

    def indicator(self, code: str, body: Any, at: tuple, path: str) -> Indicator | None:
        m = self.mapping(body, at, path)
        if m is None:
            return None
        self.unknown_keys(m, "indicator", path)
        typ = self.text(m, "type", path, required=True)
        if typ and typ not in INDICATOR_TYPES:
            self.issues.error(
                "E_BAD_INDICATOR_TYPE",
                m.at("type"),
                path,
                type=typ,
                allowed="、".join(INDICATOR_TYPES),
            )
            return None
        if not typ:
            return None
        name = self.text(m, "name", path, required=True)
        num: tuple[str, ...] = ()
        den: tuple[str, ...] = ()
        of = None
        baseline = None
        expr = None
        ok = True
        if typ in ("ratio", "share", "count"):
            if "numerator" not in m:
                self.issues.error("E_NO_NUMERATOR", m.at(), path, type=typ)
                ok = False
            else:
                num = self.names(m["numerator"], m.at("numerator"), path, "numerator")
                ok = ok and bool(num)
        if typ in ("ratio", "share"):
            if "denominator" not in m or m["denominator"] is None:
                self.issues.error("E_NO_DENOMINATOR", m.at(), path, type=typ)
                ok = False
            else:
                den = self.names(m["denominator"], m.at("denominator"), path, "denominator")
                ok = ok and bool(den)
        if typ == "change":
            of = self.text(m, "of", path, required=True, code="E_CHANGE_NO_OF") or None
            if "baseline" not in m:
                self.issues.error("E_MISSING_KEY", m.at(), path, key="baseline", what=path)
                ok = False
            else:
                baseline = self.baseline(m["baseline"], m.at("baseline"), path)
            ok = ok and of is not None and baseline is not None
        if typ == "derived":
            if "expr" not in m:
                self.issues.error("E_DERIVED_NO_EXPR", m.at(), path)
                ok = False
            else:
                try:
                    expr = parse_expr(str(m["expr"]))
                except ValueError as exc:
                    self.issues.error(
                        "E_BAD_EXPR", m.at("expr"), path, expr=m["expr"], problem=str(exc)
                    )
                    ok = False
        direction = m.get("direction", 1)
        if direction not in (1, -1) or isinstance(direction, bool):
            self.issues.error("E_BAD_DIRECTION", m.at("direction"), path, value=direction)
            ok = False
        target = None
        if m.get("target") is not None:
            target = self.target(m["target"], m.at("target"), f"{path}.target")
            ok = ok and target is not None
        span = self.text(m, "span", path) or None
        if span and span not in SPANS:
            self.issues.error("E_BAD_SPAN", m.at("span"), path, span=span, allowed=_spans_allowed())
            ok = False
        scale = self.number(m, "scale", path, allow_param=False)
        bounds = None
        if m.get("bounds") is not None:
            b = m["bounds"]
            if (
                isinstance(b, LList)
                and len(b) == 2
                and all(
                    x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))
                    for x in b
                )
            ):
                bounds = (
                    None if b[0] is None else float(b[0]),
                    None if b[1] is None else float(b[1]),
                )
            else:
                self.issues.error(
                    "E_TYPE", m.at("bounds"), path, key="bounds", expected=t("ind.type.bounds")
                )
        elif typ == "share":
            bounds = (0.0, 1.0)
        wd = m.get("workbench_definition", False)
        if not isinstance(wd, bool):
            self.issues.error(
                "E_TYPE",
                m.at("workbench_definition"),
                path,
                key="workbench_definition",
                expected=t("ind.type.bool"),
            )
            wd = False
        if not ok:
            return None
        return Indicator(
            code,
            typ,
            name,
            self.text(m, "description", path),
            self.text(m, "unit", path),
            int(direction),
            num,
            den,
            of,
            baseline,
            expr,
            target,
            span,
            float(scale) if scale is not None else 1.0,
            bounds,
            self.text(m, "source", path),
            wd,
            self.text(m, "group", path),
            self.text(m, "note", path),
            at[0],
            at[1],
            MappingProxyType(dict(m.key_lines)),
        )

    def grade_bands(self, v: Any, at: tuple, path: str) -> tuple[GradeBand, ...]:
        if not isinstance(v, LList) or not v:
            self.issues.error("E_BAD_GRADE_BANDS", at, path)
            return ()
        out: list[GradeBand] = []
        for i, item in enumerate(v):
            if not isinstance(item, LMap) or "grade" not in item:
                self.issues.error("E_BAD_GRADE_BANDS", v.at(i), path)
                return ()
            self.unknown_keys(item, "band", path)
            lo = item.get("min")
            if lo is None or lo == "-inf":
                lo_f = -math.inf
            elif isinstance(lo, (int, float)) and not isinstance(lo, bool):
                lo_f = float(lo)
            else:
                self.issues.error("E_BAD_GRADE_BANDS", item.at("min"), path)
                return ()
            out.append(GradeBand(lo_f, str(item["grade"])))
        mins = [b.min for b in out]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            self.issues.error("E_GRADE_BANDS_ORDER", at, path)
            return ()
        return tuple(out)

    def method(self, v: Any, at: tuple, path: str) -> Method | None:
        """Every key is checked against the composite catalogue: an unknown key, a bad method
        name or value, or an option no chosen method reads is an error with its line."""
        m = self.mapping(v, at, path)
        if m is None:
            return None
        spec = {k: _plain(x) for k, x in m.items() if k not in ("denominate",)}
        problems = check_method(spec, extra_keys=("uncertainty_samples", "denominate"))
        for problem in problems:
            code = {
                "E_UNKNOWN_METHOD_KEY": "E_UNKNOWN_METHOD_KEY",
                "E_OPTION_NOT_USED": "E_METHOD_OPTION_NOT_USED",
            }.get(problem.code, "E_BAD_METHOD_VALUE")
            self.issues.error(
                code,
                m.at(problem.key),
                path,
                message=t(f"composite.{problem.code}", **problem.values),
            )
        samples = m.get("uncertainty_samples")
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)):
            self.issues.error(
                "E_TYPE",
                m.at("uncertainty_samples"),
                path,
                key="uncertainty_samples",
                expected=t("ind.type.number"),
            )
            return None
        denominate = (
            self.denominate(m["denominate"], m.at("denominate"), path)
            if m.get("denominate")
            else {}
        )
        impute = str(m.get("impute", "none"))
        if impute in IMPUTERS and "groups" in IMPUTERS[impute].needs and "impute_group" not in m:
            self.issues.error(
                "E_BAD_METHOD_VALUE",
                m.at("impute"),
                path,
                message=t("composite.E_NO_IMPUTE_GROUP", method=impute),
            )
            return None
        if problems or denominate is None:
            return None
        agg = m.get("aggregate", "arithmetic")
        return Method(
            impute=str(m.get("impute", "none")),
            treat=bool(m.get("treat", False)),
            normalise=str(m.get("normalise", "minmax")),
            aggregate=(
                MappingProxyType({int(k): str(x) for k, x in agg.items()})
                if isinstance(agg, LMap)
                else str(agg)
            ),
            uncertainty_samples=None if samples is None else int(samples),
            options=MappingProxyType({k: x for k, x in spec.items() if k in OPTIONS}),
            lines=MappingProxyType({str(k): m.at(k)[1] for k in m}),
            denominate=MappingProxyType(denominate),
        )

    def denominate(self, v: Any, at: tuple, path: str) -> dict[str, Denominator] | None:
        """`denominate: {leaf: indicator}` or `{leaf: {indicator: code, scale: 10000}}`."""
        m = self.mapping(v, at, f"{path}.denominate")
        if m is None:
            return None
        out: dict[str, Denominator] = {}
        for leaf, spec in m.items():
            if isinstance(spec, str):
                out[str(leaf)] = Denominator(spec, 1.0, m.at(leaf)[1])
                continue
            d = self.mapping(spec, m.at(leaf), f"{path}.denominate.{leaf}")
            if d is None:
                return None
            self.unknown_keys(d, "denominator", f"{path}.denominate.{leaf}")
            indicator = self.text(d, "indicator", f"{path}.denominate.{leaf}", required=True)
            scale = self.number(d, "scale", f"{path}.denominate.{leaf}", allow_param=False)
            if not indicator or (scale is not None and not scale > 0):
                if scale is not None and not scale > 0:
                    self.issues.error(
                        "E_BAD_METHOD_VALUE",
                        d.at("scale"),
                        path,
                        message=t("composite.E_BAD_RANGE", field="scale", value=scale, rule="> 0"),
                    )
                return None
            out[str(leaf)] = Denominator(
                indicator, 1.0 if scale is None else float(scale), m.at(leaf)[1]
            )
        return out

    def hierarchy(self, code: str, body: Any, at: tuple, path: str) -> HierarchyDecl | None:
        m = self.mapping(body, at, path)
        if m is None:
            return None
        self.unknown_keys(m, "hierarchy", path)
        name = self.text(m, "name", path, required=True)
        weights = self.text(m, "weights", path) or "equal"
        if weights not in WEIGHTINGS:
            self.issues.error(
                "E_BAD_WEIGHTS", m.at("weights"), path, value=weights, allowed="、".join(WEIGHTINGS)
            )
            return None
        span = self.text(m, "span", path) or "ytd"
        if span not in SPANS:
            self.issues.error("E_BAD_SPAN", m.at("span"), path, span=span, allowed=_spans_allowed())
            return None
        method = Method()
        if m.get("method") is not None:
            got = self.method(m["method"], m.at("method"), f"{path}.method")
            if got is None:
                return None
            method = got
        bands: tuple[GradeBand, ...] = ()
        if m.get("grade_bands") is not None:
            bands = self.grade_bands(m["grade_bands"], m.at("grade_bands"), path)
        if "tree" not in m or not isinstance(m["tree"], LList) or not m["tree"]:
            self.issues.error("E_HIERARCHY_NO_TREE", m.at("tree") if "tree" in m else m.at(), path)
            return None
        raw: list[tuple[LMap, str | None, int, int | None]] = []  # (node, parent, depth, line)

        def walk(items: LList, parent: str | None, depth: int, p: str) -> bool:
            ok = True
            for i, item in enumerate(items):
                if not isinstance(item, LMap):
                    self.issues.error("E_NOT_MAPPING", items.at(i), p, what=p)
                    ok = False
                    continue
                self.unknown_keys(item, "node", p)
                raw.append((item, parent, depth, item.line))
                if "children" in item:
                    kids = item["children"]
                    if not isinstance(kids, LList) or not kids:
                        self.issues.error("E_HIERARCHY_NO_TREE", item.at("children"), p)
                        ok = False
                        continue
                    if "indicator" in item:
                        self.issues.error("E_HIERARCHY_LEAF_CHILDREN", item.at("indicator"), p)
                        ok = False
                    node_code = str(item.get("code", ""))
                    ok = walk(kids, node_code, depth + 1, f"{p}.{node_code}") and ok
            return ok

        if not walk(m["tree"], code, 1, path):
            return None
        leaf_depths = {d for (n, _, d, _) in raw if "children" not in n}
        if len(leaf_depths) > 1:
            self.issues.error(
                "E_HIERARCHY_DEPTH",
                m.at("tree"),
                path,
                depths="、".join(str(d) for d in sorted(leaf_depths)),
            )
            return None
        depth = leaf_depths.pop()
        nodes: list[HierarchyNode] = [HierarchyNode(code, name, None, depth + 1, None, line=at[1])]
        seen = {code}
        ok = True
        for item, parent, d, line in raw:
            leaf = "children" not in item
            ind = str(item["indicator"]) if leaf and "indicator" in item else None
            if leaf and ind is None:
                self.issues.error("E_HIERARCHY_LEAF_NO_INDICATOR", (item.file, line), path)
                ok = False
                continue
            ncode = str(item.get("code") or ind or "")
            if not leaf and not item.get("code"):
                self.issues.error("E_MISSING_KEY", (item.file, line), path, key="code", what=path)
                ok = False
                continue
            if ncode in seen:
                self.issues.error("E_DUPLICATE_NODE", (item.file, line), path, code=ncode)
                ok = False
                continue
            seen.add(ncode)
            w = item.get("weight")
            if w is None and weights == "manual":
                self.issues.error("E_WEIGHT_MISSING", (item.file, line), path, code=ncode)
                ok = False
                continue
            if w is not None and (
                isinstance(w, bool)
                or not isinstance(w, (int, float))
                or w < 0
                or not math.isfinite(float(w))
            ):
                self.issues.error("E_BAD_WEIGHT", item.at("weight"), path, code=ncode, value=w)
                ok = False
                continue
            direction = item.get("direction")
            if direction is not None and direction not in (1, -1):
                self.issues.error("E_BAD_DIRECTION", item.at("direction"), path, value=direction)
                ok = False
                continue
            tgt = item.get("target")
            if tgt is not None and (isinstance(tgt, bool) or not isinstance(tgt, (int, float))):
                self.issues.error(
                    "E_TYPE", item.at("target"), path, key="target", expected=t("ind.type.number")
                )
                ok = False
                continue
            goal = item.get("goalposts")
            if goal is not None:
                if not (
                    isinstance(goal, LList)
                    and len(goal) == 2
                    and all(isinstance(g, (int, float)) and not isinstance(g, bool) for g in goal)
                    and goal[0] != goal[1]
                ):
                    self.issues.error(
                        "E_TYPE",
                        item.at("goalposts"),
                        path,
                        key="goalposts",
                        expected=t("ind.type.bounds"),
                    )
                    ok = False
                    continue
                goal = (float(goal[0]), float(goal[1]))
            nodes.append(
                HierarchyNode(
                    ncode,
                    str(item.get("name") or ""),
                    parent,
                    depth + 1 - d,
                    None if w is None else float(w),
                    ind,
                    None if direction is None else int(direction),
                    None if tgt is None else float(tgt),
                    goal,
                    line,
                )
            )
        if not ok:
            return None
        if weights == "manual":
            by_parent: dict[str | None, list[HierarchyNode]] = {}
            for n in nodes[1:]:
                by_parent.setdefault(n.parent, []).append(n)
            for parent, kids in by_parent.items():
                if sum(k.weight or 0.0 for k in kids) <= 0:
                    self.issues.error("E_WEIGHTS_ZERO", (at[0], kids[0].line), path, parent=parent)
                    ok = False
        if not ok:
            return None
        return HierarchyDecl(
            code,
            name,
            tuple(nodes),
            span,
            weights,
            method,
            bands,
            self.text(m, "description", path),
            self.text(m, "source", path),
            bool(m.get("workbench_definition", False)),
            at[0],
            at[1],
        )

    def calendar(self, data: LMap, code: str) -> Calendar | None:
        fname = data.file
        camp = (
            self.mapping(data.get("campaign"), data.at("campaign"), "campaign")
            if "campaign" in data
            else None
        )
        if camp is None:
            if "campaign" not in data:
                self.issues.error("E_MISSING_KEY", data.at(), fname, key="campaign", what=fname)
            return None
        self.unknown_keys(camp, "campaign", "campaign")
        start = self.date(camp, "start", "campaign", required=True)
        end = self.date(camp, "end", "campaign", required=True)
        if start is None or end is None:
            return None
        if end < start:
            self.issues.error("E_DATE_ORDER", camp.at("end"), "campaign", start=start, end=end)
            return None
        phases: list[Phase] = []
        ph_list = data.get("phases") or LList()
        if not isinstance(ph_list, LList):
            self.issues.error(
                "E_TYPE", data.at("phases"), "phases", key="phases", expected=t("ind.type.list")
            )
            ph_list = LList()
        for i, ph in enumerate(ph_list):
            p = f"phases[{i}]"
            if not isinstance(ph, LMap):
                self.issues.error("E_NOT_MAPPING", ph_list.at(i), p, what=p)
                continue
            self.unknown_keys(ph, "phase", p)
            pc = self.text(ph, "code", p, required=True)
            s, e = self.date(ph, "start", p, True), self.date(ph, "end", p, True)
            if not pc or s is None or e is None:
                continue
            if e < s:
                self.issues.error("E_DATE_ORDER", ph.at("end"), p, start=s, end=e)
                continue
            phases.append(
                Phase(pc, self.text(ph, "name", p) or pc, s, e, self.text(ph, "source", p))
            )
        for a, b in zip(phases, phases[1:]):
            if b.start <= a.end:
                self.issues.warning("W_PHASE_OVERLAP", (fname, None), "phases", a=a.name, b=b.name)
        milestones: list[Milestone] = []
        ms_list = data.get("milestones") or LList()
        for i, ms in enumerate(ms_list if isinstance(ms_list, LList) else []):
            p = f"milestones[{i}]"
            if not isinstance(ms, LMap):
                self.issues.error("E_NOT_MAPPING", ms_list.at(i), p, what=p)
                continue
            self.unknown_keys(ms, "milestone", p)
            mc = self.text(ms, "code", p, required=True)
            ind = self.text(ms, "indicator", p, required=True)
            if not mc or not ind:
                continue
            op = self.text(ms, "op", p) or None
            if op is not None and op not in TARGET_OPS:
                self.issues.error(
                    "E_BAD_TARGET_OP", ms.at("op"), p, op=op, allowed=" ".join(TARGET_OPS)
                )
                continue
            value = self.number(ms, "value", p, allow_param=False)
            deadline = self.date(ms, "deadline", p)
            span = self.text(ms, "span", p) or "ctd"
            if span not in SPANS and span not in [PHASE_SPAN + ph.code for ph in phases]:
                self.issues.error(
                    "E_BAD_SPAN", ms.at("span"), p, span=span, allowed=_spans_allowed(phases)
                )
                continue
            milestones.append(
                Milestone(
                    mc,
                    self.text(ms, "name", p),
                    ind,
                    op or "",
                    value if value is not None else math.nan,  # type: ignore
                    deadline or dt.date.min,
                    span,
                    self.text(ms, "source", p),
                    ms.line,
                )
            )
        method, min_points = "linear", 2
        if isinstance(data.get("projection"), LMap):
            pj = data["projection"]
            self.unknown_keys(pj, "projection", "projection")
            method = str(pj.get("method", "linear"))
            if method != "linear":
                self.issues.error(
                    "E_BAD_METHOD",
                    pj.at("method"),
                    "projection",
                    key="method",
                    value=method,
                    allowed="linear",
                )
            mp = pj.get("min_points", 2)
            if not isinstance(mp, int) or isinstance(mp, bool) or mp < 1:
                self.issues.error(
                    "E_TYPE",
                    pj.at("min_points"),
                    "projection",
                    key="min_points",
                    expected=t("ind.type.number"),
                )
                mp = 2
            min_points = mp
        return Calendar(
            code,
            self.text(data, "name", fname) or code,
            start,
            end,
            tuple(phases),
            tuple(milestones),
            method,
            min_points,
            self.text(data, "source", fname),
            fname,
        )


def _param_ref(v: Any) -> ParamRef | None:
    if isinstance(v, str):
        mt = _PARAM_RE.match(v.strip())
        if mt:
            return ParamRef(mt.group(1))
    return None


def _percent(v: Any) -> float | None:
    """Accept `90%` as 0.9 in YAML for readability."""
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            return float(v.strip()[:-1]) / 100
        except ValueError:
            return None
    return None


def _month_text(v: Any) -> str | None:
    if isinstance(v, (dt.date, dt.datetime)):
        return f"{v.year:04d}-{v.month:02d}"
    s = str(v).strip()
    if re.match(r"^\d{4}-\d{2}$", s) and 1 <= int(s[5:]) <= 12:
        return s
    return None


# ---------------------------------------------------------------------------------------------
# Passes 3–5: references, graphs, hierarchies
# ---------------------------------------------------------------------------------------------
_FIELD_KINDS = {
    "int": "number",
    "yuan": "number",
    "date": "date",
    "bool": "bool",
    "month": "month",
    "enum": "text",
    "text": "text",
    "code6": "text",
    "id_card": "text",
}


class _Resolver:
    def __init__(self, issues: _Issues, params: dict[str, Parameter]) -> None:
        self.issues = issues
        self.params = params

    def value(self, v: Any, at: tuple, path: str) -> Any:
        if isinstance(v, ParamRef):
            if v.name not in self.params:
                self.issues.error(
                    "E_UNKNOWN_PARAMETER",
                    at,
                    path,
                    name=v.name,
                    known="、".join(sorted(self.params)) or "—",
                )
                return None
            return self.params[v.name].value
        return v

    def field_type(self, measure: Measure, name: str, at: tuple, path: str) -> str | None:
        """Type of `name` in the measure's ledger (or `ledger.field` through its join)."""
        if "." in name:
            prefix, fld = name.split(".", 1)
            if measure.join is None or prefix != measure.join.ledger:
                self.issues.error(
                    "E_UNKNOWN_FIELD",
                    at,
                    path,
                    field=name,
                    ledger=measure.ledger,
                    known=_known(measure.ledger),
                )
                return None
            lg = LEDGERS[prefix]
        else:
            lg, fld = LEDGERS[measure.ledger], name  # type: ignore[index]
        if fld not in lg.field_names:
            self.issues.error(
                "E_UNKNOWN_FIELD", at, path, field=name, ledger=lg.name, known=_known(lg.name)
            )
            return None
        return lg.field(fld).type

    def clause(self, measure: Measure, c: Condition, at_file: str, path: str) -> Condition | None:
        at = (at_file, c.line)
        if isinstance(c, (AnyOf, AllOf)):
            parts = [self.clause(measure, x, at_file, path) for x in c.clauses]
            if any(p is None for p in parts):
                return None
            return dataclasses.replace(c, clauses=tuple(parts))  # type: ignore[arg-type]
        ftype = self.field_type(measure, c.field, at, path)
        if ftype is None:
            return None
        if c.op in ("is_null", "not_null"):
            return c
        raw = c.value
        values = raw if isinstance(raw, tuple) else (raw,)
        out = []
        for v in values:
            if isinstance(v, ParamRef) and v.name not in self.params:
                self.value(v, at, path)  # reports E_UNKNOWN_PARAMETER
                return None
            v = self.value(v, at, path)
            if v is None:
                self.issues.error("E_FILTER_VALUE", at, path, field=c.field, value="null")
                return None
            coerced = _coerce(v, ftype)
            if coerced is _BAD:
                self.issues.error("E_FILTER_VALUE", at, path, field=c.field, value=v)
                return None
            if ftype == "enum":
                lg_name = c.field.split(".")[0] if "." in c.field else measure.ledger
                fdef = LEDGERS[lg_name].field(c.field.split(".")[-1])  # type: ignore[index]
                if coerced not in fdef.enum:
                    self.issues.error(
                        "E_VALUE_NOT_IN_ENUM",
                        at,
                        path,
                        field=c.field,
                        value=v,
                        allowed="、".join(fdef.enum),
                    )
                    return None
            if c.op in (">", ">=", "<", "<=") and ftype in ("text", "enum", "bool", "code6"):
                self.issues.error("E_FILTER_OP_TYPE", at, path, field=c.field, op=c.op)
                return None
            out.append(coerced)
        value = tuple(out) if isinstance(raw, tuple) else out[0]
        return dataclasses.replace(c, value=value)

    def measure(self, m: Measure) -> Measure | None:
        path = f"measures.{m.code}"
        if m.agg == "months":
            return m
        if m.ledger not in LEDGERS:
            self.issues.error(
                "E_UNKNOWN_LEDGER", m.at("ledger"), path, ledger=m.ledger, known="、".join(LEDGERS)
            )
            return None
        lg = LEDGERS[m.ledger]  # type: ignore[index]
        ok = True
        if m.join is not None:
            if m.join.ledger not in LEDGERS:
                self.issues.error(
                    "E_UNKNOWN_LEDGER",
                    m.at("join"),
                    path,
                    ledger=m.join.ledger,
                    known="、".join(LEDGERS),
                )
                return None
            for lname in (m.ledger, m.join.ledger):
                if m.join.on not in LEDGERS[lname].field_names:  # type: ignore[index]
                    self.issues.error(
                        "E_UNKNOWN_FIELD",
                        m.at("join"),
                        path,
                        field=m.join.on,
                        ledger=lname,
                        known=_known(lname),
                    )
                    ok = False
        for key, name, wrong_type in (
            ("date", m.date, "E_DATE_FIELD_TYPE"),
            ("done_by", m.done_by, "E_DONE_BY_FIELD"),
        ):
            if name is None:
                continue
            if name not in lg.field_names:
                self.issues.error(
                    "E_UNKNOWN_FIELD",
                    m.at(key),
                    path,
                    field=name,
                    ledger=lg.name,
                    known=_known(lg.name),
                )
                ok = False
            elif lg.field(name).type not in ("date", "month"):  # a date field is needed
                self.issues.error(wrong_type, m.at(key), path, field=name)
                ok = False
        if m.field is not None:
            ftype = self.field_type(m, m.field, m.at("field"), path)
            if ftype is None:
                ok = False
            elif m.agg == "sum" and ftype not in ("int", "yuan"):
                self.issues.error("E_SUM_NOT_NUMBER", m.at("field"), path, field=m.field)
                ok = False
        if m.expr is not None:
            for name in m.expr.names:
                if name in self.params:
                    continue
                ftype = self.field_type(m, name, m.at("expr"), path)
                if ftype is None:
                    ok = False
                elif ftype not in ("int", "yuan"):
                    self.issues.error("E_SUM_NOT_NUMBER", m.at("expr"), path, field=name)
                    ok = False
        where = []
        for c in m.where:
            got = self.clause(m, c, m.file, path)
            if got is None:
                ok = False
            else:
                where.append(got)
        if not ok:
            return None
        return dataclasses.replace(m, where=tuple(where))

    def baseline(self, b: Baseline | None, at: tuple, path: str) -> Baseline | None:
        if b is None or not isinstance(b.year, ParamRef):
            return b
        y = self.value(b.year, at, path)
        if not isinstance(y, int) or isinstance(y, bool):
            if y is not None:
                self.issues.error("E_BAD_BASELINE", at, path, value=y)
            return None
        return Baseline("year", y)

    def target(self, tg: Target | None, at: tuple, path: str) -> Target | None:
        if tg is None:
            return None
        value = self.value(tg.value, at, path)
        relative = self.value(tg.relative, at, path)
        for v in (value, relative):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                self.issues.error("E_BAD_TARGET", at, path)
                return None
        baseline = self.baseline(tg.baseline, at, path)
        if tg.relative is not None and baseline is None:
            return None
        return dataclasses.replace(
            tg,
            value=None if value is None else float(value),
            relative=None if relative is None else float(relative),
            baseline=baseline,
        )


class _Bad:
    pass


_BAD = _Bad()


def _coerce(v: Any, ftype: str) -> Any:
    kind = _FIELD_KINDS.get(ftype, "text")
    if kind == "number":
        if isinstance(v, bool):
            return _BAD
        if isinstance(v, (int, float)):
            return float(v)
        try:
            return float(str(v).replace(",", ""))
        except ValueError:
            return _BAD
    if kind == "bool":
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("是", "y", "yes", "true", "1"):
            return True
        if s in ("否", "n", "no", "false", "0"):
            return False
        return _BAD
    if kind == "date":
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            return _BAD
    if kind == "month":
        m = _month_text(v)
        return _BAD if m is None else m
    if isinstance(v, (LMap, LList)):
        return _BAD
    return str(v)


def _known(ledger: str | None) -> str:
    return "、".join(LEDGERS[ledger].field_names) if ledger in LEDGERS else "—"


# ---------------------------------------------------------------------------------------------
# The catalogue of files
# ---------------------------------------------------------------------------------------------
def default_dir() -> Path:
    from workbench.config import project_root

    return project_root() / "indicators"


def _read_files(paths: Iterable[Path], issues: _Issues) -> dict[str, _FileDecl]:
    shaper = _Shaper(issues)
    out: dict[str, _FileDecl] = {}
    for path in paths:
        fname = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            issues.error("E_FILE_UNREADABLE", (fname, None), problem=str(exc))
            continue
        data = parse_yaml(text, fname, issues)
        if data is None:
            continue
        decl = shaper.file(path, data)
        if decl is None:
            continue
        if decl.code in out:
            issues.error(
                "E_DUPLICATE_SET",
                data.at("code"),
                fname,
                code=decl.code,
                other=str(out[decl.code].path),
            )
            continue
        out[decl.code] = decl
    return out


def _read_each(paths: Iterable[Path]) -> tuple[dict[str, _FileDecl], dict[str, list[Issue]]]:
    """Like `_read_files` without reporting: every file parsed once, its own issues kept
    (by resolved path) for whoever turns out to depend on it."""
    files: dict[str, _FileDecl] = {}
    found: dict[str, list[Issue]] = {}
    for path in paths:
        own = _Issues()
        for code, decl in _read_files([path], own).items():
            files.setdefault(code, decl)  # the first file with a code wins, as in _read_files
        found[path.resolve().as_posix()] = own.items
    return files, found


def _yaml_files(dirs: Iterable[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
                seen.setdefault(p.resolve().as_posix(), p)
    return list(seen.values())


def available_sets(dirs: Iterable[Path] | None = None) -> list[str]:
    """Codes of the indicator sets found (files that fail to parse are skipped)."""
    issues = _Issues()
    files = _read_files(_yaml_files(list(dirs or [default_dir()])), issues)
    return sorted(c for c, d in files.items() if d.kind == "indicator_set")


def validate(
    paths: Iterable[str | Path] | None = None, dirs: Iterable[str | Path] | None = None
) -> list[Issue]:
    """Every issue in the given files (default: all of `indicators/`), all sets checked."""
    search = [Path(d) for d in (dirs or [default_dir()])]
    chosen = [Path(p) for p in paths] if paths else _yaml_files(search)
    issues = _Issues()
    extra = [p for p in _yaml_files(search) if p.resolve() not in {c.resolve() for c in chosen}]
    mine = _read_files(chosen, issues)
    others = _read_files(extra, _Issues())
    files = {**others, **mine}
    for code, decl in mine.items():
        if decl.kind == "indicator_set":
            _build_set(code, files, issues)
    return issues.items


def load_sets(
    names: Iterable[str | Path], dirs: Iterable[str | Path] | None = None
) -> list[IndicatorSet]:
    """Several sets as `load_set` loads each, the folder read and every file parsed once for
    all of them (a set that includes another, and the calendar they share, are not parsed
    again)."""
    reads: dict[tuple[str, ...], tuple[dict[str, _FileDecl], dict[str, list[Issue]]]] = {}
    dirs = list(dirs) if dirs is not None else None
    return [load_set(n, dirs, _reads=reads) for n in names]


def load_set(
    name_or_path: str | Path = "campaign_2025",
    dirs: Iterable[str | Path] | None = None,
    *,
    _reads: dict[tuple[str, ...], Any] | None = None,
) -> IndicatorSet:
    """Load and validate one indicator set (by code, or a path to its YAML file).

    Files are looked up in `dirs` (default `indicators/`; a given file's own folder first).
    Raises DeclarationError holding every issue when anything is wrong.
    """
    search = [Path(d) for d in (dirs or [default_dir()])]
    target = str(name_or_path)
    given = Path(target)
    issues = _Issues()
    mine: dict[str, _FileDecl] = {}
    skip: set[Path] = set()
    if given.suffix in (".yaml", ".yml") or given.is_file():
        if not given.is_file():
            issues.error("E_FILE_UNREADABLE", (str(given), None), problem="not found")
            raise DeclarationError(issues.items)
        search = [given.parent, *search]
        mine = _read_files([given], issues)
        if not mine:
            raise DeclarationError(issues.items)
        code = next(iter(mine))
        skip = {given.resolve()}
    else:
        code = target
    paths = [p for p in _yaml_files(search) if p.resolve() not in skip]
    key = tuple(p.resolve().as_posix() for p in paths)
    reads = {} if _reads is None else _reads
    if key not in reads:
        reads[key] = _read_each(paths)
    quiet, found = reads[key]
    files = {**quiet, **mine}
    if code not in files or files[code].kind != "indicator_set":
        issues.error(
            "E_UNKNOWN_SET",
            (str(given), None),
            name=code,
            known="、".join(sorted(c for c, d in files.items() if d.kind == "indicator_set"))
            or "—",
        )
        raise DeclarationError(issues.items)
    # The problems of the files this set depends on are reported too.
    for c in _involved(code, files):
        if files[c].path.resolve() not in skip:
            issues.items.extend(found.get(files[c].path.resolve().as_posix(), []))
    result = _build_set(code, files, issues)
    if issues.errors or result is None:
        raise DeclarationError(issues.items)
    return dataclasses.replace(
        result, warnings=tuple(i for i in issues.items if i.level == "warning")
    )


def _involved(code: str, files: dict[str, _FileDecl]) -> list[str]:
    out: list[str] = []

    def visit(c: str) -> None:
        if c in out or c not in files:
            return
        out.append(c)
        d = files[c]
        for inc, _ in d.includes:
            visit(inc)
        if d.calendar_ref:
            visit(d.calendar_ref[0])

    visit(code)
    return out


def _build_set(code: str, files: dict[str, _FileDecl], issues: _Issues) -> IndicatorSet | None:
    """Passes 3–5 for one set: merge includes, resolve references, check graphs."""
    decl = files[code]
    fname = str(decl.path)
    n_errors = len(issues.errors)

    # includes (depth first; the including file wins and is told so)
    chain: list[_FileDecl] = []

    def collect(d: _FileDecl, stack: tuple[str, ...]) -> None:
        for inc, line in d.includes:
            if inc in stack:
                issues.error(
                    "E_INCLUDE_CYCLE", (str(d.path), line), chain=" → ".join((*stack, inc))
                )
                continue
            if inc not in files or files[inc].kind != "indicator_set":
                issues.error(
                    "E_UNKNOWN_SET",
                    (str(d.path), line),
                    name=inc,
                    known="、".join(
                        sorted(c for c, f in files.items() if f.kind == "indicator_set")
                    )
                    or "—",
                )
                continue
            collect(files[inc], (*stack, inc))
        if d not in chain:
            chain.append(d)

    collect(decl, (code,))
    params: dict[str, Parameter] = {}
    measures: dict[str, Measure] = {}
    indicators: dict[str, Indicator] = {}
    for d in chain:
        for store, items in (
            (params, d.parameters),
            (measures, d.measures),
            (indicators, d.indicators),
        ):
            for k, v in items.items():
                if k in store and d is decl:
                    issues.warning("W_OVERRIDE", (v.file, v.line), k, code=k, other=store[k].file)
                store[k] = v
    hierarchies = dict(decl.hierarchies)
    res = _Resolver(issues, params)

    # measures
    for k in list(measures):
        got = res.measure(measures[k])
        if got is None:
            del measures[k]
        else:
            measures[k] = got

    # indicators: references to measures, then parameters in targets
    declared = set(indicators)
    for k, ind in list(indicators.items()):
        path = f"indicators.{k}"
        ok = True
        for key, names in (("numerator", ind.numerator), ("denominator", ind.denominator)):
            for name in names:
                if name not in measures:
                    if name in _all_measure_codes(chain):
                        ok = False  # the measure itself was reported already
                        continue
                    issues.error(
                        "E_UNKNOWN_MEASURE", ind.at(key), path, name=name, known=_few(measures)
                    )
                    ok = False
        if ind.type == "change" and ind.of not in declared:
            issues.error(
                "E_UNKNOWN_INDICATOR", ind.at("of"), path, name=ind.of, known=_few(indicators)
            )
            ok = False
        if (
            ind.type == "change"
            and ind.of in indicators
            and indicators[ind.of].type not in ("ratio", "share", "count")
        ):
            issues.error("E_CHANGE_OF_TYPE", ind.at("of"), path, name=ind.of)
            ok = False
        if ind.type == "derived" and ind.expr is not None:
            for name in sorted(ind.expr.names):
                if name not in declared:
                    issues.error(
                        "E_UNKNOWN_INDICATOR",
                        ind.at("expr"),
                        path,
                        name=name,
                        known=_few(indicators),
                    )
                    ok = False
        baseline = res.baseline(ind.baseline, ind.at("baseline"), path)
        target = res.target(ind.target, ind.at("target"), f"{path}.target")
        if ind.target is not None and target is None:
            ok = False
        if ind.type == "change" and baseline is None:
            ok = False
        if not ok:
            del indicators[k]
        else:
            indicators[k] = dataclasses.replace(ind, baseline=baseline, target=target)

    # cycles among change/derived
    _check_cycles(indicators, issues)

    # calendar
    calendar = None
    if decl.calendar_ref:
        cname, line = decl.calendar_ref
        if cname not in files or files[cname].kind != "calendar":
            issues.error(
                "E_UNKNOWN_CALENDAR",
                (fname, line),
                name=cname,
                known="、".join(sorted(c for c, f in files.items() if f.kind == "calendar")) or "—",
            )
        else:
            calendar = files[cname].calendar
            if calendar is not None:
                calendar = _resolve_milestones(calendar, indicators, issues)

    # hierarchies
    for hk, h in list(hierarchies.items()):
        ok = True
        for n in h.nodes:
            if n.indicator is not None and n.indicator not in indicators:
                issues.error(
                    "E_UNKNOWN_INDICATOR",
                    (h.file, n.line),
                    f"hierarchies.{hk}",
                    name=n.indicator,
                    known=_few(indicators),
                )
                ok = False
        leaves = {n.code for n in h.nodes if n.indicator is not None}
        for leaf, den in h.method.denominate.items():
            if leaf not in leaves:
                issues.error(
                    "E_UNKNOWN_INDICATOR",
                    (h.file, den.line),
                    f"hierarchies.{hk}.method.denominate",
                    name=leaf,
                    known=_few(sorted(leaves)),
                )
                ok = False
            if den.indicator not in indicators:
                issues.error(
                    "E_UNKNOWN_INDICATOR",
                    (h.file, den.line),
                    f"hierarchies.{hk}.method.denominate",
                    name=den.indicator,
                    known=_few(indicators),
                )
                ok = False
        group = h.method.options.get("impute_group")
        if group is not None and group not in indicators:
            issues.error(
                "E_UNKNOWN_INDICATOR",
                (h.file, h.method.lines.get("impute_group")),
                f"hierarchies.{hk}.method.impute_group",
                name=group,
                known=_few(indicators),
            )
            ok = False
        if NORMALISERS[h.method.normalise].needs & {"target", "goalposts"}:
            for n in h.nodes:
                ind = indicators.get(n.indicator or "")
                if ind is None:
                    continue
                has_abs = ind.target is not None and ind.target.value is not None
                if n.goalposts is None and n.target is None and not has_abs:
                    issues.error(
                        "E_HIERARCHY_NO_TARGET",
                        (h.file, n.line),
                        f"hierarchies.{hk}",
                        code=n.code,
                        method=h.method.normalise,
                    )
                    ok = False
        if h.span == "ctd" and calendar is None:
            issues.error("E_CTD_NO_CALENDAR", (h.file, h.line), f"hierarchies.{hk}")
            ok = False
        if not ok:
            del hierarchies[hk]
    if decl.default_span == "ctd" and calendar is None:
        issues.error("E_CTD_NO_CALENDAR", decl.data.at("default_span"), "default_span")

    if len(issues.errors) > n_errors:
        return None
    return IndicatorSet(
        code=code,
        name=str(decl.data.get("name") or code),
        parameters=MappingProxyType(params),
        measures=MappingProxyType(measures),
        indicators=MappingProxyType(indicators),
        hierarchies=MappingProxyType(hierarchies),
        calendar=calendar,
        grade_bands=decl.grade_bands,
        default_span=decl.default_span,
        description=str(decl.data.get("description") or ""),
        source=str(decl.data.get("source") or ""),
        files=tuple(str(d.path) for d in chain) + ((calendar.file,) if calendar else ()),
    )


def _all_measure_codes(chain: list[_FileDecl]) -> set[str]:
    return {k for d in chain for k in d.measures}


def _few(items: Mapping[str, Any], n: int = 12) -> str:
    keys = sorted(items)
    return "、".join(keys[:n]) + ("…" if len(keys) > n else "") if keys else "—"


def _check_cycles(indicators: dict[str, Indicator], issues: _Issues) -> None:
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(code: str, stack: list[str]) -> None:
        state[code] = 1
        for dep in indicators[code].depends_on:
            if dep not in indicators:
                continue
            if state.get(dep) == 1:
                cyc = stack[stack.index(dep) :] + [dep] if dep in stack else [code, dep]
                key = frozenset(cyc)
                if key not in reported:
                    reported.add(key)
                    ind = indicators[code]
                    issues.error(
                        "E_CYCLE", (ind.file, ind.line), f"indicators.{code}", chain=" → ".join(cyc)
                    )
            elif state.get(dep) is None:
                visit(dep, stack + [dep])
        state[code] = 2

    for code in list(indicators):
        if state.get(code) is None:
            visit(code, [code])
    bad = {c for cyc in reported for c in cyc}
    for c in bad:
        indicators.pop(c, None)


def _resolve_milestones(
    cal: Calendar, indicators: Mapping[str, Indicator], issues: _Issues
) -> Calendar:
    """Fill a milestone's op/value/deadline from its indicator's target where omitted."""
    out = []
    for ms in cal.milestones:
        at, path = (cal.file, ms.line), f"milestones.{ms.code}"
        ind = indicators.get(ms.indicator)
        if ind is None:
            issues.error("E_UNKNOWN_INDICATOR", at, path, name=ms.indicator, known=_few(indicators))
            continue
        tg = ind.target
        op = ms.op or (tg.op if tg else "")
        value = ms.value
        if math.isnan(value) and tg is not None and tg.value is not None:
            value = tg.value
        deadline = ms.deadline if ms.deadline != dt.date.min else (tg.deadline if tg else None)
        if not op or math.isnan(value) or deadline is None:
            issues.error("E_MILESTONE_INCOMPLETE", at, path, code=ms.code)
            continue
        if not (cal.start <= deadline):
            issues.warning("W_MILESTONE_BEFORE_CAMPAIGN", at, path, code=ms.code)
        out.append(
            dataclasses.replace(
                ms, op=op, value=float(value), deadline=deadline, name=ms.name or ind.name
            )
        )
    return dataclasses.replace(cal, milestones=tuple(out))
