"""Screening rules: YAML files → validated, frozen rule objects.

A rule is declared, not coded: code, Chinese name, source (a seed, or "workbench definition"),
subject kind, lead source, parameters with defaults (thresholds and exemption lists alike) and
its logic as one SQL query over the contract's tables (`tables.py`). A bureau adds its
province's rules (规则库) by dropping a file into `screening/rules/` — no Python.

The SQL is written in DuckDB's dialect (the default engine) and transpiled for Spark with
sqlglot, so one definition runs on both. Parameters appear in it as `${name}`: numbers and
text become literals, a list becomes a one-column relation `value` (`… NOT IN (SELECT value
FROM ${prison_units})`). Every run also knows `${from_date}`, `${to_date}` (the screened
months as a half-open date range), `${from_month}` and `${to_month}` ('YYYY-MM').

A rule's query returns one row per settlement (or credit) involved in a hit, with the columns
of `OUTPUT` — what the evidence table stores and the leads are built from.

Loading keeps every node's file and line; validation collects every issue (YAML, keys, values,
SQL syntax with its line in the file, unknown tables, undeclared parameters, missing output
columns, a dry run against empty tables) before anything runs. As in `declarations.py`, whose
YAML reader and issue objects are reused here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from workbench.contracts import LEAD_FEEDBACK_LISTS, LEAD_SOURCES
from workbench.declarations import DeclarationError, Issue, LList, LMap, parse_yaml
from workbench.declarations.issues import Issues, _fill
from workbench.declarations.sources import check_source_codes
from workbench.messages import t
from workbench.screening.tables import SQL_TYPES, TABLES

log = logging.getLogger(__name__)

KIND = "screening_rules"
SUBJECTS = {"person": "参保人员", "institution": "定点医药机构", "agency": "经办机构"}
BUILTINS = ("from_date", "to_date", "from_month", "to_month")
OUTPUT = ("setl_id", "subject_key", "person_no", "institution_id", "county_code", "month", "amount")
OPTIONAL_OUTPUT = ("detail",)
ROSTER = "institutions"
ROSTER_COLUMNS = {
    "institution_id": "VARCHAR",
    "institution_name": "VARCHAR",
    "county_code": "VARCHAR",
    "institution_type": "VARCHAR",
    "hosp_lv": "VARCHAR",
}
SETTINGS_DEFAULTS = {"due_days": 30, "regrowth_factor": 1.5}
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*-[A-Z0-9-]+$")
_VIEW_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

KNOWN_KEYS = {
    "file": {
        "kind",
        "code",
        "name",
        "description",
        "source",
        "dialect",
        "settings",
        "views",
        "rules",
    },
    "rule": {
        "name",
        "description",
        "source",
        "workbench_definition",
        "lead_source",
        "subject",
        "list",
        "parameters",
        "sql",
        "enabled",
    },
    "parameter": {"value", "name", "unit", "description", "source"},
    "view": {"name", "description", "sql"},
    "setting": {"value", "name", "unit", "description", "source"},
}


class RuleError(DeclarationError):
    """Rule or parameter files with errors; `.issues` holds every one found."""

    def __init__(self, issues: list[Issue]) -> None:
        from workbench.messages import t

        super().__init__(issues)
        errors = [i for i in self.issues if i.level == "error"]
        self.args = (
            t("screening.rule.errors", n=len(errors)) + "\n" + "\n".join(str(i) for i in errors),
        )

    def __str__(self) -> str:
        return str(self.args[0])


class _RuleIssues(Issues):
    """Issues whose messages come from `screening.rule.<code>`, else the indicator catalogue
    (the YAML-level codes are shared)."""

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
        msg = _fill(f"screening.rule.{code}", values) or _fill(f"ind.{code}", values) or code
        fix = _fill(f"screening.rule.fix.{code}", values) or _fill(f"ind.fix.{code}", values)
        self.items.append(Issue(level, code, msg, file, line, fix, path))


# ---------------------------------------------------------------- frozen objects


@dataclass(frozen=True)
class Window:
    """The screened months, first to last inclusive ('YYYY-MM')."""

    from_month: str
    to_month: str

    @property
    def from_date(self) -> dt.date:
        y, m = map(int, self.from_month.split("-"))
        return dt.date(y, m, 1)

    @property
    def to_date(self) -> dt.date:
        """The day after the last screened month (exclusive end)."""
        y, m = map(int, self.to_month.split("-"))
        return dt.date(y + m // 12, m % 12 + 1, 1)

    @property
    def months(self) -> list[str]:
        out, d = [], self.from_date
        while d < self.to_date:
            out.append(f"{d.year:04d}-{d.month:02d}")
            d = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
        return out

    def builtins(self) -> dict[str, Any]:
        return {
            "from_date": self.from_date,
            "to_date": self.to_date,
            "from_month": self.from_month,
            "to_month": self.to_month,
        }

    @staticmethod
    def of(period: str) -> Window:
        return Window(period, period)


@dataclass(frozen=True)
class Parameter:
    code: str
    value: Any
    name: str = ""
    unit: str = ""
    description: str = ""
    source: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    source: str
    workbench_definition: bool
    lead_source: str
    subject: str  # person | institution | agency
    sql: str
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    list_name: str = ""
    description: str = ""
    file: str = ""
    line: int | None = None
    sql_line: int | None = None

    def values(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        out = {k: p.value for k, p in self.parameters.items()}
        out.update({k: v for k, v in (overrides or {}).items() if k in out})
        return out

    def render(self, window: Window, overrides: Mapping[str, Any] | None = None) -> str:
        """The rule's SQL (DuckDB dialect) with every `${name}` replaced by a literal."""
        return render_sql(self.sql, {**self.values(overrides), **window.builtins()})

    def params_hash(self, overrides: Mapping[str, Any] | None = None) -> str:
        """Which definition made a hit: the parameters and the SQL, hashed."""
        blob = json.dumps(
            {"sql": self.sql, "params": self.values(overrides)},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def subject_label(self) -> str:
        return SUBJECTS[self.subject]


@dataclass(frozen=True)
class View:
    """A relation several rules share, materialised once per run (e.g. drug use per
    institution × drug × month, read by two rules from one scan of the fee lines)."""

    code: str
    name: str
    sql: str
    file: str = ""
    line: int | None = None

    def render(self, window: Window) -> str:
        return render_sql(self.sql, window.builtins())


@dataclass(frozen=True)
class RuleSet:
    rules: Mapping[str, Rule]
    views: Mapping[str, View]
    settings: Mapping[str, Any]
    files: tuple[str, ...] = ()
    warnings: tuple[Issue, ...] = ()

    def select(self, codes: Iterable[str] | None) -> list[Rule]:
        if not codes:
            return list(self.rules.values())
        return [self.rules[c] for c in codes]


# ---------------------------------------------------------------- rendering


def sql_literal(value: Any) -> str:
    """A parameter value as SQL both engines read alike."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (list, tuple)):
        if not value:
            return (
                "(SELECT value FROM (VALUES (CAST(NULL AS VARCHAR))) AS v(value) "
                "WHERE value IS NOT NULL)"
            )
        rows = ", ".join(f"({sql_literal(str(v))})" for v in value)
        return f"(SELECT value FROM (VALUES {rows}) AS v(value))"
    return "'" + str(value).replace("'", "''") + "'"


def render_sql(sql: str, values: Mapping[str, Any]) -> str:
    def sub(m: re.Match) -> str:
        return sql_literal(values[m.group(1)])

    return _PLACEHOLDER_RE.sub(sub, sql)


def placeholders(sql: str) -> list[str]:
    return list(dict.fromkeys(_PLACEHOLDER_RE.findall(sql)))


# ---------------------------------------------------------------- loading


def default_dir() -> Path:
    from workbench.config import project_root

    return project_root() / "screening" / "rules"


def _yaml_files(dirs: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        d = Path(d)
        if d.is_file():
            out.append(d)
        elif d.is_dir():
            out += sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml"))
    return out


def check_rules(dirs: Iterable[Path] | None = None, dry_run: bool = True) -> list[Issue]:
    """Every issue in the rule files (errors and warnings), in file order."""
    _set, issues = _load(dirs, dry_run)
    return issues


def load_rules(dirs: Iterable[Path] | None = None, dry_run: bool = True) -> RuleSet:
    """The validated rule set; raises DeclarationError listing every error."""
    rs, issues = _load(dirs, dry_run)
    errors = [i for i in issues if i.level == "error"]
    if errors or rs is None:
        raise RuleError(issues)
    for w in issues:
        log.warning("%s", w)
    return rs


def rule_sources(ruleset: RuleSet, documents: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Each rule's declared `source:` as a reader meets it (the cockpit's rule table, the
    通报's attachment, a county list's 说明), by rule code: a catalogued code as the document's
    title through the one citation function (`presentation.citations.cite`, with the sources
    catalogue `indicators/sources.yaml` unless `documents` is given), 工作口径 as written."""
    from workbench.declarations.loading import load_documents
    from workbench.presentation.citations import cite

    docs = load_documents() if documents is None else documents
    return {r.code: cite(r.source, docs) for r in ruleset.rules.values()}


def source_line(code: str, name: str, source: str) -> str:
    """「SJBD-01 死亡后发生结算：依据《…》三（一）」: one rule and where it comes from, the
    same words on every face."""
    return t("screening.rule.source_line", code=code, name=name, source=source)


def _load(dirs: Iterable[Path] | None, dry_run: bool) -> tuple[RuleSet | None, list[Issue]]:
    issues = _RuleIssues()
    paths = _yaml_files(dirs or [default_dir()])
    if not paths:
        issues.error("E_NO_RULE_FILES", ("—", None), dirs=", ".join(map(str, dirs or [])))
        return None, issues.items
    rules: dict[str, Rule] = {}
    views: dict[str, View] = {}
    settings: dict[str, Any] = dict(SETTINGS_DEFAULTS)
    settings_at: dict[str, tuple[str, int | None]] = {}
    documents: dict[str, Any] | None = None
    for path in paths:
        fname = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.error("E_YAML_SYNTAX", (fname, None), problem=str(exc))
            continue
        data = parse_yaml(text, fname, issues)
        if data is None:
            continue
        _file(data, fname, issues, rules, views, settings, settings_at)
        if documents is None:
            documents = _documents()
        check_source_codes(data, documents, issues)
    if not rules and not issues.errors:
        issues.error("E_NO_RULES", (str(paths[0]), None))
    _check_sql(rules, views, issues, dry_run)
    rs = RuleSet(
        MappingProxyType(rules),
        MappingProxyType(views),
        MappingProxyType(settings),
        tuple(map(str, paths)),
        tuple(i for i in issues.items if i.level == "warning"),
    )
    return rs, issues.items


def _documents() -> dict[str, Any]:
    """The sources catalogue the rules' `source:` texts cite (the indicators folder's), for
    W_UNKNOWN_SOURCE_CODE (`declarations.sources` says why a warning); none if unreadable."""
    from workbench.declarations.loading import load_documents

    try:
        return load_documents()
    except Exception:  # noqa: BLE001 - a broken indicators folder is compute's to report
        return {}


def _unknown_keys(m: LMap, kind: str, issues: _RuleIssues) -> None:
    for key in m:
        if key not in KNOWN_KEYS[kind]:
            issues.warning(
                "W_UNKNOWN_KEY", m.at(key), key=key, allowed="、".join(sorted(KNOWN_KEYS[kind]))
            )


def _text(m: LMap, key: str, issues: _RuleIssues, required: bool = False) -> str:
    v = m.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            issues.error("E_RULE_MISSING", m.at(key) if key in m else m.at(), key=key)
        return ""
    if not isinstance(v, (str, int, float)):
        issues.error("E_RULE_NOT_TEXT", m.at(key), key=key)
        return ""
    return str(v).strip()


def _file(
    data: LMap,
    fname: str,
    issues: _RuleIssues,
    rules: dict[str, Rule],
    views: dict[str, View],
    settings: dict[str, Any],
    settings_at: dict[str, tuple[str, int | None]],
) -> None:
    _unknown_keys(data, "file", issues)
    kind = data.get("kind")
    if kind != KIND:
        issues.error("E_RULE_KIND", data.at("kind") if "kind" in data else data.at(), kind=kind)
        return
    dialect = data.get("dialect", "duckdb")
    if dialect != "duckdb":
        issues.error("E_RULE_DIALECT", data.at("dialect"), dialect=dialect)
    for key, section in (("settings", "setting"), ("views", "view"), ("rules", "rule")):
        block = data.get(key)
        if block is None:
            continue
        if not isinstance(block, LMap):
            issues.error("E_NOT_MAPPING", data.at(key), what=key)
            continue
        for code, node in block.items():
            at = block.at(code)
            if section == "setting":
                _setting(code, node, at, issues, settings, settings_at)
            elif section == "view":
                _view(code, node, at, fname, issues, views)
            else:
                _rule(code, node, at, fname, issues, rules, views)


def _setting(code, node, at, issues, settings, settings_at) -> None:
    if code not in SETTINGS_DEFAULTS:
        issues.error(
            "E_UNKNOWN_SETTING", at, key=code, allowed="、".join(sorted(SETTINGS_DEFAULTS))
        )
        return
    if code in settings_at:
        issues.error("E_DUPLICATE_SETTING", at, key=code, first=f"{settings_at[code][0]}")
        return
    value = node.get("value") if isinstance(node, LMap) else node
    if isinstance(node, LMap):
        _unknown_keys(node, "setting", issues)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        issues.error("E_BAD_SETTING", at, key=code, value=value)
        return
    settings[code] = value
    settings_at[code] = at


def _view(code, node, at, fname, issues, views) -> None:
    if not _VIEW_RE.match(str(code)):
        issues.error("E_VIEW_CODE", at, code=code)
        return
    if code in views or code in TABLES or code == ROSTER:
        issues.error("E_DUPLICATE_VIEW", at, code=code)
        return
    if not isinstance(node, LMap):
        issues.error("E_NOT_MAPPING", at, what=code)
        return
    _unknown_keys(node, "view", issues)
    sql = _text(node, "sql", issues, required=True)
    if sql and (bad := [p for p in placeholders(sql) if p not in BUILTINS]):
        issues.error("E_VIEW_PARAMETER", node.at("sql"), code=code, names="、".join(bad))
    views[code] = View(code, _text(node, "name", issues, True), sql, fname, at[1])


def _param_value_ok(v: Any) -> bool:
    if isinstance(v, (bool, int, float, str)):
        return True
    return isinstance(v, list) and all(isinstance(x, (str, int)) for x in v)


def _rule(code, node, at, fname, issues, rules, views) -> None:
    code = str(code)
    if not _CODE_RE.match(code):
        issues.error("E_RULE_CODE", at, code=code)
    if code in rules:
        issues.error("E_DUPLICATE_RULE", at, code=code, first=rules[code].file)
        return
    if not isinstance(node, LMap):
        issues.error("E_NOT_MAPPING", at, what=code)
        return
    _unknown_keys(node, "rule", issues)
    if node.get("enabled") is False:
        return
    name = _text(node, "name", issues, True)
    source = _text(node, "source", issues, True)
    lead_source = _text(node, "lead_source", issues, True)
    if lead_source and lead_source not in LEAD_SOURCES:
        issues.error(
            "E_RULE_ENUM",
            node.at("lead_source"),
            key="lead_source",
            value=lead_source,
            allowed="、".join(LEAD_SOURCES),
        )
    subject = _text(node, "subject", issues, True)
    if subject and subject not in SUBJECTS:
        issues.error(
            "E_RULE_ENUM",
            node.at("subject"),
            key="subject",
            value=subject,
            allowed="、".join(SUBJECTS),
        )
    list_name = _text(node, "list", issues)
    if list_name and list_name not in LEAD_FEEDBACK_LISTS:
        issues.error(
            "E_RULE_ENUM",
            node.at("list"),
            key="list",
            value=list_name,
            allowed="、".join(LEAD_FEEDBACK_LISTS),
        )
    wd = node.get("workbench_definition", False)
    if not isinstance(wd, bool):
        issues.error("E_RULE_BOOL", node.at("workbench_definition"), key="workbench_definition")
        wd = False
    params: dict[str, Parameter] = {}
    block = node.get("parameters")
    if block is not None and not isinstance(block, LMap):
        issues.error("E_NOT_MAPPING", node.at("parameters"), what="parameters")
    elif block:
        for pcode, p in block.items():
            pat = block.at(pcode)
            if pcode in BUILTINS:
                issues.error("E_PARAM_RESERVED", pat, name=pcode)
                continue
            if not isinstance(p, LMap) or "value" not in p:
                issues.error("E_PARAM_NO_VALUE", pat, name=pcode)
                continue
            _unknown_keys(p, "parameter", issues)
            value = p["value"]
            if not _param_value_ok(value):
                issues.error("E_PARAM_VALUE", p.at("value"), name=pcode)
                continue
            if isinstance(value, LList):
                value = tuple(str(x) for x in value)
            params[str(pcode)] = Parameter(
                str(pcode),
                value,
                _text(p, "name", issues, True),
                _text(p, "unit", issues),
                _text(p, "description", issues),
                _text(p, "source", issues),
                pat[1],
            )
    sql = node.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        issues.error("E_RULE_MISSING", node.at("sql") if "sql" in node else node.at(), key="sql")
        sql = ""
    used = set(placeholders(sql))
    for p in sorted(used - set(params) - set(BUILTINS)):
        issues.error("E_UNKNOWN_PARAMETER", node.at("sql"), name=p)
    for p in sorted(set(params) - used):
        issues.warning("W_UNUSED_PARAMETER", params[p].line and (fname, params[p].line), name=p)
    sql_line = node.at("sql")[1]
    rules[code] = Rule(
        code,
        name,
        source,
        wd,
        lead_source,
        subject,
        sql,
        MappingProxyType(params),
        list_name,
        _text(node, "description", issues),
        fname,
        at[1],
        sql_line,
    )


# ---------------------------------------------------------------- SQL checks


def _sql_issue_line(rule_line: int | None, sql_text: str, err_line: int | None) -> int | None:
    """The file line of a line of a block scalar (`sql: |` → the text starts one line down)."""
    if rule_line is None:
        return None
    return rule_line + (err_line or 1)


def _check_sql(
    rules: Mapping[str, Rule], views: Mapping[str, View], issues: _RuleIssues, dry_run: bool
) -> None:
    known = set(TABLES) | {ROSTER} | set(views)
    window = Window("2025-06", "2025-06")
    items: list[tuple[str, str, str, int | None, bool]] = [
        (v.code, v.render(window), v.file, v.line, False) for v in views.values()
    ]
    for r in rules.values():
        if r.sql:
            values = defaultdict(lambda: None, {**r.values(), **window.builtins()})
            items.append((r.code, render_sql(r.sql, values), r.file, r.sql_line, True))
    failed: set[str] = set()
    for code, sql, fname, line, is_rule in items:
        before = len(issues.errors)
        _check_one(code, sql, fname, line, is_rule, known, issues)
        if len(issues.errors) > before:
            failed.add(code)
    if dry_run:
        _dry_run(rules, views, issues, window, failed)


def _check_one(
    code: str,
    sql: str,
    fname: str,
    line: int | None,
    is_rule: bool,
    known: set[str],
    issues: _RuleIssues,
) -> None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, ParseError

    try:
        parsed = sqlglot.parse(sql, read="duckdb", error_level=ErrorLevel.IMMEDIATE)
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        issues.error(
            "E_SQL_SYNTAX",
            (fname, _sql_issue_line(line, sql, err.get("line"))),
            code=code,
            problem=str(err.get("description") or exc)[:200],
        )
        return
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
        issues.error("E_SQL_NOT_QUERY", (fname, line), code=code)
        return
    tree = parsed[0]
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    for tb in tree.find_all(exp.Table):
        name = tb.name
        if name and name not in known and name not in ctes:
            issues.error(
                "E_SQL_UNKNOWN_TABLE",
                (fname, line),
                code=code,
                table=name,
                known="、".join(sorted(known)),
            )
    if is_rule:
        outs = set(tree.named_selects)
        missing = [c for c in OUTPUT if c not in outs]
        if missing:
            issues.error(
                "E_SQL_OUTPUT",
                (fname, line),
                code=code,
                missing="、".join(missing),
                required="、".join(OUTPUT),
            )
    try:
        sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
    except Exception as exc:  # noqa: BLE001 - sqlglot raises several kinds
        issues.warning("W_SQL_NOT_PORTABLE", (fname, line), code=code, problem=str(exc)[:200])


def empty_tables_sql() -> list[str]:
    """DDL of the contract's tables (as rules see them) and the roster, empty."""
    out = []
    for tb in TABLES.values():
        cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in tb.columns)
        out.append(f'CREATE TABLE "{tb.name}" ({cols})')
    cols = ", ".join(f'"{k}" {v}' for k, v in ROSTER_COLUMNS.items())
    out.append(f'CREATE TABLE "{ROSTER}" ({cols})')
    return out


