"""The two pages, the cockpit and a county's page: skeleton, selectors, redraws, entry points."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from workbench.dashboard.board import _board_class
from workbench.dashboard.calendar import calendar_html
from workbench.dashboard.cards import kpi_cards_html
from workbench.dashboard.data import DashboardData
from workbench.dashboard.drill import LedgerSource, drill_html, overdue_html, run_drill
from workbench.dashboard.funnel import funnel_figure, funnel_title_html, rectification_figure
from workbench.dashboard.lagging import lagging_html, overdue_cases_html
from workbench.dashboard.loading import load, read_ledgers
from workbench.dashboard.map import geojson_path, load_shapes, map_colours
from workbench.dashboard import exports
from workbench.dashboard.markup import (
    _esc,
    _part,
    cockpit_href,
    county_href,
    export_buttons,
    panel_title,
    span_text,
    worded,
)
from workbench.dashboard.ranking import (
    rank_summary_html,
    ranking_bars_html,
    ranking_table_html,
)
from workbench.dashboard.screening import screening_figure, screening_html, screening_shown
from workbench.dashboard.trend import history_figure, trend_figure
from workbench.dashboard.view import CITY, INDEX, View, parse_query
from workbench.messages import t
from workbench.presentation.product import colophon

log = logging.getLogger(__name__)


def header_html(data: DashboardData, view: View, page: str = "cockpit") -> str:
    """Title, data-as-of line, and the link that opens the drill-down (or goes back)."""
    demo = f'<span class="wb-demo-flag">{_esc(t("dash.demo"))}</span>' if data.demo else ""
    if page == "cockpit":
        title = t("dash.cockpit.title")
        link = (
            f'<a class="wb-open" data-open-county="{_esc(view.county)}" '
            f'href="{_esc(county_href(view.county, view))}" target="_self">'
            f"{_esc(t('dash.open_county', name=data.county_name(view.county)))}</a>"
            if view.county
            else ""
        )
    else:
        title = t(
            "dash.county.title",
            name=data.county_name(view.county),
            **data.words(view.indicator_set),
        )
        link = (
            f'<a class="wb-back" href="{_esc(cockpit_href(view))}" target="_self">'
            f"{_esc(t('dash.back'))}</a>"
        )
    asof = t(
        "tables.dash.asof" if data.period_labels else "dash.asof",
        period=data.period_label(view.period),
        span=span_text(data.span, view.period),
        set=data.indicator_sets.get(view.indicator_set, view.indicator_set),
    )
    place = data.words(view.indicator_set)["place"] or data.city_name
    body = (
        f'<span class="wb-title">{_esc(title)}<small>{_esc(place)}</small>{demo}'
        f'</span><span class="wb-asof">{_esc(asof)}</span>{link}'
    )
    return _part("header", view.key, body)


def select_html(
    name: str,
    label_key: str,
    options: Sequence[tuple[str, str]] = (),
    value: str = "",
    words: dict[str, str] | None = None,
) -> str:
    """A labelled <select> the board wires to `set_view` (`data-control` names the field).

    The board fills the options from its `options` state, so long lists (3,000 counties)
    travel once."""
    opts = "".join(
        f'<option value="{_esc(v)}"{" selected" if v == value else ""}>{_esc(lab)}</option>'
        for lab, v in options
    )
    css = name.replace("_", "-")
    label = worded(label_key, words) if words is not None else _esc(t(label_key))
    return (
        f'<label class="wb-sel wb-sel-{css}"><span>{label}</span>'
        f'<select data-control="{_esc(name)}">{opts}</select></label>'
    )


def _panel_html(
    title_key: str,
    body: str,
    note: str = "",
    cls: str = "",
    export: str = "",
    formats: str = "xlsx csv",
    words: dict[str, str] | None = None,
    note_html: str = "",
) -> str:
    title = panel_title(title_key, note, export, formats, words, note_html)
    return f'<section class="wb-panel {cls}" data-panel="{_esc(export)}">{title}{body}</section>'


def footer_html() -> str:
    """The colophon under the cockpit and the county page: the same line the batch's reports
    and index end with (`presentation.product.colophon`)."""
    return f'<footer class="wb-foot">{_esc(colophon())}</footer>'


def _slot(name: str) -> str:
    return f'<div class="wb-slot" data-slot="{_esc(name)}"></div>'


def _actions(kpis_label: str) -> str:
    """The header's actions: print the whole page (A4 landscape, `theme.css` @media print) and
    download the KPI table."""
    return (
        '<div class="wb-actions">'
        f'<span class="wb-actions-label">{_esc(t(kpis_label))}</span>'
        f"{export_buttons('kpis')}"
        f'<button type="button" class="wb-print" data-print="1" '
        f'title="{_esc(t("dash.print.tip"))}">{_esc(t("dash.print"))}</button></div>'
    )


class _Page:
    """Shared machinery of both pages: the view, the selectors, timed in-place updates."""

    parts: tuple[str, ...] = ()
    controls: dict[str, str] = {}  # select name → View field

    def __init__(self, data: DashboardData, view: View) -> None:
        self.data = data
        self.view = view
        self.last_update_ms = 0.0
        self._sent: dict[str, tuple[int, object]] = {}
        self.word_args: dict[str, dict[str, object]] = {}  # a worded text's other arguments

    # -- options -------------------------------------------------------------------------
    def _set_options(self) -> list[tuple[str, str]]:
        return [(title, key) for key, title in self.data.indicator_sets.items()]

    def _period_options(self) -> list[tuple[str, str]]:
        return [(self.data.period_label(p), p) for p in reversed(self.data.periods)]

    def _county_options(self, with_city: bool) -> list[tuple[str, str]]:
        counties = self.data.memo(
            ("county_options",),
            lambda: [
                (f"{n}（{c}）", c)
                for c, n in zip(
                    self.data.counties["county_code"].astype(str),
                    self.data.counties["county_name"].astype(str),
                )
            ],
        )
        whole = t("dash.selector.whole_city", **self.data.words(self.view.indicator_set))
        return ([(whole, CITY)] if with_city else []) + counties

    def _focus_options(self, indicator_set: str) -> list[tuple[str, str]]:
        opts = [(t("dash.focus.index"), INDEX)] if self.data.hierarchies else []
        opts += [
            (str(m.get("name") or m["indicator"]), str(m["indicator"]))
            for m in self.data.meta_records(indicator_set)
        ]
        return opts

    def _hierarchy_options(self) -> list[tuple[str, str]]:
        return [(title, key) for key, title in self.data.hierarchies.items()]

    def options(self) -> dict[str, list[tuple[str, str]]]:
        raise NotImplementedError

    def values(self) -> dict[str, str]:
        return {name: str(getattr(self.view, field) or "") for name, field in self.controls.items()}

    def build_parts(self) -> dict[str, dict]:
        raise NotImplementedError

    # -- downloads -----------------------------------------------------------------------
    exporters: dict[str, Any] = {}

    def export_tables(self, part: str) -> list[Any]:
        """The tables a part downloads (`dashboard.exports`)."""
        build = self.exporters.get(part)
        return build(self.data, self.view) if build else []

    def png_figure(self, part: str) -> dict | None:
        """A part drawn as HTML that downloads as a picture gets a figure the browser renders."""
        if part in ("ranking", "table"):
            return exports.ranking_figure(self.data, self.view)
        return None

    def on_export(self, part: str, fmt: str) -> None:
        """Answer a download button: the file's bytes (Excel, CSV) or a figure to draw (PNG)."""
        try:
            if fmt == "png":
                figure = self.png_figure(part)
                if figure is not None:
                    name = exports.file_name(self.data, self.view, part, "png")
                    self.board.send({"event": "figure", "figure": figure, "filename": name})
                return
            if fmt not in ("xlsx", "csv"):
                return
            tables = self.export_tables(part)
            if not tables:
                self.board.send({"event": "notice", "message": t("dash.export.empty")})
                return
            name = exports.file_name(self.data, self.view, part, fmt)
            data = exports.file_bytes(tables, fmt)
            self.board.send(
                {"event": "download", "filename": name, "mime": exports.MIME[fmt]}, [data]
            )
            log.info("export %s %s: %d bytes", part, fmt, len(data))
        except Exception:  # a failed download must not take the page down
            log.exception("export %s %s failed", part, fmt)
            self.board.send({"event": "notice", "message": t("dash.export.failed")})

    # -- events --------------------------------------------------------------------------
    def on_select(self, name: str, value: str) -> None:
        field = self.controls.get(name)
        if field is None:
            return
        options = {v for _, v in self._options_payload().get(name, [])}
        if value in options and value != getattr(self.view, field):
            self.set_view(**{field: value})

    def on_click(self, code: str) -> None:
        if code in self.data.cube.counties and code and code != self.view.county:
            self.set_view(county=code)

    def set_view(self, **changes: Any) -> None:
        """Move to a new view and redraw every part in place."""
        view = dataclasses.replace(self.view, **changes)
        if view.indicator_set != self.view.indicator_set:
            focus = [v for _, v in self._focus_options(view.indicator_set)]
            view = dataclasses.replace(
                view,
                focus=view.focus if view.focus in focus else (focus[0] if focus else ""),
                # each set ranks by its own declared index unless one is picked with it
                hierarchy=changes.get("hierarchy")
                or self.data.default_hierarchy(view.indicator_set),
            )
        self.view = view
        self._view_changed()
        self.refresh()

    def _view_changed(self) -> None:
        """Hook: settle page state that depends on the view, before the one redraw."""

    # -- the URL -------------------------------------------------------------------------
    def _county_from_url(self, code: str) -> dict[str, Any]:
        """The view change a `county=` parameter asks for (pages differ on unknown codes)."""
        return {"county": code} if code in self.data.cube.counties else {}

    def open_query(self, query: str | Mapping[str, str] | None) -> None:
        """Show the view the page's URL names (`?set=…&period=…&county=…&index=…&indicator=…`),
        so a link copied from the address bar reopens the same view; values the data does not
        hold are ignored. From then on the address bar follows every change of view."""
        wanted = parse_query(query)
        changes: dict[str, Any] = {}
        if wanted.get("indicator_set") in self.data.indicator_sets:
            changes["indicator_set"] = wanted["indicator_set"]
        if wanted.get("period") in self.data.periods:
            changes["period"] = wanted["period"]
        if wanted.get("hierarchy") in self.data.hierarchies:
            changes["hierarchy"] = wanted["hierarchy"]
        iset = changes.get("indicator_set", self.view.indicator_set)
        if wanted.get("focus") in {v for _, v in self._focus_options(iset)}:
            changes["focus"] = wanted["focus"]
        if wanted.get("county"):
            changes.update(self._county_from_url(wanted["county"]))
        self.board.follow_url = True
        if any(getattr(self.view, k) != v for k, v in changes.items()):
            self.set_view(**changes)
        else:
            self._view_changed()
            self.refresh()

    # -- drawing -------------------------------------------------------------------------
    def _payload(self, name: str, part: dict) -> dict:
        """Give the part a revision: unchanged content keeps its number, so the browser only
        re-stamps its key instead of redrawing it."""
        body = (
            part.get("html", "").replace(self.view.key, "")
            if part["kind"] == "html"
            else {k: v for k, v in part.items() if k != "kind"}
        )
        rev, before = self._sent.get(name, (0, None))
        if body != before:
            rev += 1
            self._sent[name] = (rev, body)
        return {**part, "rev": rev}

    BIG = ("map",)  # parts large enough to travel only when they changed

    def _options_payload(self) -> dict[str, list[list[str]]]:
        key = self.view.indicator_set
        if getattr(self, "_options_for", (None,))[0] != key:
            self._options_for = (key, {k: [list(o) for o in v] for k, v in self.options().items()})
        return self._options_for[1]

    def words_part(self) -> dict:
        """The skeleton's texts that carry the set's words (`markup.worded`), in the words of
        the set shown: the skeleton is drawn once, so picking a set of 地区 after one of 区县
        rewrites its titles and labels through this part."""
        keys = dict.fromkeys(re.findall(r'data-words="([^"]+)"', self.board.skeleton))
        w = self.data.words(self.view.indicator_set)
        return {
            "kind": "words",
            "texts": {k: t(k, **self.word_args.get(k, {}), **w) for k in keys},
        }

    def refresh(self) -> None:
        started = time.perf_counter()
        built = {**self.build_parts(), "words": self.words_part()}
        parts = {name: self._payload(name, p) for name, p in built.items()}
        small = {k: v for k, v in parts.items() if k not in self.BIG}
        big = {k: v for k, v in parts.items() if k in self.BIG}
        options = self._options_payload()
        board = self.board
        with board.hold_sync():
            if options is not board.options:
                board.options = options
            board.values = self.values()
            board.parts = small
            if any(board.big_parts.get(k, {}).get("rev") != v["rev"] for k, v in big.items()):
                board.big_parts = big
            board.key = self.view.key
            board.query = self.view.query()
            board.names = exports.names(self.data, self.view, self.parts)
            board.tick += 1
        self.last_update_ms = (time.perf_counter() - started) * 1000
        log.info("view %s drawn in %.1f ms", self.view.key, self.last_update_ms)

    @property
    def widget(self) -> Any:
        return self.board

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.board)


