"""Validation rules: one function per rule, each yielding what it finds.

A rule reads the model (never raw YAML) and yields `Finding`s: an issue (level, code, where,
values for the message) and, when the finding makes an object unusable, which object to set
aside so later rules do not report the same fault again under another name (a ratio whose
measure is broken is not also "an unknown measure"). `run` is the runner: it applies the rules
stage by stage and collects every issue; nothing stops at the first problem.

File rules look at one file's own declarations (reported once, whichever sets include it); set
rules look at one set with its includes merged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.composite_methods import NORMALISERS
from workbench.contracts import LEDGERS, Ledger, normalise_header
from workbench.declarations.issues import At, Issues
from workbench.declarations.loader import LList, LMap, month_text
from workbench.declarations.model import (
    AllOf,
    AnyOf,
    Baseline,
    Calendar,
    Clause,
    Condition,
    HierarchyDecl,
    Indicator,
    Measure,
    Milestone,
    ParamRef,
    Parameter,
    Presentation,
    TableField,
    Target,
)
from workbench.declarations.shaping import FileDecl
from workbench.declarations.vocabulary import (
    PHASE_SPAN,
    RATE_TYPES,
    SHORT_NAME_MAX,
    TYPE_PARTS,
    WITHIN_DAYS,
)
from workbench.messages import t
from workbench.periods import TO_DATE, Frequency, coarsest


# ---------------------------------------------------------------------------------------------
# Findings and the runner
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One thing a rule found: an issue to report (unless `code` is blank) and the object it
    makes unusable (`drops`: (collection, key)), if any."""

    level: str
    code: str
    at: At
    path: str = ""
    values: Mapping[str, object] = field(default_factory=dict)
    drops: tuple[str, Any] | None = None


def error(
    code: str, at: At, path: str = "", drops: tuple[str, Any] | None = None, /, **v: object
) -> Finding:
    return Finding("error", code, at, path, v, drops)


def warning(code: str, at: At, path: str = "", /, **v: object) -> Finding:
    return Finding("warning", code, at, path, v)


def drop(collection: str, key: Any) -> Finding:
    """Set an object aside without a new issue (its fault was reported where it lies)."""
    return Finding("", "", ("", None), drops=(collection, key))


@dataclass
class SetContext:
    """One indicator set as the set rules see it: its own file, every file, and the objects
    merged from its includes (rules may only read it; the runner sets objects aside)."""

    code: str
    decl: FileDecl
    files: Mapping[str, FileDecl]
    chain: list[FileDecl]
    params: dict[str, Parameter]
    measures: dict[str, Measure]
    indicators: dict[str, Indicator]
    hierarchies: dict[str, HierarchyDecl]
    declared_measures: frozenset[str]  # every code declared, including ones shaping refused
    declared_indicators: frozenset[str]
    declared_hierarchies: frozenset[str] = frozenset()
    calendar: Calendar | None = None
    milestones: dict[int, Milestone] = field(default_factory=dict)
    presentation: Presentation | None = None
    # what a measure may read: the ledgers and every declared table found (`kind: table`)
    sources: Mapping[str, Ledger] = field(default_factory=lambda: dict(LEDGERS))
    frequency: Frequency = Frequency()


SetRule = Callable[[SetContext], Iterable[Finding]]
FileRule = Callable[[FileDecl], Iterable[Finding]]


@dataclass(frozen=True)
class Stage:
    """Rules that look at the same objects; what they set aside is removed before the next
    stage, and `then` (a completion such as resolving parameters) runs on what is left."""

    name: str
    rules: tuple[SetRule, ...]
    then: Callable[[SetContext], None] | None = None


def report(findings: Iterable[Finding], issues: Issues) -> list[tuple[str, Any]]:
    """Add the findings' issues; return what they set aside."""
    dropped = []
    for f in findings:
        if f.code:
            issues.add(f.level, f.code, f.at[0], f.at[1], f.path, **f.values)
        if f.drops is not None:
            dropped.append(f.drops)
    return dropped


def run(ctx: SetContext, stages: Sequence[Stage], issues: Issues) -> None:
    """Apply every stage's rules to the set, collecting every issue."""
    for stage in stages:
        dropped = report((f for rule in stage.rules for f in rule(ctx)), issues)
        for collection, key in dropped:
            getattr(ctx, collection).pop(key, None)
        if stage.then is not None:
            stage.then(ctx)