def _dry_run(
    rules: Mapping[str, Rule],
    views: Mapping[str, View],
    issues: _RuleIssues,
    window: Window,
    failed: set[str],
) -> None:
    """Bind every query against empty tables: unknown columns, wrong types, bad functions."""
    import duckdb

    con = duckdb.connect()
    try:
        for ddl in empty_tables_sql():
            con.execute(ddl)
        for v in views.values():
            if v.code in failed:
                continue
            try:
                con.execute(f'CREATE VIEW "{v.code}" AS {v.render(window)}')
            except duckdb.Error as exc:
                issues.error(
                    "E_SQL_INVALID", (v.file, v.line), code=v.code, problem=_first_line(exc)
                )
        for r in rules.values():
            if r.code in failed or not r.sql:
                continue
            try:
                con.execute(f"SELECT * FROM ({r.render(window)}) q LIMIT 0").fetchall()
            except duckdb.Error as exc:
                issues.error(
                    "E_SQL_INVALID", (r.file, r.sql_line), code=r.code, problem=_first_line(exc)
                )
    finally:
        con.close()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:240]


# ---------------------------------------------------------------- a bureau's parameter values

PARAMS_KIND = "screening_parameters"


def load_parameters(path: Path, ruleset: RuleSet) -> dict[str, dict[str, Any]]:
    """Local values for rule parameters (a prison's medical units, a province's threshold),
    kept apart from the shipped rules: `kind: screening_parameters` with
    `parameters: {RULE: {name: value}}`. Every issue is collected; raises DeclarationError."""
    issues = _RuleIssues()
    fname = str(path)
    out: dict[str, dict[str, Any]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.error("E_YAML_SYNTAX", (fname, None), problem=str(exc))
        raise RuleError(issues.items) from None
    data = parse_yaml(text, fname, issues)
    if data is not None:
        if data.get("kind") != PARAMS_KIND:
            issues.error("E_PARAMS_KIND", data.at("kind"), kind=data.get("kind"))
        block = data.get("parameters")
        if not isinstance(block, LMap):
            issues.error("E_NOT_MAPPING", data.at("parameters"), what="parameters")
            block = LMap()
        for code, values in block.items():
            rule = ruleset.rules.get(code)
            if rule is None:
                issues.error("E_PARAMS_RULE", block.at(code), code=code)
                continue
            if not isinstance(values, LMap):
                issues.error("E_NOT_MAPPING", block.at(code), what=code)
                continue
            for name, value in values.items():
                p = rule.parameters.get(name)
                if p is None:
                    issues.error(
                        "E_PARAMS_NAME",
                        values.at(name),
                        code=code,
                        name=name,
                        known="、".join(rule.parameters) or "—",
                    )
                    continue
                if isinstance(p.value, tuple):
                    ok = isinstance(value, list) and all(isinstance(x, (str, int)) for x in value)
                    value = tuple(str(x) for x in value) if ok else value
                elif isinstance(p.value, bool):
                    ok = isinstance(value, bool)
                elif isinstance(p.value, (int, float)):
                    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                else:
                    ok = isinstance(value, str)
                if not ok:
                    issues.error("E_PARAMS_TYPE", values.at(name), code=code, name=name)
                    continue
                out.setdefault(code, {})[name] = value
    if issues.errors:
        raise RuleError(issues.items)
    return out