class Cockpit(_Page):
    """The leader cockpit: one screen, every target, the lagging counties, a click to any county."""

    parts = (
        "header",
        "kpis",
        "ranking",
        "map",
        "trend",
        "funnel_title",
        "funnel",
        "rectification",
        "calendar",
        "lagging",
        "overdue_cases",
        "screening",
        "screening_trend",
        "table",
    )
    controls = {
        "indicator_set": "indicator_set",
        "period": "period",
        "county": "county",
        "focus": "focus",
        "hierarchy": "hierarchy",
    }
    exporters = exports.COCKPIT

    def __init__(
        self,
        data: DashboardData,
        indicator_set: str | None = None,
        period: str | None = None,
        county: str = CITY,
        geojson: str | os.PathLike | None = None,
    ) -> None:
        iset = (
            indicator_set
            if indicator_set in data.indicator_sets
            else next(iter(data.indicator_sets))
        )
        per = period if period in data.periods else data.periods[-1]
        county = county if county in set(data.counties["county_code"].astype(str)) else CITY
        super().__init__(data, View(iset, per, county, INDEX, data.default_hierarchy(iset)))
        focus = [v for _, v in self._focus_options(iset)]
        if self.view.focus not in focus:
            self.view = dataclasses.replace(self.view, focus=focus[0] if focus else "")
        shapes = load_shapes(geojson_path(geojson), data.counties)
        self.board = _board_class()(
            self.on_select,
            self.on_click,
            self.on_export,
            skeleton=self._skeleton(shapes["missing"]),
            shapes=shapes["shapes"],
            viewbox=shapes["viewbox"],
            page="cockpit.ipynb",
        )
        self.refresh()

    def options(self) -> dict[str, list[tuple[str, str]]]:
        return {
            "indicator_set": self._set_options(),
            "period": self._period_options(),
            "county": self._county_options(True),
            "focus": self._focus_options(self.view.indicator_set),
            "hierarchy": self._hierarchy_options(),
        }

    def _skeleton(self, missing_shapes: int) -> str:
        label = {name: "set" if name == "indicator_set" else name for name in self.controls}
        w = self.data.words(self.view.indicator_set)  # the set's own words: 区县/地区, 全市/全省
        sel = {
            name: select_html(name, f"dash.selector.{label[name]}", words=w)
            for name in self.controls
        }
        self.word_args["dash.map.tiles"] = {"n": missing_shapes}
        map_note = worded("dash.map.tiles", w, n=missing_shapes) if missing_shapes else ""
        return (
            '<div class="wb-root wb-cockpit">'
            f'<header class="wb-header">{_slot("header")}<div class="wb-controls">'
            f"{sel['indicator_set']}{sel['period']}{sel['county']}</div>"
            f"{_actions('dash.actions.kpis')}</header>"
            f"{_slot('kpis')}"
            '<div class="wb-grid">'
            + _panel_html(
                "dash.panel.ranking",
                sel["hierarchy"] + _slot("ranking"),
                t("dash.panel.ranking_note"),
                export="ranking",
                formats="xlsx csv png",
            )
            + _panel_html(
                "dash.panel.map",
                sel["focus"] + _slot("map"),
                note_html=map_note,
                export="map",
                formats="xlsx csv png",
                words=w,
            )
            + '</div><div class="wb-grid">'
            + _panel_html(
                "dash.panel.trend",
                _slot("trend"),
                export="trend",
                formats="xlsx csv png",
                words=w,
            )
            # shown only for a set that declares them: the board hides a `data-parts` box
            # whose parts all come `hidden`
            + '<section class="wb-panel" data-parts="funnel rectification">'
            + f'<div data-parts="funnel">{export_buttons("funnel", "xlsx csv png")}'
            + f"{_slot('funnel_title')}{_slot('funnel')}</div>"
            + '<div data-parts="rectification">'
            + panel_title("dash.panel.rectification", "", "rectification", "xlsx csv png")
            + f"{_slot('rectification')}</div></section>"
            + '</div><div class="wb-grid">'
            # the calendar (a set with one) and the lagging list (a set that can have one)
            + '<section class="wb-panel" data-parts="calendar">'
            + f"{panel_title('dash.panel.calendar', '', 'calendar')}{_slot('calendar')}</section>"
            + '<section class="wb-panel" data-parts="lagging">'
            + f"{panel_title('dash.panel.lagging', '', 'lagging', words=w)}{_slot('lagging')}"
            + "</section>"
            + "</div>"
            # the supervision loop's other list: open cases past their 办案时限
            + '<section class="wb-panel" data-parts="overdue_cases">'
            + panel_title("dash.panel.overdue_cases", t("dash.panel.drill_note"), "overdue_cases")
            + f"{_slot('overdue_cases')}</section>"
            # 疑点数据筛查: only for a set that declares it, when there are screening results
            + '<section class="wb-panel" data-parts="screening screening_trend">'
            + panel_title("dash.panel.screening", t("dash.panel.screening_note"), "screening")
            + f'<div class="wb-scr">{_slot("screening")}'
            + f'<div class="wb-scr-trend"><h4>{_esc(t("dash.scr.trend"))}</h4>'
            + f"{_slot('screening_trend')}</div></div></section>"
            + _panel_html("dash.panel.table", _slot("table"), export="table")
            + footer_html()
            + "</div>"
        )

    def build_parts(self) -> dict[str, dict]:
        d, v = self.data, self.view
        fills, tips, legend = map_colours(d, v)
        shows = d.presentation_of(v.indicator_set)
        return {
            "header": {"kind": "html", "html": header_html(d, v, "cockpit")},
            "kpis": {"kind": "html", "html": kpi_cards_html(d, v)},
            "calendar": {
                "kind": "html",
                "html": calendar_html(d, v),
                "hidden": not shows["calendar"],
            },
            "lagging": {
                "kind": "html",
                "html": lagging_html(d, v),
                "hidden": not shows["lagging"],
            },
            "overdue_cases": {
                "kind": "html",
                "html": overdue_cases_html(d, v),
                "hidden": not shows["ledger_lists"],
            },
            "screening": {
                "kind": "html",
                "html": screening_html(d, v),
                "hidden": not screening_shown(d, v),
            },
            "screening_trend": {
                "kind": "plot",
                "figure": screening_figure(d, v),
                "hidden": not screening_shown(d, v),
            },
            "table": {"kind": "html", "html": ranking_table_html(d, v)},
            "map": {"kind": "map", "fills": fills, "tips": tips, "legend": legend},
            "map_selection": {"kind": "mapsel", "map": "map", "selected": v.county},
            "ranking": {"kind": "html", "html": ranking_bars_html(d, v)},
            "trend": {"kind": "plot", "figure": trend_figure(d, v)},
            "funnel_title": {"kind": "html", "html": funnel_title_html(d, v)},
            "funnel": {
                "kind": "plot",
                "figure": funnel_figure(d, v),
                "hidden": not shows["funnel"],
            },
            "rectification": {
                "kind": "plot",
                "figure": rectification_figure(d, v),
                "hidden": not shows["rectification"],
            },
        }


