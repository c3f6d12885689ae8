"""The fill-in Excel template counties use to report their ledgers (台账填报模板).

Everything comes from `workbench.contracts`: one sheet per ledger with the exact contract headers,
dropdowns for enums and 是/否, type checks and number formats on the first `DATA_ROWS` data rows,
input prompts with each field's help, and a 填表说明 sheet describing every column and row rule.
"""

from __future__ import annotations

import math
import functools
import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_range_abs, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from workbench import fmt
from workbench.contracts import LEDGERS, Field, Forbidden, Ledger
from workbench.messages import t
from workbench.presentation.product import product_name

DATA_ROWS = 1000  # data rows (2..DATA_ROWS+1) that carry validation
INLINE_LIST_LIMIT = 255  # Excel's limit on an inline list source ("a,b,c")
DATE_MIN = date(1990, 1, 1)
DATE_MAX = date(2099, 12, 31)
BOOL_OPTIONS = ("是", "否")

_MIN_WIDTH = {
    "text": 14,
    "code6": 10,
    "int": 10,
    "yuan": 15,
    "date": 12,
    "bool": 8,
    "enum": 10,
    "month": 10,
    "id_card": 21,
}
_NUM_FORMAT: dict[str, str | int] = {
    "date": "yyyy-mm-dd",
    "yuan": "#,##0.00",
    "int": 1,
    "text": "@",
    "code6": "@",
    "id_card": "@",
    "month": "@",
}
_HINT_TYPES = ("enum", "bool", "date", "yuan", "int", "code6", "month", "id_card")
_GUIDE_WIDTHS = (22, 16, 10, 46, 60)
_BAD_FILENAME = re.compile(r'[\\/:*?"<>|\s]+')


def display_width(text: str) -> int:
    """Approximate Excel column width of `text`: CJK / full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def select_ledgers(names: Sequence[str] | None = None) -> list[Ledger]:
    """Requested ledgers in contract dependency order (all when `names` is empty)."""
    if not names:
        return list(LEDGERS.values())
    by_title = {lg.title: name for name, lg in LEDGERS.items()}  # 案件台账 → cases
    wanted = {by_title.get(n.strip(), n.strip()) for n in names if n.strip()}
    unknown = sorted(wanted - set(LEDGERS))
    if unknown:
        raise ValueError(
            t(
                "template.bad_ledger",
                name="、".join(unknown),
                known="、".join(f"{name}（{lg.title}）" for name, lg in LEDGERS.items()),
            )
        )
    return [lg for name, lg in LEDGERS.items() if name in wanted]


def type_label(field: Field) -> str:
    """Chinese name of a field's type, e.g. `日期`."""
    return t(f"template.type.{field.type}")


def options_text(field: Field) -> str:
    """The allowed values as shown in 填表说明 (empty for free-form fields)."""
    if field.type == "enum":
        return "、".join(field.enum)
    if field.type == "bool":
        return t("template.bool_options")
    return ""


def rule_texts(lg: Ledger) -> dict[str, list[str]]:
    """Each field's row rules (Compare / RequiredWhen / Reference / key) rendered in Chinese."""
    out: dict[str, list[str]] = {f.name: [] for f in lg.fields}
    if len(lg.key) == 1:
        out[lg.key[0]].append(t("template.rule_unique"))
    for cmp in lg.compares:
        left, right = lg.field(cmp.left), lg.field(cmp.right)
        kind = "date" if left.type == "date" else "num"
        op_key = {">=": "ge", "<=": "le"}.get(cmp.op)
        op = t(f"template.rule.{kind}_{op_key}") if op_key else cmp.op
        text = t("template.rule_compare", left=left.header, op=op, right=right.header)
        if cmp.severity != "error":
            text = t("template.rule_warning", rule=text)
        out[cmp.left].append(text)
    for rw in lg.required_when:
        out[rw.field].append(
            t(
                "template.rule_required_when",
                when=lg.field(rw.when_field).header,
                values=t("template.rule_values_sep").join(rw.values),
            )
        )
    for fb in lg.forbidden:
        text = t("template.rule_forbidden", conditions=forbidden_conditions(lg, fb))
        if fb.severity != "error":
            text = t("template.rule_warning", rule=text)
        out[fb.field].append(text)
    for ref in lg.references:
        target = LEDGERS.get(ref.target)
        title = target.title if target else ref.target
        target_field = (
            target.field(ref.target_field).header
            if target and ref.target_field in target.field_names
            else ref.target_field
        )
        out[ref.field].append(t("template.rule_reference", target=title, target_field=target_field))
    return out