def run_file_rules(decl: FileDecl, issues: Issues) -> None:
    report((f for rule in FILE_RULES for f in rule(decl)), issues)


# ---------------------------------------------------------------------------------------------
# Helpers the rules share
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


class _Bad:
    pass


BAD = _Bad()


def coerce(v: Any, ftype: str) -> Any:
    """A filter value in the field's type, or BAD."""
    kind = _FIELD_KINDS.get(ftype, "text")
    if kind == "number":
        if isinstance(v, bool):
            return BAD
        if isinstance(v, (int, float)):
            return float(v)
        try:
            return float(str(v).replace(",", ""))
        except ValueError:
            return BAD
    if kind == "bool":
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("是", "y", "yes", "true", "1"):
            return True
        if s in ("否", "n", "no", "false", "0"):
            return False
        return BAD
    if kind == "date":
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            return BAD
    if kind == "month":
        m = month_text(v)
        return BAD if m is None else m
    if isinstance(v, (LMap, LList)):
        return BAD
    return str(v)


def known_fields(ledger: str | None, sources: Mapping[str, Ledger] = LEDGERS) -> str:
    if ledger not in sources:
        return "—"
    return "、".join(f for f in sources[ledger].field_names if not f.startswith("_"))


def few(items: Iterable[str], n: int = 12) -> str:
    keys = sorted(items)
    return "、".join(keys[:n]) + ("…" if len(keys) > n else "") if keys else "—"


def field_type(
    m: Measure, name: str, at: At, path: str, sources: Mapping[str, Ledger] = LEDGERS
) -> tuple[str | None, Finding | None]:
    """Type of `name` in the measure's ledger or table (or `ledger.field` through its join)."""
    drops = ("measures", m.code)
    if "." in name:
        prefix, fld = name.split(".", 1)
        if m.join is None or prefix != m.join.ledger:
            return None, error(
                "E_UNKNOWN_FIELD",
                at,
                path,
                drops,
                field=name,
                ledger=m.ledger,
                known=known_fields(m.ledger, sources),
            )
        lg = sources[prefix]
    else:
        lg, fld = sources[m.ledger], name  # type: ignore[index]
    if fld not in lg.field_names:
        return None, error(
            "E_UNKNOWN_FIELD",
            at,
            path,
            drops,
            field=name,
            ledger=lg.name,
            known=known_fields(lg.name, sources),
        )
    return lg.field(fld).type, None


def param_value(
    v: Any, params: Mapping[str, Parameter], at: At, path: str, drops: tuple[str, Any]
) -> tuple[Any, Finding | None]:
    """`v` with a `$name` replaced by the parameter's value (or a finding if there is none)."""
    if isinstance(v, ParamRef):
        if v.name not in params:
            return None, error(
                "E_UNKNOWN_PARAMETER",
                at,
                path,
                drops,
                name=v.name,
                known="、".join(sorted(params)) or "—",
            )
        return params[v.name].value, None
    return v, None


def _ledger_measures(ctx: SetContext) -> Iterator[Measure]:
    return (m for m in list(ctx.measures.values()) if m.agg != "months")


# ---------------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------------
def measure_ledgers_exist(ctx: SetContext) -> Iterator[Finding]:
    """A measure reads a ledger or a declared table that exists, and joins one that exists."""
    for m in _ledger_measures(ctx):
        path = f"measures.{m.code}"
        for key, ledger in (("ledger", m.ledger), ("join", m.join.ledger if m.join else None)):
            if key == "join" and m.join is None:
                continue
            if ledger not in ctx.sources:
                yield error(
                    "E_UNKNOWN_LEDGER",
                    m.at(key),
                    path,
                    ("measures", m.code),
                    ledger=ledger,
                    known="、".join(ctx.sources),
                )
                break


def join_keys_exist(ctx: SetContext) -> Iterator[Finding]:
    """A join's key is a field of both ledgers."""
    for m in _ledger_measures(ctx):
        if m.join is None:
            continue
        for lname in (m.ledger, m.join.ledger):
            if m.join.on not in ctx.sources[lname].field_names:  # type: ignore[index]
                yield error(
                    "E_UNKNOWN_FIELD",
                    m.at("join"),
                    f"measures.{m.code}",
                    ("measures", m.code),
                    field=m.join.on,
                    ledger=lname,
                    known=known_fields(lname, ctx.sources),
                )


