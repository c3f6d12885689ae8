"""The frozen model: what a validated declaration is.

Computation only ever sees these immutable objects, never raw dicts. They are built by
`shaping` (YAML → draft objects) and completed by `building` (includes merged, parameters and
filter values resolved) after the rules have passed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from workbench import fmt
from workbench.contracts import LEDGERS, Field, Ledger
from workbench.declarations.issues import Issue
from workbench.declarations.vocabulary import PERIOD_END, TABLE_TYPE_AS
from workbench.messages import t
from workbench.periods import Frequency


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

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the clause reads (a `within_days` clause reads a second date)."""
        if self.op == "within_days" and isinstance(self.value, tuple) and self.value:
            return (self.field, str(self.value[0]))
        return (self.field,)


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
    # `not_done_by: <date field>` (done_by holds the field): a row counts in a window only while
    # it is still not done at the window's end (a blank date: not done) — e.g. open past 时限
    not_done: bool = False
    # what the whole's figure counts when it is not the unit's: 12 个月 for one county, 120
    # 区县·月 summed over ten (`agg: months`); blank: `unit`
    city_unit: str = ""
    # `date_offset_days: n`: the row's month is that of `date` + n days — a case due on the 31st
    # is overdue from the 1st (`date: due_date`, `date_offset_days: 1`)
    date_offset_days: int = 0

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
    def dating(self) -> str | None:
        """What the engines bin the rows by: `date`, or `date` shifted (`dating_parts`)."""
        if self.date is None or not self.date_offset_days:
            return self.date
        return f"{self.date}{self.date_offset_days:+d}d"

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
            *(f for c in clauses_of(self.where) for f in c.fields),
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


def default_decimals(unit: str, type: str) -> int:
    """Digits an indicator shows when its declaration gives no `decimals`: the formatter's rule
    for its unit (`fmt.default_decimals`: 1 for %, 1 for money in 万元/亿元, 0 for counted
    things, 2 for other units such as 件/万人), except that a count indicator without a counted
    unit is still whole. Decided here once, when the set is loaded, so every face reads the
    same `Indicator.decimals`."""
    if type == "count" and fmt.unit_kind(unit) == fmt.NUMBER and "/" not in str(unit or ""):
        return 0
    return fmt.default_decimals(unit)


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
    decimals: int = 1  # digits shown after the point (money: of the 万元 figure)
    short_name: str = ""  # the cockpit card title; the name when not declared
    # the least data (the baseline's denominator, or count) a comparison with a baseline needs
    # to be judged; None: the set's `presentation.min_baseline`, else no minimum
    min_baseline: int | None = None
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
    """`denominate:` a leaf by another declared indicator (divided by `scale`)."""

    indicator: str
    scale: float = 1.0
    line: int | None = None


@dataclass(frozen=True)
class Method:
    """A hierarchy's `method:`; `options` holds every other catalogue option that was set
    (composite_methods.OPTIONS), `denominate` leaf node → denominator indicator, `lines` the
    line of each key."""

    impute: str = "none"
    treat: bool = False
    normalise: str = "minmax"
    aggregate: str | Mapping[int, str] = "arithmetic"
    uncertainty_samples: int | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    denominate: Mapping[str, Denominator] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    lines: Mapping[str, int | None] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )


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
    key_lines: Mapping[str, int] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def at(self, key: str | None = None) -> tuple[str, int | None]:
        """File and line of the hierarchy, or of one of its keys."""
        return self.file, self.key_lines.get(key, self.line) if key else self.line

    @property
    def indicators(self) -> tuple[str, ...]:
        return tuple(n.indicator for n in self.nodes if n.indicator)

    @property
    def depth(self) -> int:
        """Levels below the index: 1 for indicators straight under the root."""
        return self.nodes[0].level - 1 if self.nodes else 0


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
    # day of the next month by which a county's monthly ledgers are due (seed 000: 下月5日前);
    # None when the calendar declares no due day (then no submission is judged late)
    report_due_day: int | None = None

    def phase_of(self, day: dt.date) -> Phase | None:
        for ph in self.phases:
            if ph.start <= day <= ph.end:
                return ph
        return None