def forbidden_conditions(lg: Ledger, fb: Forbidden) -> str:
    """A `Forbidden` rule's conditions in Chinese, e.g. `处理结果 为 约谈 或 不予处理 且 …`."""

    def shown(v: object) -> str:
        return (BOOL_OPTIONS[0] if v else BOOL_OPTIONS[1]) if isinstance(v, bool) else str(v)

    parts = []
    for w in fb.when:
        header = lg.field(w.field).header
        if not w.values:
            key = "template.rule_when_filled" if w.filled else "template.rule_when_blank"
            parts.append(t(key, field=header))
        else:
            key = "template.rule_when_not_values" if w.negate else "template.rule_when_values"
            values = t("template.rule_values_sep").join(shown(v) for v in w.values)
            parts.append(t(key, field=header, values=values))
    return t("template.rule_when_and").join(parts)


def _norm(text: str) -> str:
    return re.sub(r"\s|\(元\)|[“”\"]", "", text)


@functools.cache
def _documents() -> dict:
    """The catalogued policy documents (`indicators/sources.yaml`) the contracts' texts cite."""
    from workbench.declarations import load_documents

    try:
        return load_documents()
    except Exception:  # noqa: BLE001 - a broken catalogue leaves the texts as written
        return {}


def cited(text: str) -> str:
    """A contract's text with its policy references by title (`presentation.citations.cite`):
    「（002 三（二））」 → 「（《2025年开展打击欺诈骗保专项整治行动工作方案》三（二））」."""
    from workbench.presentation.citations import cite

    return cite(text, _documents())


def ledger_description(lg: Ledger) -> str:
    return cited(lg.description)


def field_notes(lg: Ledger, field: Field, rules: dict[str, list[str]] | None = None) -> list[str]:
    """Help text (minus parts a rule already states) followed by the field's rules."""
    rules = (rule_texts(lg) if rules is None else rules).get(field.name, [])
    rule_norms = [_norm(r) for r in rules]
    kept = [
        part
        for part in re.split(r"[，；。,;]", cited(field.help))
        if part.strip() and not any(_norm(part) in r for r in rule_norms)
    ]
    notes = ["，".join(p.strip() for p in kept)] if kept else []
    notes.extend(rules)
    if field.personal and not field.help:
        notes.append(t("template.rule_personal"))
    return notes


def suggested_filename(
    county_code: str | None = None, county_name: str | None = None, period: str | None = None
) -> str:
    """`{区划代码}_{区县名称}_{YYYY-MM}.xlsx` with the known parts filled in."""
    parts = [
        county_code or "{区划代码}",
        _BAD_FILENAME.sub("", county_name) if county_name else "{区县名称}",
        period or "{YYYY-MM}",
    ]
    return "_".join(parts) + ".xlsx"


def _check_inputs(county_code: str | None, period: str | None) -> None:
    if county_code is not None and not re.fullmatch(r"\d{6}", county_code):
        raise ValueError(t("template.bad_county", value=county_code))
    if period is not None and not fmt.is_month(period):
        raise ValueError(t("template.bad_period", value=period))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _list_fits_inline(values: Sequence[str]) -> bool:
    return len(",".join(values)) <= INLINE_LIST_LIMIT and not any(
        "," in v or '"' in v for v in values
    )


def option_range_name(lg: Ledger, field: Field) -> str:
    """Workbook-level defined name holding `field`'s enum values on the hidden 选项 sheet."""
    return f"opt_{lg.name}_{field.name}"