def date_fields_are_dates(ctx: SetContext) -> Iterator[Finding]:
    """`date` and `done_by` name date or month fields of the measure's ledger (a day date when
    `date_offset_days` shifts it)."""
    for m in _ledger_measures(ctx):
        lg = ctx.sources[m.ledger]  # type: ignore[index]
        for key, name, wrong_type in (
            ("date", m.date, "E_DATE_FIELD_TYPE"),
            ("done_by", m.done_by, "E_DONE_BY_FIELD"),
        ):
            if name is None:
                continue
            drops = ("measures", m.code)
            if name not in lg.field_names:
                yield error(
                    "E_UNKNOWN_FIELD",
                    m.at(key),
                    f"measures.{m.code}",
                    drops,
                    field=name,
                    ledger=lg.name,
                    known=known_fields(lg.name, ctx.sources),
                )
            elif lg.field(name).type not in ("date", "month"):
                yield error(wrong_type, m.at(key), f"measures.{m.code}", drops, field=name)
            elif key == "date" and m.date_offset_days and lg.field(name).type != "date":
                yield error("E_DATE_OFFSET", m.at("date_offset_days"), f"measures.{m.code}", drops)


def counted_field_exists(ctx: SetContext) -> Iterator[Finding]:
    """A measure's `field` exists; a summed field is money or a count."""
    for m in _ledger_measures(ctx):
        if m.field is None:
            continue
        path = f"measures.{m.code}"
        ftype, problem = field_type(m, m.field, m.at("field"), path, ctx.sources)
        if problem:
            yield problem
        elif m.agg == "sum" and ftype not in ("int", "yuan"):
            yield error(
                "E_SUM_NOT_NUMBER", m.at("field"), path, ("measures", m.code), field=m.field
            )


def expression_names_are_numbers(ctx: SetContext) -> Iterator[Finding]:
    """Every name in a measure's `expr` is a parameter or a money/count field."""
    for m in _ledger_measures(ctx):
        if m.expr is None:
            continue
        path = f"measures.{m.code}"
        for name in m.expr.names:
            if name in ctx.params:
                continue
            ftype, problem = field_type(m, name, m.at("expr"), path, ctx.sources)
            if problem:
                yield problem
            elif ftype not in ("int", "yuan"):
                yield error(
                    "E_SUM_NOT_NUMBER", m.at("expr"), path, ("measures", m.code), field=name
                )


def _clause_findings(ctx: SetContext, m: Measure, c: Condition, path: str) -> Iterator[Finding]:
    at = (m.file, c.line)
    if isinstance(c, (AnyOf, AllOf)):
        for x in c.clauses:
            yield from _clause_findings(ctx, m, x, path)
        return
    drops = ("measures", m.code)
    ftype, problem = field_type(m, c.field, at, path, ctx.sources)
    if problem:
        yield problem
        return
    if c.op in ("is_null", "not_null"):
        return
    if c.op == WITHIN_DAYS:
        yield from _within_days_findings(ctx, m, c, ftype, path)
        return
    for v in c.value if isinstance(c.value, tuple) else (c.value,):
        v, problem = param_value(v, ctx.params, at, path, drops)
        if problem:
            yield problem
            return
        if v is None:
            yield error("E_FILTER_VALUE", at, path, drops, field=c.field, value="null")
            return
        coerced = coerce(v, ftype)  # type: ignore[arg-type]
        if coerced is BAD:
            yield error("E_FILTER_VALUE", at, path, drops, field=c.field, value=v)
            return
        if ftype == "enum":
            lg_name = c.field.split(".")[0] if "." in c.field else m.ledger
            fdef = ctx.sources[lg_name].field(c.field.split(".")[-1])  # type: ignore[index]
            if coerced not in fdef.enum:
                yield error(
                    "E_VALUE_NOT_IN_ENUM",
                    at,
                    path,
                    drops,
                    field=c.field,
                    value=v,
                    allowed="、".join(fdef.enum),
                )
                return
        if c.op in (">", ">=", "<", "<=") and ftype in ("text", "enum", "bool", "code6"):
            yield error("E_FILTER_OP_TYPE", at, path, drops, field=c.field, op=c.op)
            return