class CountyPage(_Page):
    """One county: its indicators with history and targets, its rank, overdue items, and the
    ledger rows behind any number."""

    parts = ("header", "kpis", "rank", "history", "ranking", "overdue", "drill")
    controls = {"indicator_set": "indicator_set", "period": "period", "county": "county"}
    exporters = exports.COUNTY

    def __init__(
        self,
        data: DashboardData,
        county: str | None = None,
        period: str | None = None,
        indicator_set: str | None = None,
        ledgers: LedgerSource | None = None,
    ) -> None:
        codes = list(data.counties["county_code"].astype(str))
        county = county if county in codes else codes[0]
        iset = (
            indicator_set
            if indicator_set in data.indicator_sets
            else next(iter(data.indicator_sets))
        )
        per = period if period in data.periods else data.periods[-1]
        super().__init__(data, View(iset, per, county, INDEX, data.default_hierarchy(iset)))
        self._ledger_source = ledgers
        self._ledger_cache: dict[str, Mapping[str, pd.DataFrame] | None] = {}
        self.notice = self._next_notice = ""
        self.board = _board_class()(
            self.on_select,
            self.on_click,
            self.on_export,
            skeleton=self._skeleton(),
            page="county.ipynb",
        )
        self.refresh()

    @property
    def drill_indicator(self) -> str:
        """The indicator whose ledger rows are shown: the view's (the one the cockpit was
        looking at, carried in the URL), else the set's first."""
        drill = [v for _, v in self._drill_options()]
        if self.view.focus in drill:
            return self.view.focus
        return drill[0] if drill else ""

    def _drill_options(self) -> list[tuple[str, str]]:
        return [
            (str(m.get("name") or m["indicator"]), str(m["indicator"]))
            for m in self.data.meta_records(self.view.indicator_set)
        ]

    def options(self) -> dict[str, list[tuple[str, str]]]:
        return {
            "indicator_set": self._set_options(),
            "period": self._period_options(),
            "county": self._county_options(False),
            "drill": self._drill_options(),
        }

    def values(self) -> dict[str, str]:
        return {**super().values(), "drill": self.drill_indicator}

    def _skeleton(self) -> str:
        names = {"indicator_set": "set", "period": "period", "county": "county", "drill": "drill"}
        w = self.data.words(self.view.indicator_set)
        sel = {n: select_html(n, f"dash.selector.{names[n]}", words=w) for n in names}
        return (
            '<div class="wb-root wb-county">'
            f'<header class="wb-header">{_slot("header")}<div class="wb-controls">'
            f"{sel['indicator_set']}{sel['period']}{sel['county']}</div>"
            f"{_actions('dash.actions.kpis')}</header>"
            f"{_slot('notice')}{_slot('kpis')}"
            '<div class="wb-grid wb-grid-county">'
            + _panel_html(
                "dash.panel.rank", _slot("rank") + _slot("ranking"), export="rank", words=w
            )
            + _panel_html("dash.panel.overdue", _slot("overdue"), export="overdue")
            + "</div>"
            + _panel_html(
                "dash.panel.history",
                _slot("history"),
                note_html=worded("dash.panel.history_note", w),
                export="history",
                formats="xlsx csv png",
            )
            + _panel_html(
                "dash.panel.drill",
                sel["drill"] + _slot("drill"),
                t("dash.panel.drill_note"),
                export="drill",
            )
            + footer_html()
            + "</div>"
        )

    def export_tables(self, part: str) -> list[Any]:
        if part == "rank":
            return exports.rank_summary_table(self.data, self.view) + exports.ranking_table(
                self.data, self.view
            )
        if part == "overdue":
            return exports.overdue_table(self.ledgers(), self.view)
        if part == "drill":
            ledgers = self.ledgers()
            if ledgers is None or not self.drill_indicator:
                return []
            v = self.view
            res = run_drill(ledgers, v.county, v.period, self.drill_indicator, v.indicator_set)
            parts = [
                (role, title, rows)
                for role, frames in (("numerator", res.numerator), ("denominator", res.denominator))
                for title, rows, _total in frames
            ]
            return exports.drill_tables(parts)
        return super().export_tables(part)

    def on_select(self, name: str, value: str) -> None:
        if name == "drill":
            if value in {v for _, v in self._drill_options()} and value != self.drill_indicator:
                self.set_view(focus=value)  # the indicator travels back to the cockpit
            return
        super().on_select(name, value)

    def _view_changed(self) -> None:
        self.notice, self._next_notice = self._next_notice, ""

    def _county_from_url(self, code: str) -> dict[str, Any]:
        """A known county, else the page stays and says so (shown with the next redraw)."""
        if code in set(self.data.counties["county_code"].astype(str)):
            return {"county": code}
        self._next_notice = t(
            "dash.county.unknown", code=code, **self.data.words(self.view.indicator_set)
        )
        return {}

    def open_county(self, code: str | None) -> None:
        """Show `code` (from the URL); an unknown code keeps the page and says so."""
        code = (code or "").strip()
        if not code or code == self.view.county:
            return
        change = self._county_from_url(code)
        if change:
            self.set_view(**change)
        else:
            self._view_changed()
            self.refresh()

    def ledgers(self) -> Mapping[str, pd.DataFrame] | None:
        if self._ledger_source is None:
            return None
        if self.view.county not in self._ledger_cache:
            try:
                self._ledger_cache[self.view.county] = self._ledger_source(self.view.county)
            except Exception:
                log.exception("ledgers unavailable")
                self._ledger_cache[self.view.county] = None
        return self._ledger_cache[self.view.county]

    def build_parts(self) -> dict[str, dict]:
        d, v = self.data, self.view
        ledgers = self.ledgers()
        notice = (
            f'<div class="wb-note wb-notice" data-part="notice" data-key="{_esc(v.key)}">'
            f'<span class="wb-icon wb-st-risk">!</span>{_esc(self.notice)}</div>'
            if self.notice
            else f'<div class="wb-part" data-part="notice" data-key="{_esc(v.key)}"></div>'
        )
        return {
            "header": {"kind": "html", "html": header_html(d, v, "county")},
            "notice": {"kind": "html", "html": notice},
            "kpis": {"kind": "html", "html": kpi_cards_html(d, v)},
            "rank": {"kind": "html", "html": rank_summary_html(d, v)},
            "overdue": {"kind": "html", "html": overdue_html(ledgers, v)},
            "drill": {"kind": "html", "html": drill_html(ledgers, v, self.drill_indicator)},
            "ranking": {"kind": "html", "html": ranking_bars_html(d, v)},
            "history": {"kind": "plot", "figure": history_figure(d, v)},
        }