class _Formats:
    """xlsxwriter formats, created once per workbook."""

    def __init__(self, wb: Workbook) -> None:
        base = {
            "bold": True,
            "bg_color": "#DDEBF7",
            "border": 1,
            "text_wrap": True,
            "align": "center",
            "valign": "vcenter",
        }
        self.header = wb.add_format(base)
        self.header_required = wb.add_format({**base, "font_color": "#C00000"})
        self.columns = {typ: wb.add_format({"num_format": fmt}) for typ, fmt in _NUM_FORMAT.items()}
        self.title = wb.add_format({"bold": True, "font_size": 16, "valign": "vcenter"})
        self.section = wb.add_format({"bold": True, "font_size": 12, "valign": "vcenter"})
        self.para = wb.add_format({"text_wrap": True, "valign": "top"})
        self.emph = wb.add_format(
            {"text_wrap": True, "valign": "top", "bold": True, "font_color": "#C00000"}
        )
        self.table_head = wb.add_format({**base, "bg_color": "#F2F2F2"})
        self.cell = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
        self.cell_required = wb.add_format(
            {"text_wrap": True, "valign": "top", "border": 1, "font_color": "#C00000", "bold": True}
        )
        self.opt_head = wb.add_format({"bold": True})


def _write_options(
    wb: Workbook, ws: Worksheet, ledgers: Sequence[Ledger], fmt: _Formats
) -> dict[tuple[str, str], str]:
    """Fill the hidden 选项 sheet: one column per enum field, each with a defined name."""
    names: dict[tuple[str, str], str] = {}
    col = 0
    for lg in ledgers:
        for field in lg.fields:
            if field.type != "enum":
                continue
            ws.write_string(0, col, f"{lg.title}·{field.header}", fmt.opt_head)
            for row, value in enumerate(field.enum, start=1):
                ws.write_string(row, col, value)
            name = option_range_name(lg, field)
            sheet = ws.get_name().replace("'", "''")
            wb.define_name(name, f"='{sheet}'!{xl_range_abs(1, col, len(field.enum), col)}")
            ws.set_column(col, col, max(12, display_width(field.header) + 8))
            names[(lg.name, field.name)] = name
            col += 1
    return names


def _input_message(lg: Ledger, field: Field, notes: list[str]) -> str:
    lines = [t("template.input_type", type=type_label(field))]
    if field.required:
        lines.append(t("template.input_required"))
    if field.type in _HINT_TYPES:
        lines.append(t(f"template.input.{field.type}"))
    lines.extend(notes)
    return _clip("\n".join(lines), 255)


def _validation(field: Field, col: int, list_name: str | None) -> dict:
    """xlsxwriter data_validation options for one column (type check + messages)."""
    header = field.header
    first = xl_rowcol_to_cell(1, col)
    if field.type == "enum":
        source: object = (
            list(field.enum) if _list_fits_inline(field.enum) or not list_name else f"={list_name}"
        )
        opts = {
            "validate": "list",
            "source": source,
            "error_message": t("template.error.enum", header=header, options="、".join(field.enum)),
        }
    elif field.type == "bool":
        opts = {
            "validate": "list",
            "source": list(BOOL_OPTIONS),
            "error_message": t("template.error.bool", header=header),
        }
    elif field.type == "date":
        opts = {
            "validate": "date",
            "criteria": "between",
            "minimum": DATE_MIN,
            "maximum": DATE_MAX,
            "error_message": t(
                "template.error.date",
                header=header,
                min=DATE_MIN.isoformat(),
                max=DATE_MAX.isoformat(),
            ),
        }
    elif field.type == "yuan":
        opts = {
            "validate": "decimal",
            "criteria": ">=",
            "value": 0,
            "error_message": t("template.error.yuan", header=header),
        }
    elif field.type == "int":
        opts = {
            "validate": "integer",
            "criteria": ">=",
            "value": 0,
            "error_message": t("template.error.int", header=header),
        }
    elif field.type == "code6":
        opts = {
            "validate": "length",
            "criteria": "==",
            "value": 6,
            "error_message": t("template.error.code6", header=header),
        }
    elif field.type == "id_card":
        opts = {
            "validate": "length",
            "criteria": "==",
            "value": 18,
            "error_message": t("template.error.id_card", header=header),
        }
    elif field.type == "month":
        formula = (
            f'=AND(LEN({first})=7,MID({first},5,1)="-",ISNUMBER(--LEFT({first},4)),'
            f"--RIGHT({first},2)>=1,--RIGHT({first},2)<=12)"
        )
        opts = {
            "validate": "custom",
            "value": formula,
            "error_message": t("template.error.month", header=header),
        }
    else:
        return {"validate": "any"}
    opts["error_message"] = _clip(str(opts["error_message"]), 255)
    opts.update(
        error_title=_clip(t("template.error_title"), 32), error_type="stop", ignore_blank=True
    )
    return opts


