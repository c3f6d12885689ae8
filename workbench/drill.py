"""Drill-through: the ledger rows behind one county's indicator value.

Every number on a report can be traced to rows: for a ratio, the rows of each numerator and
denominator measure in the same window the value was computed on; for a change, the rows of the
current and the baseline window. Personal data is masked (`privacy.mask_frame`) before anything
leaves this module, and headers are the ledgers' Chinese headers.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.contracts import LEDGERS, Ledger
from workbench.declarations import Indicator, IndicatorSet, Measure, load_set
from workbench.indicators import CURRENT, compute_points, span_window
from workbench.measures import MeasureEngine, Window, month_index, tables_of, unit_sources
from workbench.messages import t
from workbench.privacy import excel_safe_frame, mask_frame

log = logging.getLogger(__name__)

_META = ("_submission_id", "_period", "_file", "_sheet", "_source_row", "_extra")


def chinese_headers(
    df: pd.DataFrame, ledger: str, sources: Mapping[str, Ledger] = LEDGERS
) -> pd.DataFrame:
    """Rename ledger (or declared table) fields, and `ledger.field` join columns, to their
    Chinese headers."""
    lg = sources[ledger]
    names = {f.name: f.header for f in lg.fields}
    for col in df.columns:
        if isinstance(col, str) and "." in col:
            other, fld = col.split(".", 1)
            if other in sources and fld in sources[other].field_names:
                names[col] = f"{sources[other].title}·{sources[other].field(fld).header}"
    return df.rename(columns=names)


@dataclass(frozen=True)
class DrillPart:
    """The rows behind one measure of the numerator or denominator."""

    role: str  # "numerator" | "denominator"
    measure: str
    measure_name: str
    ledger: str
    window: str
    value: float
    rows: pd.DataFrame  # masked, Chinese headers
    total_rows: int
    note: str = ""

    @property
    def title(self) -> str:
        ledger = LEDGERS[self.ledger].title if self.ledger in LEDGERS else self.ledger
        return t(
            "ind.drill.rows",
            measure=self.measure_name or self.measure,
            ledger=ledger,
            n=self.total_rows,
            value=_num(self.value),
        )


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "—"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class DrillResult:
    """One county × indicator × window, with the rows behind its numerator and denominator."""

    county_code: str
    county_name: str
    indicator: Indicator
    span: str
    window: Window
    value: float
    numerator_value: float
    denominator_value: float
    parts: tuple[DrillPart, ...] = ()
    note: str = ""
    max_rows: int | None = None

    @property
    def numerator(self) -> list[DrillPart]:
        return [p for p in self.parts if p.role == "numerator"]

    @property
    def denominator(self) -> list[DrillPart]:
        return [p for p in self.parts if p.role == "denominator"]

    @staticmethod
    def _stack(parts: list[DrillPart]) -> pd.DataFrame:
        if not parts:
            return pd.DataFrame()
        if len(parts) == 1:
            return parts[0].rows
        frames = [
            p.rows.assign(**{t("ind.col.measure_name"): p.measure_name or p.measure}) for p in parts
        ]
        return pd.concat(frames, ignore_index=True, sort=False)

    @property
    def numerator_rows(self) -> pd.DataFrame:
        """All numerator rows (a 度量名称 column tells the measures apart when several)."""
        return self._stack(self.numerator)

    @property
    def denominator_rows(self) -> pd.DataFrame:
        return self._stack(self.denominator)

    @property
    def title(self) -> str:
        return t(
            "ind.drill.title",
            county=self.county_name,
            indicator=self.indicator.name,
            window=self.window.label,
        )

    def _repr_html_(self) -> str:
        ind = self.indicator
        shown_value = fmt.value_text(self.value, ind.unit, getattr(ind, "decimals", None))
        out = [
            f"<div><h4>{html.escape(self.title)}</h4>",
            f"<p>{html.escape(t('ind.col.value'))}：{shown_value}"
            f"（{html.escape(t('ind.drill.numerator'))} {_num(self.numerator_value)} ／ "
            f"{html.escape(t('ind.drill.denominator'))} {_num(self.denominator_value)}）</p>",
        ]
        if self.note:
            out.append(f"<p>{html.escape(self.note)}</p>")
        for role in ("numerator", "denominator"):
            parts = [p for p in self.parts if p.role == role]
            if not parts:
                continue
            out.append(f"<h5>{html.escape(t('ind.drill.' + role))}</h5>")
            for p in parts:
                out.append(f"<h6>{html.escape(p.title)}</h6>")
                if p.note:
                    out.append(f"<p>{html.escape(p.note)}</p>")
                shown = p.rows if self.max_rows is None else p.rows.head(self.max_rows)
                if len(shown) < p.total_rows:
                    note = t("ind.drill.truncated", shown=len(shown), total=p.total_rows)
                    out.append(f"<p>{html.escape(note)}</p>")
                out.append(
                    shown.to_html(index=False, na_rep="")
                    if len(shown)
                    else f"<p>{html.escape(t('ind.drill.no_rows'))}</p>"
                )
        out.append("</div>")
        return "".join(out)

    def to_excel(self, path: str | Path) -> Path:
        """One sheet per part plus a 说明 sheet; formula-like cells neutralised."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = pd.DataFrame(
            {
                t("ind.col.county_name"): [self.county_name],
                t("ind.col.indicator_name"): [self.indicator.name],
                t("ind.col.span"): [t(f"ind.span.{self.span}")],
                t("ind.col.window_start"): [self.window.label],
                t("ind.col.value"): [self.value],
                t("ind.col.numerator"): [self.numerator_value],
                t("ind.col.denominator"): [self.denominator_value],
            }
        )
        with pd.ExcelWriter(path, engine="xlsxwriter") as xw:
            excel_safe_frame(summary).to_excel(
                xw, sheet_name=t("ind.drill.sheet_summary"), index=False
            )
            for i, p in enumerate(self.parts, 1):
                label = t(f"ind.drill.{p.role}")
                sheet = f"{i}_{label}_{p.measure}"[:31]
                excel_safe_frame(p.rows).to_excel(xw, sheet_name=sheet, index=False)
        return path


