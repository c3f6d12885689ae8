"""Who issues a document, its 文号, 主送, 抄送 and dates: workbench.toml `[documents]`, then
the `workbench run` flags, then defaults built from the city's name. The 成文日期 defaults to
the month after the period (day `issue_day`, 10 unless configured) — never the machine's date."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from workbench.documents.model import Header
from workbench.messages import t

DEFAULT_ISSUE_DAY = 10
KINDS = ("bulletin", "phase_summary", "campaign_summary", "case_digest")  # names: doc.kind.*


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(s.strip() for s in re.split(r"[,，、;；\n]", value) if s.strip())
    return tuple(str(v).strip() for v in value if str(v).strip())


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(str(value)).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(t("doc.err.bad_date", value=value)) from exc


def default_issue_date(period: str, day: int = DEFAULT_ISSUE_DAY) -> dt.date:
    """The 成文日期 when the analyst chose none: day `day` of the month after `period`."""
    nxt = pd.Period(str(period)[:7], freq="M") + 1
    return dt.date(nxt.year, nxt.month, max(1, min(int(day), nxt.days_in_month)))


def kind_of(name: str) -> str:
    """通报 / 阶段总结 / 工作总结 / 案例汇编 (or the English kind) → the kind; else a Chinese
    error naming the choices."""
    name = str(name).strip()
    by_name = {t(f"doc.kind.{k}"): k for k in KINDS}
    if name in KINDS:
        return name
    if name in by_name:
        return by_name[name]
    raise ValueError(t("doc.err.bad_kind", kind=name, kinds="、".join(by_name)))


def split_per_kind(values: Any, default_kind: str | None) -> tuple[Any, dict[str, str]]:
    """Flag values like `3` or `工作总结=4` (several allowed, or one mapping from the toml):
    (the value without a kind, {kind: value}). A value without a kind applies to
    `default_kind` when given, else it is returned as the common value."""
    common: Any = None
    per: dict[str, str] = {}
    if values in (None, "", ()):
        return None, per
    if isinstance(values, Mapping):
        items = [(str(k), str(v)) for k, v in values.items()]
    else:
        items = []
        for v in [values] if isinstance(values, str) else list(values):
            text = str(v).strip()
            key, sep, rest = text.partition("=")
            items.append((key.strip(), rest.strip()) if sep else ("", text))
    for key, value in items:
        if not key:
            if default_kind is None:
                common = value
            else:
                per[default_kind] = value
        else:
            per[kind_of(key)] = value
    return common, per


@dataclass(frozen=True)
class DocOptions:
    """Everything the analyst may set; None/empty means “use the default”."""

    issuer: str = ""
    mark: str = ""
    number: str = ""  # a whole 文号 (…〔2026〕3号) or just its serial (3)
    number_pattern: str = ""  # e.g. 演医保发〔{year}〕{no}号
    recipients: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    printer: str = ""
    issue_date: dt.date | None = None
    print_date: dt.date | None = None
    issue_day: int = DEFAULT_ISSUE_DAY
    numbers: Mapping[str, str] = field(default_factory=dict)  # 文号 per kind (phase summary …)
    issue_dates: Mapping[str, dt.date] = field(default_factory=dict)  # 成文日期 per kind

    def number_for(self, kind: str) -> str:
        """The 文号 (or serial) the analyst set for a kind; `number` is the 通报's."""
        return self.numbers.get(kind) or (self.number if kind == "bulletin" else "")

    def date_for(self, kind: str) -> dt.date | None:
        """The 成文日期 set for a kind, else the one set for all documents."""
        return self.issue_dates.get(kind) or self.issue_date

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DocOptions:
        """From workbench.toml `[documents]` (keys as in docs/文书.md)."""
        day = data.get("issue_day", DEFAULT_ISSUE_DAY)
        _n, numbers = split_per_kind(data.get("numbers"), None)
        _d, dates = split_per_kind(data.get("issue_dates"), None)
        return cls(
            issuer=str(data.get("issuer") or ""),
            mark=str(data.get("mark") or ""),
            number=str(data.get("number") or ""),
            number_pattern=str(data.get("number_pattern") or ""),
            recipients=_list(data.get("recipients")),
            cc=_list(data.get("cc")),
            printer=str(data.get("printer") or ""),
            issue_date=_date(data.get("issue_date")),
            print_date=_date(data.get("print_date")),
            issue_day=int(day) if str(day).isdigit() else DEFAULT_ISSUE_DAY,
            numbers=numbers,
            issue_dates={k: _date(v) for k, v in dates.items()},
        )

    def override(self, **flags: Any) -> DocOptions:
        """CLI flags win over the file; a flag left out keeps the file's value."""
        changes: dict[str, Any] = {}
        if "number" in flags:  # `3`, a whole 文号, or `工作总结=4` (several allowed)
            _c, per = split_per_kind(flags.pop("number"), "bulletin")
            if "bulletin" in per:
                changes["number"] = per.pop("bulletin")
            if per:
                changes["numbers"] = {**self.numbers, **per}
        if "issue_date" in flags:  # `2026-01-08` for every document, or `工作总结=2026-01-15`
            common, per = split_per_kind(flags.pop("issue_date"), None)
            if common is not None:
                changes["issue_date"] = _date(common)
            if per:
                changes["issue_dates"] = {
                    **self.issue_dates,
                    **{k: _date(v) for k, v in per.items()},
                }
        for key, value in flags.items():
            if value in (None, "", ()):
                continue
            if key in ("recipients", "cc"):
                value = _list(value)
            elif key in ("issue_date", "print_date"):
                value = _date(value)
            changes[key] = value
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Plain values for run.json (a resumed run writes the same header)."""

        def plain(v: Any) -> Any:
            if isinstance(v, dt.date):
                return v.isoformat()
            if isinstance(v, tuple):
                return list(v)
            if isinstance(v, Mapping):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {k: plain(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> DocOptions:
        return cls.from_mapping(data or {})


def _short(city: str) -> str:
    """演示市 → 演, 嘉兴市 → 嘉 (the 机关代字 a bureau would use if it named none)."""
    return city[:1] if city else ""


def header(
    options: DocOptions, city: str, period: str, kind: str = "bulletin", words: Any = None
) -> tuple[Header, list[str]]:
    """The 版头/版记 facts of one kind of document and the notes the run prints (which
    defaults were used): its own 文号 and 成文日期 when the analyst set them, else the
    serial left blank for the clerk and the default date. `words`
    (`presentation.words.SetWords`) of a set on its own table: its units are the recipients,
    its declared issuer signs and no city's bureau or campaign group is assumed."""
    notes: list[str] = []
    own = words is not None and not words.on_ledgers
    issuer = options.issuer or (words.issuer if own else t("doc.default.issuer", city=city))
    date = options.date_for(kind)
    if date is None:
        date = default_issue_date(period, options.issue_day)
        notes.append(t("doc.note.default_date", date=f"{date.year}年{date.month}月{date.day}日"))
    chosen = options.number_for(kind)
    number = chosen
    if not number or re.fullmatch(r"[0-9]+", number):
        pattern = options.number_pattern or t(
            "doc.default.number",
            prefix=t("doc.default.prefix", short=_short(issuer if own else city)),
            year="{year}",
            no="{no}",
        )
        no = number or t("doc.blank_no")
        number = pattern.replace("{year}", str(date.year)).replace("{no}", no)
        if not chosen:
            key = "doc.note.blank_number" if kind == "bulletin" else "doc.note.blank_number_kind"
            notes.append(t(key, number=number, kind=t(f"doc.kind.{kind}")))
    head = Header(
        issuer=issuer,
        mark=options.mark or t("doc.default.mark", issuer=issuer),
        number=number,
        recipients=options.recipients
        or (
            (t("doc.default.recipients_own", noun=words.unit_noun),)
            if own
            else (t("doc.default.recipients"),)
        ),
        cc=options.cc or (() if own else (t("doc.default.cc"),)),
        printer=options.printer or t("doc.default.printer", issuer=issuer),
        date=date,
        print_date=options.print_date or date,
    )
    return head, notes


def split_names(values: Sequence[str] | str | None) -> tuple[str, ...]:
    return _list(values)