def _within_days_findings(
    ctx: SetContext, m: Measure, c: Clause, ftype: str | None, path: str
) -> Iterator[Finding]:
    """`within_days` compares two dates of the row: both fields dates, the days a number ≥ 0."""
    at, drops = (m.file, c.line), ("measures", m.code)
    other, days = c.value
    otype, problem = field_type(m, other, at, path, ctx.sources)
    if problem:
        yield problem
        return
    days, problem = param_value(days, ctx.params, at, path, drops)
    if problem:
        yield problem
        return
    n = coerce(days, "int")
    if ftype != "date" or otype != "date" or n is BAD or n is None or n < 0:  # type: ignore[operator]
        yield error("E_WITHIN_DAYS", at, path, drops, field=c.field)


def filters_fit_fields(ctx: SetContext) -> Iterator[Finding]:
    """Each `where` clause names a field of the ledger, with a value of the field's type (an
    enum value the ledger allows; no < or > on text); a clause that can never match is an
    error, not an empty count."""
    for m in _ledger_measures(ctx):
        for c in m.where:
            yield from _clause_findings(ctx, m, c, f"measures.{m.code}")


def table_measures(ctx: SetContext) -> Iterator[tuple[Measure, Ledger]]:
    """(measure, declared table) for every measure reading or joining a declared table."""
    for m in _ledger_measures(ctx):
        for name in (m.ledger, m.join.ledger if m.join else None):
            if name is not None and name not in LEDGERS and name in ctx.sources:
                yield m, ctx.sources[name]


def tables_share_a_frequency(ctx: SetContext) -> Iterator[Finding]:
    """The tables a set reads fit one frequency: the coarsest of theirs must be made of whole
    periods of each (quarters fit a fiscal year starting in July; a calendar year does not)."""
    found = list(table_measures(ctx))
    coarse = coarsest(getattr(lg, "frequency", Frequency()) for _m, lg in found)
    for m, lg in found:
        freq = getattr(lg, "frequency", Frequency())
        if not freq.aligns_with(coarse):
            yield error(
                "E_FREQUENCY_MISMATCH",
                m.at("ledger"),
                f"measures.{m.code}",
                ("measures", m.code),
                table=lg.name,
                frequency=freq.describe(),
                other=coarse.describe(),
            )


def spans_fit_the_frequency(ctx: SetContext) -> Iterator[Finding]:
    """Every span named is one the set's frequency offers (a fiscal-year table has no month
    or year-to-date; monthly ledgers have no fiscal year), and a calendar (phases, milestones,
    months of a campaign) belongs to a monthly set."""
    freq = ctx.frequency
    allowed = "、".join(f"{s}（{t(f'ind.span.{s}')}）" for s in freq.spans)

    def bad(span: str | None) -> bool:
        return bool(span) and not span.startswith(PHASE_SPAN) and span not in freq.spans

    for ind in list(ctx.indicators.values()):
        # an indicator of monthly data may also count every month to date (a stock)
        if bad(ind.span) and not (ind.span == TO_DATE and freq.is_monthly):
            yield error(
                "E_SPAN_FREQUENCY",
                ind.at("span"),
                f"indicators.{ind.code}",
                ("indicators", ind.code),
                span=ind.span,
                frequency=freq.describe(),
                allowed=allowed,
            )
    for hk, h in list(ctx.hierarchies.items()):
        if "span" in h.key_lines and bad(h.span):
            yield error(
                "E_SPAN_FREQUENCY",
                h.at("span"),
                f"hierarchies.{hk}",
                ("hierarchies", hk),
                span=h.span,
                frequency=freq.describe(),
                allowed=allowed,
            )
    if "default_span" in ctx.decl.data and bad(ctx.decl.default_span):
        yield error(
            "E_SPAN_FREQUENCY",
            ctx.decl.data.at("default_span"),
            "default_span",
            span=ctx.decl.default_span,
            frequency=freq.describe(),
            allowed=allowed,
        )
    if ctx.decl.calendar_ref and not freq.is_monthly:
        yield error(
            "E_CALENDAR_FREQUENCY",
            (str(ctx.decl.path), ctx.decl.calendar_ref[1]),
            "calendar",
            frequency=freq.describe(),
        )