def _part(
    engine: MeasureEngine,
    iset: IndicatorSet,
    role: str,
    code: str,
    county: str,
    window: Window,
    value: float,
) -> DrillPart:
    m: Measure = iset.measures[code]
    if m.agg == "months" or m.ledger is None:
        return DrillPart(
            role,
            code,
            m.name,
            "",
            window.label,
            value,
            pd.DataFrame(),
            0,
            t("ind.drill.months_only"),
        )
    rows = engine.rows(m, county, window, year=window.end // 12)
    rows = rows[[c for c in rows.columns if c not in _META]]
    masked = mask_frame(rows)
    unit_name = getattr(engine.sources[m.ledger], "name_field", None)
    if unit_name in rows.columns:  # a declared table's unit names are names of units, not people
        masked[unit_name] = rows[unit_name]
    masked = chinese_headers(masked, m.ledger, engine.sources)
    return DrillPart(
        role,
        code,
        m.name,
        m.ledger,
        window.label,
        value,
        masked.reset_index(drop=True),
        len(masked),
    )


def drill(
    ledgers: Mapping[str, pd.DataFrame] | MeasureEngine,
    county: str,
    period: str,
    indicator: str,
    indicator_set: str | IndicatorSet = "campaign_2025",
    span: str | None = None,
    indicators_dir: str | Path | None = None,
    max_rows: int | None = 200,
) -> DrillResult:
    """The rows behind `indicator` for `county` in the window `span` ending at `period`.

    `span` defaults to the set's default span (年初至今 for the shipped sets); an indicator with
    its own span (e.g. quarterly) always uses that. `max_rows` only limits the HTML display.
    """
    iset = (
        indicator_set
        if isinstance(indicator_set, IndicatorSet)
        else load_set(indicator_set, [indicators_dir] if indicators_dir else None)
    )
    if indicator not in iset.indicators:
        raise KeyError(t("ind.unknown_indicator", name=indicator))
    engine = (
        ledgers
        if isinstance(ledgers, MeasureEngine)
        else MeasureEngine(ledgers, tables=tables_of([iset]), units_from=unit_sources([iset]))
    )
    county = str(county)
    row = int(engine.counties.get_indexer([county])[0])
    if row < 0:
        raise KeyError(t("ind.unknown_county", county=county))
    span = span or iset.default_span
    end = month_index(period)
    ind = iset.indicators[indicator]
    vals = compute_points(engine, iset, [(span, end)], [indicator])
    num, den, val = (float(a[row, 0]) for a in vals.get(indicator, CURRENT))
    window = vals.windows[indicator][0]
    name = str(engine.county_names(end // 12).get(county, county))
    parts: list[DrillPart] = []
    note = ""
    eff = ind.span or span
    if ind.type in ("ratio", "share", "count"):
        for role, codes in (("numerator", ind.numerator), ("denominator", ind.denominator)):
            for code in codes:
                w = span_window(eff, end, iset.calendar, CURRENT, iset.frequency)
                mval = float(
                    engine.windows(
                        iset.measures[code], [w], {k: p.value for k, p in iset.parameters.items()}
                    )[row, 0]
                )
                parts.append(_part(engine, iset, role, code, county, w, mval))
    elif ind.type == "change":
        base = iset.indicators[ind.of]  # type: ignore[index]
        b_eff = base.span or span
        for role, key in (("numerator", CURRENT), ("denominator", ind.baseline.key)):  # type: ignore
            w = span_window(b_eff, end, iset.calendar, key, iset.frequency)
            for code in (*base.numerator, *base.denominator):
                mval = float(
                    engine.windows(
                        iset.measures[code], [w], {k: p.value for k, p in iset.parameters.items()}
                    )[row, 0]
                )
                part = _part(engine, iset, role, code, county, w, mval)
                label = t("ind.drill.current") if key == CURRENT else t("ind.drill.baseline")
                parts.append(
                    DrillPart(
                        part.role,
                        part.measure,
                        f"{label}·{part.measure_name or part.measure}",
                        part.ledger,
                        part.window,
                        part.value,
                        part.rows,
                        part.total_rows,
                        part.note,
                    )
                )
    else:
        note = t(
            "ind.drill.derived", deps="、".join(iset.indicators[d].name for d in ind.depends_on)
        )
    return DrillResult(county, name, ind, span, window, val, num, den, tuple(parts), note, max_rows)
