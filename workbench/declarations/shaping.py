"""Shaping: one file's located YAML → draft model objects, with the checks of its shape.

What each key must look like (a mapping, a text, a number, one word of a vocabulary, a date) is
checked here, at the key's line, while the objects are built. What needs the whole set (a
reference to a measure, a ledger field, a cycle, a hierarchy's targets) is a rule in `rules`,
run once the files are read and the includes merged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from workbench.contracts import LEDGERS
from workbench.declarations.expressions import ExprLimitError, parse_expr
from workbench.declarations.issues import Issues
from workbench.declarations.loader import LList, LMap, month_text, param_ref, percent_text
from workbench.declarations.methods import check_method
from workbench.declarations.model import (
    SourceDocument,
    AllOf,
    AnyOf,
    Baseline,
    Calendar,
    CardGroup,
    Clause,
    Condition,
    Expr,
    FunnelStage,
    GradeBand,
    HierarchyDecl,
    HierarchyNode,
    Indicator,
    Join,
    Measure,
    Method,
    Milestone,
    ParamRef,
    Parameter,
    Phase,
    Presentation,
    TableDecl,
    TableField,
    Target,
    default_decimals,
)
from workbench.declarations.vocabulary import (
    SOURCE_CODE_RE,
    SOURCE_KINDS,
    AGGS,
    ALL_SPANS,
    CITY_ROLLUPS,
    DECIMALS_RANGE,
    FILE_KINDS,
    FREQUENCIES,
    FUNNEL_PARTS,
    ID_RE,
    INDICATOR_TYPES,
    KNOWN_KEYS,
    NAMED_BY,
    OPS,
    PERIOD_END,
    PHASE_SPAN,
    PROJECTIONS,
    ROLLUPS,
    SPANS,
    STRICT_SECTIONS,
    TABLE_TYPES,
    TARGET_OPS,
    WITHIN_DAYS,
    WEIGHTINGS,
)
from workbench.messages import t
from workbench.periods import FISCAL_YEAR, Frequency


def spans_allowed(phases: Iterable[Phase] = ()) -> str:
    """The spans a declaration may name, each with its Chinese name (for E_BAD_SPAN)."""
    return "、".join(
        [
            *(f"{s}（{t(f'ind.span.{s}')}）" for s in ALL_SPANS),
            *(f"{PHASE_SPAN}{ph.code}（{t('ind.span.phase', name=ph.name)}）" for ph in phases),
        ]
    )


# `presentation:` keys that are words a face shows (defaults in `IndicatorSet.unit_noun` and the
# faces: neutral when not declared)
PRESENTATION_WORDS = ("unit_noun", "whole_name", "report_title", "issuer", "total_name")


@dataclass(frozen=True)
class Include:
    """`include: [code]`, or `{set: code, hierarchies: [...]}` to carry only some of the
    included set's hierarchies (`[]`: none)."""

    code: str
    line: int | None
    hierarchies: tuple[str, ...] | None = None  # None: every hierarchy of the included set


@dataclass
class FileDecl:
    path: Path
    kind: str
    code: str
    data: LMap
    parameters: dict[str, Parameter] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    hierarchies: dict[str, HierarchyDecl] = field(default_factory=dict)
    grade_bands: tuple[GradeBand, ...] = ()
    includes: list[Include] = field(default_factory=list)
    calendar_ref: tuple[str, int | None] | None = None
    calendar: Calendar | None = None
    default_span: str = "ytd"
    presentation: Presentation | None = None
    table: TableDecl | None = None
    documents: tuple[SourceDocument, ...] = ()


