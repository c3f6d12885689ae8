"""Indicator declarations: YAML files → validated, frozen objects.

Policy lives in `indicators/*.yaml` (measures, indicators, targets, hierarchies, calendars,
what the faces show), not in code. The package follows the declaration's path:

- `loader`      safe YAML that keeps each node's file and line, bounded against hostile files;
- `shaping`     one file's YAML → draft model objects, with the checks of each key's shape;
- `rules`       one function per validation rule, and the runner that collects every issue;
- `building`    one set: includes merged, rules run in stages, references resolved;
- `loading`     the entry points (`load_set`, `load_sets`, `validate`, `available_sets`);
- `model`       the frozen dataclasses computation sees (never raw dicts);
- `expressions` the safe arithmetic of `expr:` (parsed, never executed);
- `methods`     a hierarchy's `method:` block, one rule against the composite catalogue;
- `vocabulary`  the words a declaration may use; `issues` what a problem looks like.

Besides indicator sets and calendars, a file may declare a table (`kind: table`): a user's own
input with its unit and period columns, frequency and typed fields. Measures read it like a
ledger (`table: <code>`), and a set reading it follows its frequency (`IndicatorSet.frequency`).

Every issue has a level, a stable code, a Chinese message, the file, the line and how to fix
it, so a user fixes a file in one go. Import from here: the modules' layout may change.
"""

from __future__ import annotations

from workbench.declarations.expressions import ExprLimitError, eval_expr, parse_expr
from workbench.declarations.issues import DeclarationError, Issue
from workbench.declarations.loader import LList, LMap, parse_yaml
from workbench.declarations.loading import (
    available_sets,
    available_tables,
    default_dir,
    load_set,
    load_sets,
    load_documents,
    load_table,
    validate,
)
from workbench.declarations.model import (
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
    IndicatorSet,
    Join,
    Measure,
    Method,
    Milestone,
    Parameter,
    ParamRef,
    Phase,
    Presentation,
    TableDecl,
    TableField,
    TableLedger,
    Target,
    clauses_of,
    dating_parts,
    default_decimals,
    indices_in_order,
    sets_in_order,
    unit_field,
)
from workbench.declarations.vocabulary import (
    AGGS,
    ALL_SPANS,
    CITY_ROLLUPS,
    FUNCTIONS,
    INDICATOR_TYPES,
    KNOWN_KEYS,
    OPS,
    PERIOD_END,
    PHASE_SPAN,
    ROLLUPS,
    SPANS,
    TABLE_TYPES,
    TARGET_OPS,
    WEIGHTINGS,
    WITHIN_DAYS,
)

__all__ = [
    "AGGS",
    "ALL_SPANS",
    "PERIOD_END",
    "WITHIN_DAYS",
    "TABLE_TYPES",
    "TableDecl",
    "TableField",
    "TableLedger",
    "available_tables",
    "load_documents",
    "load_table",
    "unit_field",
    "CITY_ROLLUPS",
    "FUNCTIONS",
    "INDICATOR_TYPES",
    "KNOWN_KEYS",
    "OPS",
    "PHASE_SPAN",
    "ROLLUPS",
    "SPANS",
    "TARGET_OPS",
    "WEIGHTINGS",
    "AllOf",
    "AnyOf",
    "Baseline",
    "Calendar",
    "CardGroup",
    "Clause",
    "Condition",
    "DeclarationError",
    "Expr",
    "ExprLimitError",
    "FunnelStage",
    "GradeBand",
    "HierarchyDecl",
    "HierarchyNode",
    "Indicator",
    "IndicatorSet",
    "Issue",
    "Join",
    "LList",
    "LMap",
    "Measure",
    "Method",
    "Milestone",
    "ParamRef",
    "Parameter",
    "Phase",
    "Presentation",
    "Target",
    "available_sets",
    "clauses_of",
    "dating_parts",
    "default_decimals",
    "default_dir",
    "eval_expr",
    "indices_in_order",
    "load_set",
    "load_sets",
    "parse_expr",
    "parse_yaml",
    "sets_in_order",
    "validate",
]
