"""The words a declaration may use: method names, operators, spans, keys, limits.

Vocabularies, not policy: no threshold, target or weight lives here (those are in
`indicators/*.yaml`). Shaping, the rules and the engine all read these tuples, so a new word is
added in one place.
"""

from __future__ import annotations

import re

from workbench.composite_methods import OPTIONS, STEP_KEYS
from workbench.periods import ALL_SPANS as ALL_SPANS  # re-exported: every span word
from workbench.periods import FREQUENCIES as FREQUENCIES
from workbench.periods import MONTH_SPANS
from workbench.periods import NAMED_BY as NAMED_BY

AGGS = ("count", "sum", "distinct_count", "any", "months")
ROLLUPS = ("sum", "max", "last")
CITY_ROLLUPS = ("sum", "max", "distinct")
OPS = ("==", "!=", "in", "not_in", ">", ">=", "<", "<=", "is_null", "not_null", "within_days")
# `{field: a, op: within_days, value: [b, n]}`: date a is filled and no later than date b + n days
# (b another date field of the row, n a number of days or a $parameter), e.g. 按期: 核查完成日期
# within 0 days of 核查时限.
WITHIN_DAYS = "within_days"
TARGET_OPS = (">=", "<=", "==", ">", "<")
INDICATOR_TYPES = ("ratio", "share", "change", "count", "derived")
SPANS = MONTH_SPANS  # the spans of monthly data (the ledgers); ALL_SPANS adds year, fiscal_year
PHASE_SPAN = "phase:"  # a milestone's span may be one calendar phase: phase:<code>
WEIGHTINGS = ("equal", "manual", "pca")
FUNCTIONS = ("min", "max", "abs")
FILE_KINDS = ("indicator_set", "calendar", "table", "sources")
# A catalogued source document's code: what a declared `source:` text starts with ("002 三（一）"),
# a whole word of letters, digits, - or _ (no spaces, no Chinese brackets).
SOURCE_CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]*$")
# what a catalogued document is (`presentation.citations`): a policy document (cited as 依据, or
# 参照 when another jurisdiction issued it) or reference material (参考, a working practice)
SOURCE_KINDS = ("policy", "reference")
# A declared table's field types: whole numbers (≥ 0), any number (signed, decimals), money in
# 元 (≥ 0; no ceiling beyond what a double holds), text, dates. Each is stored as the engine's
# type of the same kind (`TABLE_TYPE_AS`: number and money both as doubles).
TABLE_TYPES = ("int", "number", "money", "text", "date")
TABLE_TYPE_AS = {"int": "int", "number": "yuan", "money": "yuan", "text": "text", "date": "date"}
PERIOD_END = "_period_end"  # a table row's period as its last month (YYYY-MM), for the engine
PROJECTIONS = ("linear",)

# Which parts an indicator type has (the funnel reads a part of an indicator's KPI row).
FUNNEL_PARTS = ("numerator", "denominator")
TYPE_PARTS: dict[str, tuple[str, ...]] = {
    "ratio": ("numerator", "denominator"),
    "share": ("numerator", "denominator"),
    "count": ("numerator",),
    "change": (),
    "derived": (),
}
RATE_TYPES = ("ratio", "share")

# Display keys of an indicator: decimals allowed, and the card title length a cockpit card
# shows without wrapping (a warning beyond it, never an error).
DECIMALS_RANGE = (0, 6)
SHORT_NAME_MAX = 8

# Hostile-input limits (issue 14): a declaration file is small; anything far beyond these is
# refused with file, line and code before it can exhaust memory or the stack. The shipped files
# are at most 21 KB and 1,400 nodes each; the longest shipped expression has 5 names.
MAX_FILE_BYTES = 2_000_000
MAX_YAML_NODES = 200_000  # nodes after alias (&anchor / *alias) expansion, per file
MAX_YAML_DEPTH = 64
MAX_EXPR_CHARS = 2_000
MAX_EXPR_NODES = 500  # syntax-tree nodes: names, numbers, operators
MAX_EXPR_DEPTH = 64

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PARAM_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")

KNOWN_KEYS: dict[str, set[str]] = {
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
        "report_due_day",
        "version",
        "presentation",
        "unit",
        "period",
        "fields",
        "documents",
    },
    "source_document": {"title", "issuer", "number", "file", "note", "kind", "jurisdiction"},
    "table_unit": {"field", "header", "name_field", "name_header", "noun", "aliases"},
    "table_period": {"field", "header", "frequency", "start_month", "named_by", "aliases"},
    "table_field": {"header", "type", "required", "unit", "description", "aliases"},
    "include": {"set", "hierarchies"},
    "parameter": {"value", "name", "unit", "description", "source"},
    "measure": {
        "ledger",
        "table",
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
        "not_done_by",
        "date_offset_days",
        "name",
        "description",
        "unit",
        "city_unit",
    },
    "indicator": {
        "type",
        "name",
        "short_name",
        "description",
        "unit",
        "decimals",
        "min_baseline",
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
    # `method:` keys are the composite catalogue's (composite_methods), checked by
    # methods.check_method
    "method": {*STEP_KEYS, *OPTIONS, "uncertainty_samples"},
    "denominator": {"indicator", "scale"},
    "phase": {"code", "name", "start", "end", "source"},
    "milestone": {"code", "name", "indicator", "op", "value", "deadline", "span", "source"},
    "campaign": {"start", "end", "name"},
    "join": {"ledger", "on"},
    "filter": {"field", "op", "value", "any", "all"},
    "band": {"min", "grade"},
    "projection": {"method", "min_points"},
    "presentation": {
        "order",
        "index_order",
        "default_index",
        "card_groups",
        "funnel",
        "recovery",
        "rectification",
        "min_baseline",
        "unit_noun",
        "whole_name",
        "report_title",
        "issuer",
        "total_name",
        "screening",
    },
    "card_group": {"name", "indicators"},
    "funnel_stage": {"stage", "label", "indicator", "part"},
    "indicator_ref": {"indicator"},
}
# Sections where an unknown key is refused (an error), not only warned about: a typo there
# would silently change what a face shows.
STRICT_SECTIONS = frozenset(
    {
        "presentation",
        "card_group",
        "funnel_stage",
        "indicator_ref",
        "include",
        "table_unit",
        "table_period",
        "table_field",
        "source_document",
    }
)