class Shaper:
    """Reads one file's located dicts into draft objects, reporting shape problems."""

    def __init__(self, issues: Issues) -> None:
        self.issues = issues

    # -- small helpers ------------------------------------------------------------------------
    def unknown_keys(self, m: LMap, kind: str, path: str) -> bool:
        """Warn about keys the section does not know (refuse them in a strict section);
        False when one was refused."""
        strict = kind in STRICT_SECTIONS
        ok = True
        for key in m:
            if key not in KNOWN_KEYS[kind]:
                self.issues.add(
                    "error" if strict else "warning",
                    "E_UNKNOWN_KEY" if strict else "W_UNKNOWN_KEY",
                    *m.at(key),
                    path,
                    key=key,
                    allowed="、".join(sorted(KNOWN_KEYS[kind])),
                )
                ok = not strict and ok
        return ok

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
        ref = param_ref(v) if allow_param else None
        if ref:
            return ref
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            v2 = percent_text(v)
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
        if not ID_RE.match(code):
            self.issues.error("E_BAD_CODE", at, path, code=code)
            return False
        return True

    def expr(self, m: LMap, path: str) -> Expr | None:
        """The `expr:` of a measure or indicator, parsed; None (reported) when unusable."""
        text = m["expr"]
        if isinstance(text, (LMap, LList)) or text is None:
            self.issues.error("E_TYPE", m.at("expr"), path, key="expr", expected=t("ind.type.text"))
            return None
        try:
            return parse_expr(str(text))
        except ExprLimitError as exc:
            self.issues.error(exc.code, m.at("expr"), path, limit=exc.limit)
        except ValueError as exc:
            shown = str(text) if len(str(text)) <= 80 else str(text)[:80] + "…"
            self.issues.error("E_BAD_EXPR", m.at("expr"), path, expr=shown, problem=str(exc))
        return None

    def integer(
        self, m: LMap, key: str, path: str, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        """A whole number (within [lo, hi] when given); None when absent or reported."""
        if key not in m or m[key] is None:
            return None
        v = m[key]
        if isinstance(v, bool) or not isinstance(v, int):
            self.issues.error("E_TYPE", m.at(key), path, key=key, expected=t("ind.type.integer"))
            return None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.issues.error("E_OUT_OF_RANGE", m.at(key), path, key=key, value=v, lo=lo, hi=hi)
            return None
        return v

    def names(self, v: Any, at: tuple[str, int | None], path: str, key: str) -> tuple[str, ...]:
        """A measure name or a list of them (summed)."""
        if isinstance(v, str):
            return (v,)
        if isinstance(v, LList) and v and all(isinstance(x, str) for x in v):
            return tuple(v)
        self.issues.error("E_TYPE", at, path, key=key, expected=t("ind.type.names"))
        return ()

    # -- sections -------------------------------------------------------------------------------
    def file(self, path: Path, data: LMap) -> FileDecl | None:
        fname = data.file
        kind = self.text(data, "kind", fname, required=True)
        code = self.text(data, "code", fname, required=True)
        self.unknown_keys(data, "file", fname)
        if kind not in FILE_KINDS:
            if kind:
                self.issues.error("E_BAD_KIND", data.at("kind"), fname, kind=kind)
            return None
        if code and not self.code_ok(code, data.at("code"), fname):
            code = ""
        if not code:
            return None
        decl = FileDecl(path, kind, code, data)
        if kind == "calendar":
            decl.calendar = self.calendar(data, code)
            return decl
        if kind == "table":
            decl.table = self.table(data, code)
            return decl
        if kind == "sources":
            decl.documents = self.documents(data)
            return decl
        if "include" in data:
            decl.includes = self.includes(data["include"], data.at("include"), fname)
        if data.get("calendar") is not None:
            decl.calendar_ref = (str(data["calendar"]), data.at("calendar")[1])
        span = self.text(data, "default_span", fname) or "ytd"
        if span not in ALL_SPANS:
            self.issues.error(
                "E_BAD_SPAN", data.at("default_span"), fname, span=span, allowed=spans_allowed()
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
        if data.get("presentation") is not None:
            decl.presentation = self.presentation(
                data["presentation"], data.at("presentation"), "presentation"
            )
        return decl

    def includes(self, v: Any, at: tuple[str, int | None], path: str) -> list[Include]:
        """`include: code`, a list of codes, or items `{set: code, hierarchies: [codes]}`."""
        items = v if isinstance(v, LList) else LList([v]) if isinstance(v, (str, LMap)) else None
        if items is None:
            self.issues.error("E_TYPE", at, path, key="include", expected=t("ind.type.names"))
            return []
        if not isinstance(v, LList):
            items.file, items.line, items.item_lines = at[0], at[1], [at[1]]
        out: list[Include] = []
        for i, item in enumerate(items):
            line = items.at(i)[1]
            if isinstance(item, LMap):
                if not self.unknown_keys(item, "include", "include"):
                    continue
                code = self.text(item, "set", "include", required=True)
                hiers = None
                if "hierarchies" in item:
                    h = item["hierarchies"]
                    if h is None:
                        hiers = ()
                    elif isinstance(h, LList) and all(isinstance(x, str) for x in h):
                        hiers = tuple(h)
                    else:
                        self.issues.error(
                            "E_TYPE",
                            item.at("hierarchies"),
                            "include",
                            key="hierarchies",
                            expected=t("ind.type.codes"),
                        )
                        continue
                if code:
                    out.append(Include(code, item.line, hiers))
            elif isinstance(item, (LMap, LList)) or item is None:
                self.issues.error(
                    "E_TYPE", (at[0], line), path, key="include", expected=t("ind.type.names")
                )
            else:
                out.append(Include(str(item), line))
        return out

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
        if op == WITHIN_DAYS:
            if not isinstance(value, LList) or len(value) != 2:
                self.issues.error("E_WITHIN_DAYS", item.at("value"), path, field=fld)
                return None
            other, days = value[0], value[1]
            return Clause(fld, op, (str(other), param_ref(days) or days), item.line)
        if op in ("in", "not_in"):
            if not isinstance(value, LList):
                self.issues.error(
                    "E_TYPE", item.at("value"), path, key="value", expected=t("ind.type.list")
                )
                return None
            value = tuple(param_ref(v) or v for v in value)
        elif isinstance(value, (LMap, LList)):
            self.issues.error(
                "E_TYPE", item.at("value"), path, key="value", expected=t("ind.type.scalar")
            )
            return None
        else:
            value = param_ref(value) or value
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
        if "table" in m and "ledger" in m:
            self.issues.error("E_LEDGER_AND_TABLE", m.at("table"), path)
            return None
        key = "table" if "table" in m else "ledger"
        ledger = self.text(m, key, path, required=agg != "months") or None
        if agg != "months" and not ledger:
            return None
        fld = self.text(m, "field", path) or None
        expr = None
        if "expr" in m:
            expr = self.expr(m, path)
            if expr is None:
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
        elif ledger:  # a declared table: its rows are dated by their period
            date = PERIOD_END
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
            since = month_text(m["since"])
            if since is None:
                self.issues.error("E_BAD_DATE", m.at("since"), path, key="since", value=m["since"])
        done_by = self.text(m, "done_by", path) or None
        not_done = "not_done_by" in m
        if not_done:
            if done_by is not None:
                self.issues.error("E_DONE_BY", m.at("not_done_by"), path)
                return None
            done_by = self.text(m, "not_done_by", path) or None
        if done_by is not None and (agg not in ("count", "sum") or date is None or rollup != "sum"):
            self.issues.error("E_DONE_BY", m.at("not_done_by" if not_done else "done_by"), path)
            return None
        offset = self.integer(m, "date_offset_days", path, lo=0, hi=366) or 0
        if offset and (date is None or agg not in ("count", "sum")):
            self.issues.error("E_DATE_OFFSET", m.at("date_offset_days"), path)
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
            MappingProxyType(
                {("ledger" if k == "table" else k): v for k, v in m.key_lines.items()}
            ),
            not_done=not_done,
            date_offset_days=offset,
            city_unit=self.text(m, "city_unit", path),
        )

    def baseline(self, v: Any, at: tuple, path: str) -> Baseline | ParamRef | None:
        if v == "previous_year":
            return Baseline("previous_year")
        if isinstance(v, LMap) and "year" in v:
            y = v["year"]
            ref = param_ref(y)
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
                expr = self.expr(m, path)
                ok = ok and expr is not None
        direction = m.get("direction", 1)
        if direction not in (1, -1) or isinstance(direction, bool):
            self.issues.error("E_BAD_DIRECTION", m.at("direction"), path, value=direction)
            ok = False
        target = None
        if m.get("target") is not None:
            target = self.target(m["target"], m.at("target"), f"{path}.target")
            ok = ok and target is not None
        span = self.text(m, "span", path) or None
        if span and span not in ALL_SPANS:
            self.issues.error("E_BAD_SPAN", m.at("span"), path, span=span, allowed=spans_allowed())
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
        unit = self.text(m, "unit", path)
        decimals = self.integer(m, "decimals", path, *DECIMALS_RANGE)
        if decimals is None and m.get("decimals") is not None:
            ok = False
        short_name = self.text(m, "short_name", path).strip()
        min_baseline = self.integer(m, "min_baseline", path, 0)
        if not ok:
            return None
        return Indicator(
            code=code,
            type=typ,
            name=name,
            description=self.text(m, "description", path),
            unit=unit,
            direction=int(direction),
            numerator=num,
            denominator=den,
            of=of,
            baseline=baseline,  # type: ignore[arg-type]
            expr=expr,
            target=target,
            span=span,
            scale=float(scale) if scale is not None else 1.0,  # type: ignore[arg-type]
            bounds=bounds,
            source=self.text(m, "source", path),
            workbench_definition=wd,
            group=self.text(m, "group", path),
            note=self.text(m, "note", path),
            decimals=default_decimals(unit, typ) if decimals is None else decimals,
            short_name=short_name or name,
            min_baseline=min_baseline,
            file=at[0],
            line=at[1],
            key_lines=MappingProxyType(dict(m.key_lines)),
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
        if span not in ALL_SPANS:
            self.issues.error("E_BAD_SPAN", m.at("span"), path, span=span, allowed=spans_allowed())
            return None
        method = Method()
        if m.get("method") is not None:
            got = check_method(m["method"], m.at("method"), f"{path}.method", self.issues)
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
            MappingProxyType(dict(m.key_lines)),
        )

    def presentation(self, v: Any, at: tuple, path: str) -> Presentation | None:
        """The `presentation:` block; every key optional, an unknown key refused (an entry
        with a problem is left out, reported at its line)."""
        m = self.mapping(v, at, path)
        if m is None:
            return None
        self.unknown_keys(m, "presentation", path)
        order = self.integer(m, "order", path)
        index_order = self.integer(m, "index_order", path)
        default_index = self.text(m, "default_index", path) or None
        groups: list[CardGroup] = []
        for i, g in enumerate(self.items(m, "card_groups", path)):
            p = f"{path}.card_groups[{i}]"
            if not isinstance(g, LMap):
                self.issues.error("E_NOT_MAPPING", m["card_groups"].at(i), p, what=p)
                continue
            if not self.unknown_keys(g, "card_group", p):
                continue
            name = self.text(g, "name", p, required=True)
            codes = g.get("indicators")
            if not (isinstance(codes, LList) and codes and all(isinstance(c, str) for c in codes)):
                self.issues.error(
                    "E_TYPE", g.at("indicators"), p, key="indicators", expected=t("ind.type.codes")
                )
                continue
            if name:
                groups.append(CardGroup(name, tuple(codes), g.line, tuple(codes.item_lines)))
        stages: list[FunnelStage] = []
        for i, st in enumerate(self.items(m, "funnel", path)):
            p = f"{path}.funnel[{i}]"
            if not isinstance(st, LMap):
                self.issues.error("E_NOT_MAPPING", m["funnel"].at(i), p, what=p)
                continue
            if not self.unknown_keys(st, "funnel_stage", p):
                continue
            stage = self.text(st, "stage", p, required=True)
            label = self.text(st, "label", p, required=True)
            ind = self.text(st, "indicator", p, required=True)
            part = self.text(st, "part", p, required=True)
            if stage and not self.code_ok(stage, st.at("stage"), p):
                continue
            if part and part not in FUNNEL_PARTS:
                self.issues.error(
                    "E_BAD_PART", st.at("part"), p, part=part, allowed="、".join(FUNNEL_PARTS)
                )
                continue
            if stage and label and ind and part:
                stages.append(FunnelStage(stage, label, ind, part, st.line))
        refs: dict[str, str | None] = {}
        for key in ("recovery", "rectification"):
            refs[key] = None
            if m.get(key) is None:
                continue
            r = self.mapping(m[key], m.at(key), f"{path}.{key}")
            if r is not None and self.unknown_keys(r, "indicator_ref", f"{path}.{key}"):
                refs[key] = self.text(r, "indicator", f"{path}.{key}", required=True) or None
        words = {k: self.text(m, k, path).strip() or None for k in PRESENTATION_WORDS}
        screening = m.get("screening", False)
        if not isinstance(screening, bool):
            self.issues.error(
                "E_TYPE", m.at("screening"), path, key="screening", expected=t("ind.type.bool")
            )
            screening = False
        # What is valid is kept, so the rules can check its references in the same pass.
        return Presentation(
            order=order or 0,
            index_order=index_order,
            default_index=default_index,
            card_groups=tuple(groups),
            funnel=tuple(stages),
            recovery=refs["recovery"],
            rectification=refs["rectification"],
            min_baseline=self.integer(m, "min_baseline", path, 0),
            screening=screening,
            **words,
            file=m.file,
            line=m.line,
            key_lines=MappingProxyType(dict(m.key_lines)),
        )

    def items(self, m: LMap, key: str, path: str) -> LList:
        """The list under `key` (empty when absent; reported when not a list)."""
        v = m.get(key)
        if v is None:
            return LList()
        if not isinstance(v, LList):
            self.issues.error("E_TYPE", m.at(key), path, key=key, expected=t("ind.type.list"))
            return LList()
        return v

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
                    "E_BAD_SPAN", ms.at("span"), p, span=span, allowed=spans_allowed(phases)
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
            if method not in PROJECTIONS:
                self.issues.error(
                    "E_BAD_METHOD",
                    pj.at("method"),
                    "projection",
                    key="method",
                    value=method,
                    allowed="、".join(PROJECTIONS),
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
            self.integer(data, "report_due_day", fname, lo=1, hi=28),
        )

    # -- kind: sources -------------------------------------------------------------------------
    def documents(self, data: LMap) -> tuple[SourceDocument, ...]:
        """A catalogue of source documents: `documents: {<code>: {title, issuer, number, file,
        note, kind, jurisdiction}}`. Every entry is checked before any is dropped, so one pass
        reports every mistake."""
        fname = data.file
        section = data.get("documents")
        if not isinstance(section, LMap) or not section:
            self.issues.error("E_SOURCES_EMPTY", data.at("documents"), "documents")
            return ()
        out: list[SourceDocument] = []
        for code, body in section.items():
            at = section.at(code)
            p = f"documents.{code}"
            if not SOURCE_CODE_RE.match(str(code)):
                self.issues.error("E_BAD_SOURCE_CODE", at, p, code=code)
                continue
            m = self.mapping(body, at, p)
            if m is None or not self.unknown_keys(m, "source_document", p):
                continue
            title = self.text(m, "title", p, required=True).strip()
            if any(c in title for c in "《》"):
                self.issues.error("E_SOURCE_TITLE_QUOTED", m.at("title"), p, title=title)
                continue
            kind = self.text(m, "kind", p).strip() or "policy"
            if kind not in SOURCE_KINDS:
                self.issues.error(
                    "E_BAD_SOURCE_KIND", m.at("kind"), p, kind=kind, kinds="、".join(SOURCE_KINDS)
                )
                continue
            if not title:
                continue
            out.append(
                SourceDocument(
                    code=str(code),
                    title=title,
                    issuer=self.text(m, "issuer", p).strip(),
                    number=self.text(m, "number", p).strip(),
                    file=self.text(m, "file", p).strip(),
                    note=self.text(m, "note", p).strip(),
                    kind=kind,
                    jurisdiction=self.text(m, "jurisdiction", p).strip(),
                    declared_in=fname,
                    line=at[1],
                )
            )
        return tuple(out)

    # -- kind: table ------------------------------------------------------------------------------
    def table(self, data: LMap, code: str) -> TableDecl | None:
        """A declared table: its unit and period columns, its frequency, its typed fields (a
        typo in any of these sections is refused: it would silently lose a column)."""
        fname = data.file
        name = self.text(data, "name", fname, required=True)
        unit = self._table_section(data, "unit", "table_unit")
        period = self._table_section(data, "period", "table_period")
        fields: list[TableField] = []
        section = data.get("fields")
        if not isinstance(section, LMap) or not section:
            self.issues.error("E_TABLE_NO_FIELDS", data.at("fields"), "fields")
        else:
            for fcode, body in section.items():
                p = f"fields.{fcode}"
                got = self._table_field(fcode, body, section.at(fcode), p)
                if got is not None:
                    fields.append(got)
        # every part is checked before giving up, so one pass reports every mistake
        unit_field = unit_name = period_field = frequency = None
        if unit is not None:
            unit_field = self._key_column(unit, "unit", "field", "header", fname)
            if unit.get("name_field") is not None:
                unit_name = self._key_column(unit, "unit", "name_field", "name_header", fname)
                if unit_name is None:
                    return None
        if period is not None:
            period_field = self._key_column(period, "period", "field", "header", fname)
            frequency = self._frequency(period)
        if unit_field is None or period_field is None or frequency is None or not fields:
            return None
        return TableDecl(
            code=code,
            name=name or code,
            unit=unit_field,
            period=period_field,
            frequency=frequency,
            fields=tuple(fields),
            unit_name=unit_name,
            noun=self.text(unit, "noun", "unit").strip(),
            description=self.text(data, "description", fname),
            source=self.text(data, "source", fname),
            file=fname,
            line=data.line,
            key_lines=MappingProxyType(dict(data.key_lines)),
        )

    def _table_section(self, data: LMap, key: str, kind: str) -> LMap | None:
        """The `unit:` or `period:` block; None when missing or when a key was refused."""
        if key not in data:
            self.issues.error("E_MISSING_KEY", data.at(), data.file, key=key, what=data.file)
            return None
        m = self.mapping(data[key], data.at(key), key)
        if m is None or not self.unknown_keys(m, kind, key):
            return None
        return m

    def _aliases(self, m: LMap, path: str) -> tuple[str, ...]:
        v = m.get("aliases")
        if v is None:
            return ()
        if isinstance(v, LList) and all(isinstance(x, (str, int)) for x in v):
            return tuple(str(x) for x in v)
        self.issues.error(
            "E_TYPE", m.at("aliases"), path, key="aliases", expected=t("ind.type.list")
        )
        return ()

    def _key_column(
        self, m: LMap, path: str, name_key: str, header_key: str, fname: str
    ) -> TableField | None:
        """The unit, unit-name or period column: a field name and the header a file shows."""
        name = self.text(m, name_key, path, required=True)
        header = self.text(m, header_key, path, required=True)
        if not name or not header or not self._field_code_ok(name, m.at(name_key), path):
            return None
        aliases = self._aliases(m, path) if name_key == "field" else ()
        return TableField(name, header, "text", True, aliases=aliases, line=m.at(name_key)[1])

    def _field_code_ok(self, code: str, at: tuple[str, int | None], path: str) -> bool:
        """A column name: a code, not starting with `_` (the warehouse's own columns do)."""
        if code.startswith("_"):
            self.issues.error("E_BAD_CODE", at, path, code=code)
            return False
        return self.code_ok(code, at, path)

    def _table_field(self, code: str, body: Any, at: tuple, path: str) -> TableField | None:
        if not self._field_code_ok(code, at, path):
            return None
        m = self.mapping(body, at, path)
        if m is None or not self.unknown_keys(m, "table_field", path):
            return None
        header = self.text(m, "header", path, required=True)
        ftype = self.text(m, "type", path, required=True)
        if ftype and ftype not in TABLE_TYPES:
            self.issues.error(
                "E_BAD_FIELD_TYPE", m.at("type"), path, type=ftype, allowed="、".join(TABLE_TYPES)
            )
            return None
        required = m.get("required", False)
        if not isinstance(required, bool):
            self.issues.error(
                "E_TYPE", m.at("required"), path, key="required", expected=t("ind.type.bool")
            )
            return None
        if not header or not ftype:
            return None
        return TableField(
            code,
            header,
            ftype,
            required,
            self.text(m, "unit", path),
            self.text(m, "description", path),
            self._aliases(m, path),
            at[1],
        )

    def _frequency(self, m: LMap) -> Frequency | None:
        kind = self.text(m, "frequency", "period", required=True)
        if not kind:
            return None
        if kind not in FREQUENCIES:
            self.issues.error(
                "E_BAD_FREQUENCY",
                m.at("frequency"),
                "period",
                value=kind,
                allowed="、".join(FREQUENCIES),
            )
            return None
        start = 1
        if kind == FISCAL_YEAR:
            if m.get("start_month") is None:
                self.issues.error("E_FISCAL_NO_START", m.at("frequency"), "period")
                return None
            got = self.integer(m, "start_month", "period", 1, 12)
            if got is None:
                return None
            start = got
        elif m.get("start_month") is not None:
            self.issues.error("E_START_MONTH_NOT_FISCAL", m.at("start_month"), "period")
            return None
        named_by = self.text(m, "named_by", "period") or "end"
        if named_by not in NAMED_BY:
            self.issues.error(
                "E_BAD_NAMED_BY",
                m.at("named_by"),
                "period",
                value=named_by,
                allowed="、".join(NAMED_BY),
            )
            return None
        return Frequency(kind, start, named_by)