# ---------------------------------------------------------------------------------------------
# Indicators
# ---------------------------------------------------------------------------------------------
def indicator_measures_exist(ctx: SetContext) -> Iterator[Finding]:
    """Numerator and denominator name declared measures."""
    for ind in list(ctx.indicators.values()):
        for key, names in (("numerator", ind.numerator), ("denominator", ind.denominator)):
            for name in names:
                if name in ctx.measures:
                    continue
                if name in ctx.declared_measures:  # broken itself: reported where it is
                    yield drop("indicators", ind.code)
                    continue
                yield error(
                    "E_UNKNOWN_MEASURE",
                    ind.at(key),
                    f"indicators.{ind.code}",
                    ("indicators", ind.code),
                    name=name,
                    known=few(ctx.measures),
                )


def changes_are_of_rates_or_counts(ctx: SetContext) -> Iterator[Finding]:
    """A change indicator is of a declared ratio, share or count indicator."""
    for ind in list(ctx.indicators.values()):
        if ind.type != "change":
            continue
        path, drops = f"indicators.{ind.code}", ("indicators", ind.code)
        if ind.of not in ctx.declared_indicators:
            yield error(
                "E_UNKNOWN_INDICATOR",
                ind.at("of"),
                path,
                drops,
                name=ind.of,
                known=few(ctx.indicators),
            )
        elif ind.of in ctx.indicators and ctx.indicators[ind.of].type not in (
            "ratio",
            "share",
            "count",
        ):
            yield error("E_CHANGE_OF_TYPE", ind.at("of"), path, drops, name=ind.of)


def derived_names_are_indicators(ctx: SetContext) -> Iterator[Finding]:
    """Every name in a derived indicator's `expr` is a declared indicator."""
    for ind in list(ctx.indicators.values()):
        if ind.type != "derived" or ind.expr is None:
            continue
        for name in sorted(ind.expr.names):
            if name not in ctx.declared_indicators:
                yield error(
                    "E_UNKNOWN_INDICATOR",
                    ind.at("expr"),
                    f"indicators.{ind.code}",
                    ("indicators", ind.code),
                    name=name,
                    known=few(ctx.indicators),
                )


def resolve_baseline(
    b: Baseline | None, params: Mapping[str, Parameter], at: At, path: str, drops: tuple
) -> tuple[Baseline | None, Finding | None]:
    """A baseline with its `$year` parameter replaced by a year."""
    if b is None or not isinstance(b.year, ParamRef):
        return b, None
    y, problem = param_value(b.year, params, at, path, drops)
    if problem:
        return None, problem
    if not isinstance(y, int) or isinstance(y, bool):
        return None, error("E_BAD_BASELINE", at, path, drops, value=y)
    return Baseline("year", y), None


def resolve_target(
    tg: Target | None, params: Mapping[str, Parameter], at: At, path: str, drops: tuple
) -> tuple[Target | None, Finding | None]:
    """A target with its parameters replaced by numbers."""
    if tg is None:
        return None, None
    value, problem = param_value(tg.value, params, at, path, drops)
    if problem:
        return None, problem
    relative, problem = param_value(tg.relative, params, at, path, drops)
    if problem:
        return None, problem
    for v in (value, relative):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            return None, error("E_BAD_TARGET", at, path, drops)
    baseline, problem = resolve_baseline(tg.baseline, params, at, path, drops)
    if problem:
        return None, problem
    return dataclasses.replace(
        tg,
        value=None if value is None else float(value),
        relative=None if relative is None else float(relative),
        baseline=baseline,
    ), None


def baselines_and_targets_resolve(ctx: SetContext) -> Iterator[Finding]:
    """Parameters in baselines and targets exist and give numbers (a baseline year an
    integer)."""
    for ind in list(ctx.indicators.values()):
        path, drops = f"indicators.{ind.code}", ("indicators", ind.code)
        _, problem = resolve_baseline(ind.baseline, ctx.params, ind.at("baseline"), path, drops)
        if problem:
            yield problem
        _, problem = resolve_target(
            ind.target, ctx.params, ind.at("target"), f"{path}.target", drops
        )
        if problem:
            yield problem


def no_cycles(ctx: SetContext) -> Iterator[Finding]:
    """Change and derived indicators do not depend on themselves, directly or not."""
    indicators = ctx.indicators
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()
    found: list[Finding] = []

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
                    found.append(
                        error(
                            "E_CYCLE",
                            (ind.file, ind.line),
                            f"indicators.{code}",
                            chain=" → ".join(cyc),
                        )
                    )
            elif state.get(dep) is None:
                visit(dep, stack + [dep])
        state[code] = 2

    for code in list(indicators):
        if state.get(code) is None:
            visit(code, [code])
    yield from found
    for c in sorted({c for cyc in reported for c in cyc}):
        yield drop("indicators", c)