@dataclass(frozen=True)
class CardGroup:
    """A named row of KPI cards (e.g. 两升), its indicators in the order shown."""

    name: str
    indicators: tuple[str, ...]
    line: int | None = None
    indicator_lines: tuple[int | None, ...] = dataclasses.field(
        default=(), compare=False, repr=False
    )


@dataclass(frozen=True)
class FunnelStage:
    """One bar of the enforcement funnel: a part of one indicator's KPI row."""

    stage: str
    label: str
    indicator: str
    part: str  # numerator | denominator
    line: int | None = None


@dataclass(frozen=True)
class Presentation:
    """What the faces show of a set, declared so that no face knows an indicator's code.

    `order` places the set in set pickers and `index_order` its indices in index pickers (lower
    first, then by code; `index_order` defaults to `order`). `default_index` is the index shown
    first; `recovery` and `rectification` name the indicators behind the funnel's 追回 bar and
    the 整改进度 bar. Every field is optional: a set that declares nothing shows its cards in
    declaration order and no funnel."""

    order: int = 0
    index_order: int | None = None
    default_index: str | None = None
    card_groups: tuple[CardGroup, ...] = ()
    funnel: tuple[FunnelStage, ...] = ()
    recovery: str | None = None
    rectification: str | None = None
    min_baseline: int | None = None  # the set-wide default of `Indicator.min_baseline`
    unit_noun: str | None = None  # what a unit is called: 区县, 地区, 机构 …
    whole_name: str | None = None  # all units as one place: 全市, 全省 …
    report_title: str | None = None  # a report's title after the unit's name
    issuer: str | None = None  # who signs the 通报
    total_name: str | None = None  # the row of all units together (全市, 全省合计 …)
    screening: bool = False  # the cockpit shows the screening part (when there are results)
    file: str = ""
    line: int | None = None
    key_lines: Mapping[str, int] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def at(self, key: str | None = None) -> tuple[str, int | None]:
        return self.file, self.key_lines.get(key, self.line) if key else self.line

    @property
    def index_rank(self) -> int:
        return self.order if self.index_order is None else self.index_order


@dataclass(frozen=True)
class TableField:
    """One column of a declared table: its name in declarations, the header a file shows, its
    type (`vocabulary.TABLE_TYPES`) and whether every row must fill it."""

    name: str
    header: str
    type: str = "text"
    required: bool = False
    unit: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class TableLedger(Ledger):
    """A declared table as the engine and the warehouse see it: a ledger whose units are its
    own unit codes (`unit_field`, not `county_code`) and whose rows are dated by the last month
    of their period (`PERIOD_END`)."""

    unit_field: str = "county_code"
    name_field: str | None = None
    period_field: str | None = None
    frequency: Frequency = Frequency()
    noun: str = ""


@dataclass(frozen=True)
class SourceDocument:
    """One policy document of a `kind: sources` catalogue: the short code a declared `source:`
    text starts with ("002 三（一）"), and the title (issuer, document number) a reader knows it
    by. `presentation.citations.cite` turns the code into the title. `kind` says what it is
    (`vocabulary.SOURCE_KINDS`: a policy document, or reference material such as a collection
    of work summaries); `jurisdiction` whose document it is (嘉兴市, 浙江省; blank: read from
    the issuer, "" when that names no place), which decides 依据 or 参照 for a bureau."""

    code: str
    title: str
    issuer: str = ""
    number: str = ""
    file: str = ""
    note: str = ""
    kind: str = "policy"
    jurisdiction: str = ""
    declared_in: str = ""
    line: int | None = None