def query_string() -> str:
    """The Voilà page's URL query (`set=…&period=…&county=…`).

    With preheated kernels the request arrives after the notebook started, so this waits for it
    (voila's `get_query_string`); elsewhere it reads $QUERY_STRING (empty in JupyterLab)."""
    qs = os.environ.get("QUERY_STRING", "")
    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        try:
            from voila.utils import get_query_string

            qs = get_query_string() or qs
        except Exception:  # pragma: no cover - outside Voilà
            log.exception("query string unavailable")
    return qs or ""


def county_from_query(default: str | None = None) -> str | None:
    """The `county` URL parameter of the Voilà page (`county.ipynb?county=990101`)."""
    return parse_query(query_string()).get("county") or default


def cockpit(warehouse: str | os.PathLike | None = None, **kw: Any) -> Cockpit:
    """The cockpit for the configured warehouse (what dashboards/cockpit.ipynb displays)."""
    return Cockpit(load(warehouse), **kw)


def county_page(
    county: str | None = None, warehouse: str | os.PathLike | None = None, **kw: Any
) -> CountyPage:
    """A county's drill-down page (what dashboards/county.ipynb displays)."""
    data = load(warehouse)
    return CountyPage(
        data, county=county, ledgers=functools.partial(_county_ledgers, str(warehouse or "")), **kw
    )


@functools.lru_cache(maxsize=8)
def _county_ledgers(warehouse: str, county: str) -> dict[str, pd.DataFrame]:
    return read_ledgers(warehouse or None, county=county)