# ---------------------------------------------------------------------------------------------
# Calendar and milestones
# ---------------------------------------------------------------------------------------------
def calendar_exists(ctx: SetContext) -> Iterator[Finding]:
    """`calendar:` names a calendar file."""
    if not ctx.decl.calendar_ref:
        return
    cname, line = ctx.decl.calendar_ref
    if cname not in ctx.files or ctx.files[cname].kind != "calendar":
        yield error(
            "E_UNKNOWN_CALENDAR",
            (str(ctx.decl.path), line),
            name=cname,
            known=few(c for c, f in ctx.files.items() if f.kind == "calendar"),
        )


def milestone_target(ms: Milestone, ind: Indicator) -> tuple[str, float, dt.date | None]:
    """A milestone's op, value and deadline, each taken from the indicator's target when the
    milestone leaves it out."""
    tg = ind.target
    op = ms.op or (tg.op if tg else "")
    value = ms.value
    if math.isnan(value) and tg is not None and tg.value is not None:
        value = tg.value
    deadline = ms.deadline if ms.deadline != dt.date.min else (tg.deadline if tg else None)
    return op, value, deadline


def milestones_are_complete(ctx: SetContext) -> Iterator[Finding]:
    """A milestone names a declared indicator and has an op, a value and a deadline (its own
    or its indicator's target's); a deadline before the campaign is suspicious."""
    cal = ctx.calendar
    if cal is None:
        return
    for i, ms in list(ctx.milestones.items()):
        at, path = (cal.file, ms.line), f"milestones.{ms.code}"
        ind = ctx.indicators.get(ms.indicator)
        if ind is None:
            if ms.indicator in ctx.declared_indicators:  # broken itself: reported where it is
                yield drop("milestones", i)
                continue
            yield error(
                "E_UNKNOWN_INDICATOR",
                at,
                path,
                ("milestones", i),
                name=ms.indicator,
                known=few(ctx.indicators),
            )
            continue
        op, value, deadline = milestone_target(ms, ind)
        if not op or math.isnan(value) or deadline is None:
            yield error("E_MILESTONE_INCOMPLETE", at, path, ("milestones", i), code=ms.code)
        elif deadline < cal.start:
            yield warning("W_MILESTONE_BEFORE_CAMPAIGN", at, path, code=ms.code)


# ---------------------------------------------------------------------------------------------
# Hierarchies
# ---------------------------------------------------------------------------------------------
def hierarchy_leaves_are_indicators(ctx: SetContext) -> Iterator[Finding]:
    """Every leaf of a hierarchy is a declared indicator."""
    for hk, h in list(ctx.hierarchies.items()):
        for n in h.nodes:
            if n.indicator is None or n.indicator in ctx.indicators:
                continue
            if n.indicator in ctx.declared_indicators:  # broken itself: reported where it is
                yield drop("hierarchies", hk)
                continue
            yield error(
                "E_UNKNOWN_INDICATOR",
                (h.file, n.line),
                f"hierarchies.{hk}",
                ("hierarchies", hk),
                name=n.indicator,
                known=few(ctx.indicators),
            )


def target_scoring_has_targets(ctx: SetContext) -> Iterator[Finding]:
    """A hierarchy scored against targets has one for every leaf (node target, goalposts,
    or the indicator's absolute target)."""
    for hk, h in list(ctx.hierarchies.items()):
        entry = NORMALISERS.get(h.method.normalise)
        if entry is None or not entry.needs & {"target", "goalposts"}:
            continue
        for n in h.nodes:
            ind = ctx.indicators.get(n.indicator or "")
            if ind is None:
                continue
            has_abs = ind.target is not None and ind.target.value is not None
            if n.goalposts is None and n.target is None and not has_abs:
                yield error(
                    "E_HIERARCHY_NO_TARGET",
                    (h.file, n.line),
                    f"hierarchies.{hk}",
                    ("hierarchies", hk),
                    code=n.code,
                    method=h.method.normalise,
                )