@dataclass(frozen=True)
class TableDecl:
    """`kind: table`: a user's own input (units × periods, typed columns with Chinese headers)."""

    code: str
    name: str
    unit: TableField
    period: TableField
    frequency: Frequency
    fields: tuple[TableField, ...]
    unit_name: TableField | None = None
    noun: str = ""
    description: str = ""
    source: str = ""
    file: str = ""
    line: int | None = None
    key_lines: Mapping[str, int] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def at(self, key: str | None = None) -> tuple[str, int | None]:
        return self.file, self.key_lines.get(key, self.line) if key else self.line

    @property
    def columns(self) -> tuple[TableField, ...]:
        """Every column a file has: the unit, its name, the period, then the data."""
        return (
            self.unit,
            *((self.unit_name,) if self.unit_name else ()),
            self.period,
            *self.fields,
        )

    def column(self, name: str) -> TableField:
        return next(f for f in self.columns if f.name == name)

    @functools.cached_property
    def ledger(self) -> TableLedger:
        """The table as a ledger (for the engine, the declarations' field checks and the
        warehouse): its columns, then `PERIOD_END`; one row per unit and period."""
        fields = [
            Field(
                f.name,
                f.header,
                TABLE_TYPE_AS.get(f.type, "text"),
                required=f.required,
                help=f.description,
                aliases=f.aliases,
            )
            for f in self.columns
        ]
        fields.append(Field(PERIOD_END, t("tables.period_end"), "month"))
        return TableLedger(
            name=self.code,
            title=self.name,
            fields=tuple(fields),
            key=(self.unit.name, self.period.name),
            date_field=PERIOD_END,
            description=self.description,
            unit_field=self.unit.name,
            name_field=self.unit_name.name if self.unit_name else None,
            period_field=self.period.name,
            frequency=self.frequency,
            noun=self.noun,
        )


def unit_field(lg: Ledger) -> str:
    """The column holding a row's unit: `county_code` in the ledgers, a table's own unit."""
    return getattr(lg, "unit_field", "county_code")


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
    presentation: Presentation = Presentation()
    tables: Mapping[str, TableDecl] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    frequency: Frequency = Frequency()
    # the source documents catalogued beside the set (`kind: sources`), by code
    documents: Mapping[str, SourceDocument] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def spans(self) -> tuple[str, ...]:
        """The spans this set is computed at: its frequency's (the five monthly spans for the
        ledgers; one whole period for yearly or fiscal-year tables)."""
        return self.frequency.spans

    @property
    def sources(self) -> dict[str, Ledger]:
        """Every ledger and the declared tables this set reads (as ledgers), by name."""
        return {**LEDGERS, **{code: tb.ledger for code, tb in self.tables.items()}}

    def reads_ledgers(self) -> bool:
        """Whether a measure reads one of the ledgers (else only declared tables, or nothing)."""
        return any(
            name in LEDGERS
            for m in self.measures.values()
            for name in ((m.ledger,) + ((m.join.ledger,) if m.join else ()))
            if name is not None
        )

    def unit_noun(self) -> str:
        """What a unit is called in this set's faces: declared, else its tables' noun, else
        区县 for a set on the county ledgers, else 单位."""
        p = self.presentation
        if p.unit_noun:
            return p.unit_noun
        if self.reads_ledgers():
            return t("tables.noun.county")
        nouns = {tb.noun for tb in self.tables.values() if tb.noun}
        return nouns.pop() if len(nouns) == 1 else t("tables.noun.default")

    def period_label(self, period: str) -> str:
        """A period (YYYY-MM, the last month of the period) as this set's frequency writes it."""
        return self.frequency.label(int(period[:4]) * 12 + int(period[5:7]) - 1)

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

    def indices(self) -> list[str]:
        """The set's hierarchy codes, the declared default index first."""
        first = self.presentation.default_index
        return sorted(self.hierarchies, key=lambda h: h != first)


def sets_in_order(sets: Sequence[IndicatorSet]) -> list[IndicatorSet]:
    """Sets as pickers list them: by `presentation.order`, then by code."""
    return sorted(sets, key=lambda s: (s.presentation.order, s.code))


def indices_in_order(sets: Sequence[IndicatorSet]) -> list[tuple[str, str]]:
    """(set code, hierarchy code) as index pickers list them: sets by
    `presentation.index_order`, each set's default index first, a hierarchy that several sets
    carry (through `include`) listed once, with the first set that lists it."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for s in sorted(sets, key=lambda s: (s.presentation.index_rank, s.code)):
        for h in s.indices():
            if h not in seen:
                seen.add(h)
                out.append((s.code, h))
    return out


_DATING = re.compile(r"(.+?)([+-]\d+)d")


def dating_parts(dating: str) -> tuple[str, int]:
    """`Measure.dating` back to (date field, days added): `due_date+1d` → (`due_date`, 1)."""
    m = _DATING.fullmatch(dating)
    return (m.group(1), int(m.group(2))) if m else (dating, 0)
