"""Building one indicator set: includes merged, the set rules run, the frozen set completed.

The rules (`rules`) decide what is wrong; this module decides the order they run in and does
the completions between them — parameters replaced by their values, filter values turned into
their fields' types, milestones filled from their indicators' targets — so that the
`IndicatorSet` handed to computation holds no reference left to resolve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from workbench.contracts import LEDGERS
from workbench.declarations import rules
from workbench.declarations.issues import Issues
from workbench.declarations.loader import LMap
from workbench.declarations.model import (
    AllOf,
    AnyOf,
    Condition,
    HierarchyDecl,
    IndicatorSet,
    SourceDocument,
    Measure,
    Presentation,
    TableDecl,
)
from workbench.declarations.rules import SetContext, Stage
from workbench.declarations.shaping import FileDecl
from workbench.declarations.vocabulary import WITHIN_DAYS
from workbench.periods import Frequency, coarsest


# ---------------------------------------------------------------------------------------------
# Completions (run on what the rules of a stage left)
# ---------------------------------------------------------------------------------------------
def _typed_clause(ctx: SetContext, m: Measure, c: Condition) -> Condition:
    if isinstance(c, (AnyOf, AllOf)):
        return dataclasses.replace(c, clauses=tuple(_typed_clause(ctx, m, x) for x in c.clauses))
    if c.op in ("is_null", "not_null"):
        return c
    if c.op == WITHIN_DAYS:
        other, days = c.value
        days, _ = rules.param_value(days, ctx.params, (m.file, c.line), "", ("", None))
        n = int(rules.coerce(days, "int"))  # the rules passed it: a number of days ≥ 0
        return dataclasses.replace(c, value=(other, n))
    ftype, _ = rules.field_type(m, c.field, (m.file, c.line), "", ctx.sources)
    out = []
    for v in c.value if isinstance(c.value, tuple) else (c.value,):
        v, _ = rules.param_value(v, ctx.params, (m.file, c.line), "", ("", None))
        out.append(rules.coerce(v, ftype))  # type: ignore[arg-type]
    return dataclasses.replace(c, value=tuple(out) if isinstance(c.value, tuple) else out[0])


def type_filter_values(ctx: SetContext) -> None:
    """Filter values in their fields' types, parameters replaced (the rules passed them)."""
    for k, m in list(ctx.measures.items()):
        if m.agg != "months" and m.where:
            ctx.measures[k] = dataclasses.replace(
                m, where=tuple(_typed_clause(ctx, m, c) for c in m.where)
            )


def set_frequency(ctx: SetContext) -> None:
    """The set's frequency: the coarsest of its tables' (monthly for the ledgers alone)."""
    ctx.frequency = coarsest(
        getattr(lg, "frequency", Frequency()) for _m, lg in rules.table_measures(ctx)
    )


def natural_spans(ctx: SetContext) -> None:
    """Hierarchies that name no span are computed over one whole period of a yearly,
    fiscal-year or quarterly set (over the year to date of a monthly one, as before)."""
    if ctx.frequency.is_monthly:
        return
    for k, h in list(ctx.hierarchies.items()):
        if "span" not in h.key_lines:
            ctx.hierarchies[k] = dataclasses.replace(h, span=ctx.frequency.natural_span)


def resolve_targets(ctx: SetContext) -> None:
    """Baselines and targets with their parameters replaced by numbers."""
    for k, ind in list(ctx.indicators.items()):
        none = ("", None)
        baseline, _ = rules.resolve_baseline(ind.baseline, ctx.params, none, "", none)
        target, _ = rules.resolve_target(ind.target, ctx.params, none, "", none)
        ctx.indicators[k] = dataclasses.replace(ind, baseline=baseline, target=target)


def attach_calendar(ctx: SetContext) -> None:
    ref = ctx.decl.calendar_ref
    if ref and ref[0] in ctx.files and ctx.files[ref[0]].kind == "calendar":
        ctx.calendar = ctx.files[ref[0]].calendar
        if ctx.calendar is not None:
            ctx.milestones = dict(enumerate(ctx.calendar.milestones))


def fill_milestones(ctx: SetContext) -> None:
    """Each milestone's op, value and deadline from its indicator's target where omitted."""
    if ctx.calendar is None:
        return
    out = []
    for ms in ctx.milestones.values():
        ind = ctx.indicators[ms.indicator]
        op, value, deadline = rules.milestone_target(ms, ind)
        out.append(
            dataclasses.replace(
                ms, op=op, value=float(value), deadline=deadline, name=ms.name or ind.name
            )
        )
    ctx.calendar = dataclasses.replace(ctx.calendar, milestones=tuple(out))


