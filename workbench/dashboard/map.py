"""The county map: GeoJSON boundaries as SVG paths (tiles where none), coloured by the focus."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.config import load_config
from workbench.dashboard.data import KPI_FIELDS, DashboardData, _float
from workbench.dashboard.markup import STATUS_LIGHTS, _esc, display, focus_meta, format_value
from workbench.dashboard.ranking import ranking_rows
from workbench.dashboard.style import (
    ASSETS,
    SEQUENTIAL,
    STATUS_COLOURS,
    STATUS_ICONS,
    _grade_colour,
)
from workbench.dashboard.view import INDEX, View
from workbench.messages import t
from workbench.presentation import kpis as pk
from workbench.presentation import ranks as prank

log = logging.getLogger(__name__)


DEMO_GEOJSON = ASSETS / "demo_city.geojson"
ENV_GEOJSON = "WORKBENCH_GEOJSON"


def geojson_path(flag: str | os.PathLike | None = None) -> Path:
    """County boundaries: flag, then $WORKBENCH_GEOJSON, then workbench.toml `[dashboard]
    geojson`, then the shipped demo boundaries."""
    if flag:
        return Path(flag)
    if env := os.environ.get(ENV_GEOJSON):
        return Path(env)
    cfg = load_config()
    value = (
        (cfg.get("dashboard") or {}).get("geojson")
        if isinstance(cfg.get("dashboard"), dict)
        else None
    )
    if value:
        p = Path(value)
        return p if p.is_absolute() else Path(cfg["_path"]).parent / p
    return DEMO_GEOJSON


_CODE_KEYS = ("county_code", "code", "adcode", "区划代码", "GB", "gb", "id")
_NAME_KEYS = ("county_name", "name", "区县名称", "NAME")


def _rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon":
        return [ring for ring in coords]
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return []


def load_shapes(
    path: str | os.PathLike | None, counties: pd.DataFrame, width: float = 1000.0
) -> dict:
    """GeoJSON → SVG paths in a `0 0 width h` box; counties without a boundary become tiles.

    Returns {"viewbox", "shapes": [{code, name, d, cx, cy}], "missing": n, "source"}."""
    codes = [str(c) for c in counties["county_code"]]
    names = dict(zip(codes, counties["county_name"].astype(str)))
    feats: dict[str, list[list[list[float]]]] = {}
    source = ""
    p = Path(path) if path else None
    if p is not None and p.is_file():
        try:
            gj = json.loads(p.read_text(encoding="utf-8-sig"))
            for feat in gj.get("features", []):
                props = feat.get("properties") or {}
                code = next(
                    (str(props[k]) for k in _CODE_KEYS if props.get(k) not in (None, "")),
                    str(feat.get("id", "")),
                )
                if code in names and feat.get("geometry"):
                    feats.setdefault(code, []).extend(_rings(feat["geometry"]))
            source = str(p)
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning(t("dash.log.geojson_unreadable", path=p, error=exc))
    shapes: list[dict] = []
    height = width * 0.75
    if feats:
        xs = [pt[0] for rings in feats.values() for ring in rings for pt in ring]
        ys = [pt[1] for rings in feats.values() for ring in rings for pt in ring]
        lat0 = math.radians((min(ys) + max(ys)) / 2)
        kx = math.cos(lat0) if abs(lat0) < 1.5 else 1.0
        w0 = max((max(xs) - min(xs)) * kx, 1e-9)
        h0 = max(max(ys) - min(ys), 1e-9)
        scale = width / w0
        height = h0 * scale
        minx, maxy = min(xs), max(ys)

        def proj(pt: Sequence[float]) -> tuple[float, float]:
            return ((pt[0] - minx) * kx * scale, (maxy - pt[1]) * scale)

        digits = 0 if len(feats) > 300 else 1  # a national map: whole units are plenty
        for code in codes:
            if code not in feats:
                continue
            parts = []
            sx = sy = n = 0.0
            for ring in feats[code]:
                pts = [proj(pt) for pt in ring]
                if len(pts) < 3:
                    continue
                parts.append("M" + "L".join(f"{x:.{digits}f},{y:.{digits}f}" for x, y in pts) + "Z")
                for x, y in pts:
                    sx, sy, n = sx + x, sy + y, n + 1
            if parts:
                shapes.append(
                    {
                        "code": code,
                        "name": names[code],
                        "d": "".join(parts),
                        "cx": round(sx / n, 1),
                        "cy": round(sy / n, 1),
                    }
                )
    placed = {s["code"] for s in shapes}
    rest = [c for c in codes if c not in placed]
    if rest:
        cols = max(1, math.ceil(math.sqrt(len(rest) * 1.6)))
        cell = width / cols
        top = (height + cell * 0.5) if shapes else 0.0
        for i, code in enumerate(rest):
            r, c = divmod(i, cols)
            x, y = c * cell, top + r * cell
            s = cell * 0.92
            shapes.append(
                {
                    "code": code,
                    "name": names[code],
                    "d": f"M{x:.1f},{y:.1f}h{s:.1f}v{s:.1f}h{-s:.1f}Z",
                    "cx": round(x + s / 2, 1),
                    "cy": round(y + s / 2, 1),
                }
            )
        height = top + math.ceil(len(rest) / cols) * cell
    if len(shapes) > 60:  # no labels drawn: keep only what the browser needs
        shapes = [{"code": s["code"], "d": s["d"]} for s in shapes]
    return {
        "viewbox": f"0 0 {width:.0f} {max(height, 1):.0f}",
        "shapes": shapes,
        "missing": len(rest),
        "source": source,
    }


def map_colours(data: DashboardData, view: View) -> tuple[dict, dict, str]:
    """Fill colour and tooltip per county, and the legend, for the focus of the view.

    The index is coloured by grade (as the ranking bars); an indicator with a target by its
    traffic light; one without a target by quintile, better values bluer."""
    focus = view.focus if view.focus == INDEX else (view.indicator_set, view.focus)
    hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
    return data.memo(("map", view.period, hier, focus), lambda: _map_colours(data, view), big=True)


def _map_colours(data: DashboardData, view: View) -> tuple[dict, dict, str]:
    fills: dict[str, str] = {}
    tips: dict[str, str] = {}
    legend: list[tuple[str, str]] = []
    if view.focus == INDEX:
        rows = ranking_rows(data, view)
        hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
        grades = data.grades(view.period, hier)
        for r in rows:
            code = r["county_code"]
            fills[code] = _grade_colour(r["grade"], grades)
            graded = not fmt.missing(r["grade"])  # a set without grade bands has none
            tips[code] = t(
                "dash.map.tip_index" if graded else "tables.map.tip_index",
                name=r["county_name"],
                score=fmt.score_text(r["score"]),
                grade=r["grade"],
                tie=prank.tie_word(r.get("tied")),
                rank=fmt.number(r["rank"]),
            )
        legend = [(_grade_colour(g, grades), g) for g in grades]
    elif view.focus in data.cube.indicators.get(view.indicator_set, {}):
        meta = focus_meta(data, view)
        unit = meta.get("unit")
        block = data.cube.across_counties(view.indicator_set, view.period, view.focus)
        value, target, met, base = (
            block[:, KPI_FIELDS.index(f)] for f in ("value", "target", "met", "baseline_size")
        )
        codes = list(data.cube.counties)[1:]
        has_target = bool(np.isfinite(target).any())
        d = display(meta)
        if has_target:
            n = len(value)
            status = pk.decide_status(
                value,
                target,
                met,
                np.full(n, bool(d.op)),
                np.full(n, d.relative),
                np.full(n, pk.deadline_ahead(d, view.period)),
                np.array([d.compares_with_baseline and d.thin(b) for b in base]),
            )
            colour = [STATUS_COLOURS[STATUS_LIGHTS[x]] for x in status]
        else:
            direction = _float(meta.get("direction")) or 1.0
            ranks = pd.Series(value * direction).rank(pct=True).to_numpy()
            colour = [
                SEQUENTIAL[min(4, int((q - 1e-9) * 5))]
                if np.isfinite(q)
                else STATUS_COLOURS["none"]
                for q in ranks
            ]
        name = meta.get("name")
        for code, c, v in zip(codes, colour, value.tolist()):
            fills[code] = c
            tips[code] = t(
                "dash.map.tip_kpi",
                name=data.county_name(code),
                indicator=name,
                value=format_value(v, unit, decimals=d.decimals),
            )
        if has_target:
            legend = [
                (
                    STATUS_COLOURS[STATUS_LIGHTS[s]],
                    f"{STATUS_ICONS[STATUS_LIGHTS[s]]} {pk.status_label(s)}",
                )
                for s in (pk.MET, pk.AT_RISK, pk.NOT_MET, pk.NO_DATA)
            ]
        else:
            legend = [(SEQUENTIAL[0], t("dash.map.worse")), (SEQUENTIAL[4], t("dash.map.better"))]
    legend_html = "".join(
        f'<span><i style="background:{c}"></i>{_esc(label)}</span>' for c, label in legend
    )
    return fills, tips, legend_html