def _column_width(field: Field) -> int:
    width = max(_MIN_WIDTH.get(field.type, 12), min(display_width(field.header) + 4, 24))
    if field.type == "enum":
        width = max(width, max(display_width(v) for v in field.enum) + 4)
    return min(width, 40)


def _write_ledger_sheet(
    ws: Worksheet, lg: Ledger, fmt: _Formats, list_names: dict[tuple[str, str], str]
) -> None:
    rules = rule_texts(lg)
    last_col = len(lg.fields) - 1
    ws.set_row(0, 36)
    for col, field in enumerate(lg.fields):
        notes = field_notes(lg, field, rules)
        ws.set_column(col, col, _column_width(field), fmt.columns.get(field.type))
        ws.write_string(0, col, field.header, fmt.header_required if field.required else fmt.header)
        comment = [t("template.comment_required")] if field.required else []
        comment.append(t("template.comment_type", type=type_label(field)))
        comment.extend(notes)
        ws.write_comment(
            0, col, "\n".join(comment), {"author": product_name(), "x_scale": 1.8, "y_scale": 1.4}
        )
        opts = _validation(field, col, list_names.get((lg.name, field.name)))
        opts.update(
            input_title=_clip(field.header, 32), input_message=_input_message(lg, field, notes)
        )
        ws.data_validation(1, col, DATA_ROWS, col, opts)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, DATA_ROWS, last_col)
    ws.set_landscape()
    ws.repeat_rows(0)
    ws.fit_to_pages(1, 0)


def _merged_para(ws: Worksheet, row: int, text: str, cell_format: object) -> int:
    """Write `text` across the guide's columns, sized to wrap; return the next row."""
    total = sum(_GUIDE_WIDTHS) - 4
    lines = sum(max(1, math.ceil(display_width(part) / total)) for part in text.split("\n"))
    ws.merge_range(row, 0, row, len(_GUIDE_WIDTHS) - 1, text, cell_format)
    ws.set_row(row, 16 * lines + 4)
    return row + 1