STAGES: tuple[Stage, ...] = (
    Stage("measure ledgers", (rules.measure_ledgers_exist,)),
    Stage(
        "measure fields",
        (
            rules.join_keys_exist,
            rules.date_fields_are_dates,
            rules.counted_field_exists,
            rules.expression_names_are_numbers,
            rules.filters_fit_fields,
        ),
        then=type_filter_values,
    ),
    Stage("frequency", (rules.tables_share_a_frequency,), then=set_frequency),
    Stage(
        "indicators",
        (
            rules.indicator_measures_exist,
            rules.changes_are_of_rates_or_counts,
            rules.derived_names_are_indicators,
            rules.baselines_and_targets_resolve,
        ),
        then=resolve_targets,
    ),
    Stage("cycles", (rules.no_cycles,)),
    Stage("calendar", (rules.calendar_exists,), then=attach_calendar),
    Stage("milestones", (rules.milestones_are_complete,), then=fill_milestones),
    Stage(
        "hierarchies",
        (
            rules.hierarchy_leaves_are_indicators,
            rules.method_references_are_indicators,
            rules.target_scoring_has_targets,
            rules.campaign_span_needs_calendar,
            rules.spans_fit_the_frequency,
        ),
        then=natural_spans,
    ),
    Stage(
        "presentation",
        (
            rules.presented_indicators_exist,
            rules.default_index_exists,
            rules.funnel_parts_exist,
            rules.progress_bars_are_rates,
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# Includes
# ---------------------------------------------------------------------------------------------
def _set_codes(files: Mapping[str, FileDecl]) -> str:
    return rules.few((c for c, f in files.items() if f.kind == "indicator_set"), n=10**6)


def _hierarchies_reachable(code: str, files: Mapping[str, FileDecl]) -> set[str]:
    """Hierarchy codes a set can have once built: its own and its included sets'."""
    out: set[str] = set()
    todo, seen = [code], set()
    while todo:
        c = todo.pop()
        if c in seen or c not in files:
            continue
        seen.add(c)
        out |= set(files[c].hierarchies)
        todo.extend(inc.code for inc in files[c].includes)
    return out


def include_chain(
    decl: FileDecl, files: Mapping[str, FileDecl], issues: Issues
) -> tuple[list[FileDecl], dict[str, set[str]]]:
    """The files a set is built from, depth first (included before including, the set last),
    and for each file the hierarchies it carries into the set: every one, unless an include on
    the way says `hierarchies: [...]` (a set's hierarchies include what it carries itself)."""
    chain: list[FileDecl] = []
    carried: dict[str, set[str]] = {}

    def collect(d: FileDecl, stack: tuple[str, ...], keep: tuple[frozenset[str] | None, ...]):
        for inc in d.includes:
            at = (str(d.path), inc.line)
            if inc.code in stack:
                issues.error("E_INCLUDE_CYCLE", at, chain=" → ".join((*stack, inc.code)))
                continue
            if inc.code not in files or files[inc.code].kind != "indicator_set":
                issues.error("E_UNKNOWN_SET", at, name=inc.code, known=_set_codes(files) or "—")
                continue
            only = None if inc.hierarchies is None else frozenset(inc.hierarchies)
            if only:
                known = _hierarchies_reachable(inc.code, files)
                for h in sorted(only - known):
                    issues.error("E_UNKNOWN_HIERARCHY", at, name=h, known=rules.few(known))
            collect(files[inc.code], (*stack, inc.code), (*keep, only))
        mine = {h for h in d.hierarchies if all(k is None or h in k for k in keep)}
        carried.setdefault(d.code, set()).update(mine)
        if d not in chain:
            chain.append(d)

    collect(decl, (decl.code,), ())
    return chain, carried


def _declared(chain: list[FileDecl], section: str) -> frozenset[str]:
    """Every code a section of the chain's files names, including ones shaping refused: a
    reference to one of those is not reported again as a reference to nothing."""
    out: set[str] = set()
    for d in chain:
        sec = d.data.get(section)
        if isinstance(sec, LMap):
            out.update(str(k) for k in sec)
    return frozenset(out)


def _with_bands(h: HierarchyDecl, d: FileDecl) -> HierarchyDecl:
    """A hierarchy without grade bands of its own takes its file's set-wide ones; when neither
    declares any, it has none (no built-in 优秀/良好/合格/不合格 is applied)."""
    if h.grade_bands or not d.grade_bands:
        return h
    return dataclasses.replace(h, grade_bands=d.grade_bands)


def build_set(code: str, files: dict[str, FileDecl], issues: Issues) -> IndicatorSet | None:
    """One set from the files read: includes merged, every rule run; None when it has errors."""
    decl = files[code]
    n_errors = len(issues.errors)
    chain, carried = include_chain(decl, files, issues)

    params, measures, indicators = {}, {}, {}
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
    # the set's own hierarchies first, then those its includes carry (a later include wins, as
    # for measures; the set's own definition wins over any and says so)
    included: dict[str, HierarchyDecl] = {}
    for d in chain:
        if d is not decl:
            for k, h in d.hierarchies.items():
                if k in carried.get(d.code, ()):
                    included[k] = _with_bands(h, d)
    hierarchies: dict[str, HierarchyDecl] = {}
    for k, h in decl.hierarchies.items():
        if k in included:
            issues.warning("W_OVERRIDE", (h.file, h.line), k, code=k, other=included[k].file)
        hierarchies[k] = _with_bands(h, decl)
    hierarchies.update((k, h) for k, h in included.items() if k not in hierarchies)
    declared_hierarchies = _declared([decl], "hierarchies") | set(hierarchies)

    ctx = SetContext(
        code=code,
        decl=decl,
        files=files,
        chain=chain,
        params=params,
        measures=measures,
        indicators=indicators,
        hierarchies=hierarchies,
        declared_measures=_declared(chain, "measures"),
        declared_indicators=_declared(chain, "indicators"),
        declared_hierarchies=declared_hierarchies,
        presentation=decl.presentation,
        sources={**LEDGERS, **{c: tb.ledger for c, tb in declared_tables(files).items()}},
    )
    rules.run(ctx, STAGES, issues)
    if len(issues.errors) > n_errors:
        return None
    calendar = ctx.calendar
    freq = ctx.frequency
    read = {m.ledger for m in ctx.measures.values()} | {
        m.join.ledger for m in ctx.measures.values() if m.join
    }
    tables = {k: tb for k, tb in declared_tables(files).items() if k in read}
    declared_span = "default_span" in decl.data or freq.is_monthly
    catalogues = [files[k] for k in sorted(files) if files[k].kind == "sources"]
    return IndicatorSet(
        code=code,
        name=str(decl.data.get("name") or code),
        parameters=MappingProxyType(params),
        measures=MappingProxyType(ctx.measures),
        indicators=MappingProxyType(ctx.indicators),
        hierarchies=MappingProxyType(ctx.hierarchies),
        calendar=calendar,
        grade_bands=decl.grade_bands,
        default_span=decl.default_span if declared_span else freq.natural_span,
        description=str(decl.data.get("description") or ""),
        source=str(decl.data.get("source") or ""),
        files=tuple(str(d.path) for d in chain)
        + ((calendar.file,) if calendar else ())
        + tuple(str(files[k].path) for k in sorted(tables))
        + tuple(str(d.path) for d in catalogues),
        presentation=decl.presentation or Presentation(),
        tables=MappingProxyType(tables),
        frequency=freq,
        documents=MappingProxyType(source_documents(files, issues)),
    )


def source_documents(files: Mapping[str, FileDecl], issues: Issues) -> dict[str, SourceDocument]:
    """Every catalogued source document among the files read (`kind: sources`), by code; a code
    catalogued twice is reported where it is repeated (the first file, by code, wins)."""
    out: dict[str, SourceDocument] = {}
    for k in sorted(files):
        if files[k].kind != "sources":
            continue
        for doc in files[k].documents:
            if doc.code in out:
                issues.error(
                    "E_DUPLICATE_SOURCE",
                    (doc.declared_in, doc.line),
                    f"documents.{doc.code}",
                    code=doc.code,
                    other=out[doc.code].declared_in,
                )
                continue
            out[doc.code] = doc
    return out


def declared_tables(files: Mapping[str, FileDecl]) -> dict[str, TableDecl]:
    """Every declared table among the files read."""
    return {code: d.table for code, d in files.items() if d.kind == "table" and d.table}