def method_references_are_indicators(ctx: SetContext) -> Iterator[Finding]:
    """`method: denominate:` names a leaf of the tree and a declared indicator to divide it by;
    `impute_group:` names a declared indicator (the unit's group)."""
    for hk, h in list(ctx.hierarchies.items()):
        path, drops = f"hierarchies.{hk}.method", ("hierarchies", hk)
        leaves = {n.code for n in h.nodes if n.indicator is not None}
        for leaf, den in h.method.denominate.items():
            if leaf not in leaves:
                yield error(
                    "E_UNKNOWN_INDICATOR",
                    (h.file, den.line),
                    f"{path}.denominate",
                    drops,
                    name=leaf,
                    known=few(leaves),
                )
            if den.indicator not in ctx.declared_indicators:
                yield error(
                    "E_UNKNOWN_INDICATOR",
                    (h.file, den.line),
                    f"{path}.denominate",
                    drops,
                    name=den.indicator,
                    known=few(ctx.indicators),
                )
            elif den.indicator not in ctx.indicators:
                yield drop("hierarchies", hk)
        group = h.method.options.get("impute_group")
        if group is None:
            continue
        if group not in ctx.declared_indicators:
            yield error(
                "E_UNKNOWN_INDICATOR",
                (h.file, h.method.lines.get("impute_group")),
                f"{path}.impute_group",
                drops,
                name=group,
                known=few(ctx.indicators),
            )
        elif group not in ctx.indicators:
            yield drop("hierarchies", hk)


def campaign_span_needs_calendar(ctx: SetContext) -> Iterator[Finding]:
    """The campaign-to-date span (ctd) needs a calendar: for a hierarchy and for the set's
    default span."""
    if ctx.calendar is not None:
        return
    for hk, h in list(ctx.hierarchies.items()):
        if h.span == "ctd":
            yield error(
                "E_CTD_NO_CALENDAR", (h.file, h.line), f"hierarchies.{hk}", ("hierarchies", hk)
            )
    if ctx.decl.default_span == "ctd":
        yield error("E_CTD_NO_CALENDAR", ctx.decl.data.at("default_span"), "default_span")


# ---------------------------------------------------------------------------------------------
# Presentation
# ---------------------------------------------------------------------------------------------
def _presented(p: Presentation) -> Iterator[tuple[str, At, str]]:
    """(indicator code, where it is named, path) for every indicator a presentation names."""
    for i, g in enumerate(p.card_groups):
        lines = g.indicator_lines or (g.line,) * len(g.indicators)
        for code, line in zip(g.indicators, lines):
            yield code, (p.file, line), f"presentation.card_groups[{i}]"
    for i, st in enumerate(p.funnel):
        yield st.indicator, (p.file, st.line), f"presentation.funnel[{i}]"
    for key in ("recovery", "rectification"):
        code = getattr(p, key)
        if code is not None:
            yield code, p.at(key), f"presentation.{key}"


def presented_indicators_exist(ctx: SetContext) -> Iterator[Finding]:
    """Cards, funnel stages and progress bars name indicators of the set."""
    p = ctx.presentation
    if p is None:
        return
    for code, at, path in _presented(p):
        if code not in ctx.declared_indicators:
            yield error("E_UNKNOWN_INDICATOR", at, path, name=code, known=few(ctx.indicators))


def default_index_exists(ctx: SetContext) -> Iterator[Finding]:
    """`default_index` is one of the set's hierarchies (its own or an included one)."""
    p = ctx.presentation
    if p is None or p.default_index is None:
        return
    known = ctx.declared_hierarchies
    if p.default_index not in known:
        yield error(
            "E_UNKNOWN_HIERARCHY",
            p.at("default_index"),
            "presentation.default_index",
            name=p.default_index,
            known=few(known),
        )


def funnel_parts_exist(ctx: SetContext) -> Iterator[Finding]:
    """A funnel stage reads a part its indicator has (a count has no denominator)."""
    p = ctx.presentation
    if p is None:
        return
    for i, st in enumerate(p.funnel):
        ind = ctx.indicators.get(st.indicator)
        if ind is not None and st.part not in TYPE_PARTS.get(ind.type, ()):
            yield error(
                "E_FUNNEL_PART",
                (p.file, st.line),
                f"presentation.funnel[{i}]",
                name=st.indicator,
                type=ind.type,
                part=st.part,
            )