def _write_guide(
    ws: Worksheet,
    ledgers: Sequence[Ledger],
    fmt: _Formats,
    county_code: str | None,
    county_name: str | None,
    period: str | None,
) -> None:
    for col, width in enumerate(_GUIDE_WIDTHS):
        ws.set_column(col, col, width)
    ws.set_row(0, 30)
    ws.merge_range(0, 0, 0, len(_GUIDE_WIDTHS) - 1, t("template.guide_title"), fmt.title)
    row = _merged_para(
        ws, 1, t("template.guide_generated", date=date.today().isoformat()), fmt.para
    )
    if county_code:
        unit = t(
            "template.unit_line",
            county_code=county_code,
            county_name=county_name or t("template.unit_unknown_name"),
            period=period or t("template.unit_unknown_period"),
        )
        row = _merged_para(ws, row, unit, fmt.emph)
    row += 1
    ws.write_string(row, 0, t("template.section_howto"), fmt.section)
    row += 1
    for i in range(1, 8):
        row = _merged_para(ws, row, f"{i}. " + t(f"template.howto_{i}"), fmt.para)
    row += 1
    ws.write_string(row, 0, t("template.section_naming"), fmt.section)
    row += 1
    pattern = t("template.naming_pattern")
    row = _merged_para(
        ws,
        row,
        t(
            "template.naming_rule",
            pattern=pattern,
            example=suggested_filename("330402", "南湖区", "2025-09"),
        ),
        fmt.para,
    )
    if county_code:
        row = _merged_para(
            ws,
            row,
            t(
                "template.naming_suggested",
                name=suggested_filename(county_code, county_name, period),
            ),
            fmt.emph,
        )
    row += 1
    ws.write_string(row, 0, t("template.section_privacy"), fmt.section)
    row += 1
    row = _merged_para(ws, row, t("template.privacy_note"), fmt.emph)
    row += 1
    ws.write_string(row, 0, t("template.section_ledgers"), fmt.section)
    row += 1
    heads = [
        t(k)
        for k in (
            "template.col_header",
            "template.col_type",
            "template.col_required",
            "template.col_options",
            "template.col_note",
        )
    ]
    for index, lg in enumerate(ledgers, start=1):
        row += 1
        ws.write_string(
            row, 0, t("template.ledger_heading", index=index, title=lg.title), fmt.section
        )
        row += 1
        intro = ledger_description(lg)
        if lg.key:
            keys = " + ".join(lg.field(k).header for k in lg.key)
            intro = f"{intro} {t('template.ledger_key', fields=keys)}".strip()
        row = _merged_para(ws, row, intro, fmt.para)
        ws.write_row(row, 0, heads, fmt.table_head)
        row += 1
        rules = rule_texts(lg)
        for field in lg.fields:
            cell = fmt.cell_required if field.required else fmt.cell
            ws.write_string(row, 0, field.header, cell)
            ws.write_string(row, 1, type_label(field), fmt.cell)
            ws.write_string(
                row,
                2,
                t("template.required_yes") if field.required else t("template.required_no"),
                cell,
            )
            ws.write_string(row, 3, options_text(field), fmt.cell)
            ws.write_string(
                row, 4, t("template.rule_sep").join(field_notes(lg, field, rules)), fmt.cell
            )
            row += 1
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def write_template(
    path: str | Path,
    ledgers: Sequence[str] | None = None,
    county_code: str | None = None,
    county_name: str | None = None,
    period: str | None = None,
) -> Path:
    """Write the fill-in workbook to `path` (a folder gets `台账填报模板.xlsx`); return its path.

    Sheets: 填表说明 first, then one per ledger (contract order), then the hidden 选项 sheet that
    backs long dropdown lists through defined names `opt_<ledger>_<field>`.
    """
    county_code = county_code.strip() if county_code else None
    county_name = county_name.strip() if county_name else None
    period = period.strip() if period else None
    _check_inputs(county_code, period)
    chosen = select_ledgers(ledgers)
    out = Path(path)
    if out.is_dir():
        out = out / t("template.default_filename")
    out.parent.mkdir(parents=True, exist_ok=True)

    wb = xlsxwriter.Workbook(str(out))
    try:
        wb.set_properties(
            {
                "title": t("template.guide_title"),
                "author": product_name(),
                "comments": suggested_filename(county_code, county_name, period),
            }
        )
        fmt = _Formats(wb)
        guide = wb.add_worksheet(t("template.guide_sheet"))
        sheets = [(lg, wb.add_worksheet(lg.title)) for lg in chosen]
        options = wb.add_worksheet(t("template.options_sheet"))
        list_names = _write_options(wb, options, chosen, fmt)
        _write_guide(guide, chosen, fmt, county_code, county_name, period)
        for lg, ws in sheets:
            _write_ledger_sheet(ws, lg, fmt, list_names)
        options.hide()
        guide.activate()
    finally:
        wb.close()
    return out