def progress_bars_are_rates(ctx: SetContext) -> Iterator[Finding]:
    """The 追回 and 整改进度 bars show a numerator out of a denominator: a ratio or share."""
    p = ctx.presentation
    if p is None:
        return
    for key in ("recovery", "rectification"):
        ind = ctx.indicators.get(getattr(p, key) or "")
        if ind is not None and ind.type not in RATE_TYPES:
            yield error(
                "E_NOT_A_RATE",
                p.at(key),
                f"presentation.{key}",
                name=ind.code,
                type=ind.type,
            )


# ---------------------------------------------------------------------------------------------
# File rules: one file's own declarations
# ---------------------------------------------------------------------------------------------
def hierarchies_are_not_flat(decl: FileDecl) -> Iterator[Finding]:
    """Indicators sit below at least one level of dimensions: a tree with indicators straight
    under `tree:` is refused by `--check` with the fix, instead of failing when computed."""
    for hk, h in decl.hierarchies.items():
        if h.depth == 1:
            yield error("E_HIERARCHY_FLAT", h.at("tree"), f"hierarchies.{hk}", code=hk, name=h.name)


def short_names_fit_a_card(decl: FileDecl) -> Iterator[Finding]:
    """A card title (`short_name`, else the name) of at most SHORT_NAME_MAX characters."""
    for code, ind in decl.indicators.items():
        title = ind.short_name or ind.name
        if len(title) > SHORT_NAME_MAX:
            key = "short_name" if "short_name" in ind.key_lines else "name"
            yield warning(
                "W_SHORT_NAME_LONG",
                ind.at(key),
                f"indicators.{code}",
                title=title,
                n=len(title),
                limit=SHORT_NAME_MAX,
            )


def presentation_codes_unique(decl: FileDecl) -> Iterator[Finding]:
    """An indicator is on one card only; a funnel stage appears once."""
    p = decl.presentation
    if p is None:
        return
    seen: dict[str, str] = {}
    for i, g in enumerate(p.card_groups):
        lines = g.indicator_lines or (g.line,) * len(g.indicators)
        for code, line in zip(g.indicators, lines):
            if code in seen:
                yield error(
                    "E_DUPLICATE_CARD",
                    (p.file, line),
                    f"presentation.card_groups[{i}]",
                    name=code,
                    group=seen[code],
                )
            else:
                seen[code] = g.name
    stages: set[str] = set()
    for i, st in enumerate(p.funnel):
        if st.stage in stages:
            yield error(
                "E_DUPLICATE_STAGE", (p.file, st.line), f"presentation.funnel[{i}]", stage=st.stage
            )
        stages.add(st.stage)


# Names a declared table may not take: the warehouse already has tables (and views) of these
# names, or will (a ledger's `_current` view).
RESERVED_TABLE_CODES = frozenset(
    {
        "submissions",
        "replacements",
        "quarantine",
        "ingest_issues",
        "schema_upgrades",
        "compute_runs",
        "indicator_values",
        "city_indicator_values",
        "index_scores",
        "rank_uncertainty",
        "milestones",
        "lagging",
        "issue_lists",
    }
)


def table_code_is_free(decl: FileDecl) -> Iterator[Finding]:
    """A table's code is not a ledger's nor a warehouse table's (it names its table there)."""
    if decl.table is None:
        return
    code = decl.code
    if code in LEDGERS or code in RESERVED_TABLE_CODES or code.endswith("_current"):
        yield error("E_TABLE_CODE_TAKEN", decl.data.at("code"), "code", code=code)


def table_columns_are_distinct(decl: FileDecl) -> Iterator[Finding]:
    """Every column of a table has its own name and its own header (headers are compared as
    ingest reads them: full/half width, brackets and spaces aside)."""
    tb = decl.table
    if tb is None:
        return
    names: dict[str, TableField] = {}
    headers: dict[str, TableField] = {}
    for f in tb.columns:
        at = (tb.file, f.line)
        if f.name in names:
            yield error("E_DUPLICATE_FIELD", at, f"fields.{f.name}", name=f.name)
        names.setdefault(f.name, f)
        for h in (f.header, *f.aliases):
            key = normalise_header(h)
            if key in headers and headers[key] is not f:
                yield error(
                    "E_DUPLICATE_HEADER", at, f"fields.{f.name}", header=h, other=headers[key].name
                )
            headers.setdefault(key, f)


FILE_RULES: tuple[FileRule, ...] = (
    hierarchies_are_not_flat,
    short_names_fit_a_card,
    presentation_codes_unique,
    table_code_is_free,
    table_columns_are_distinct,
)
