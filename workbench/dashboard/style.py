"""The dashboard's look: colours (Okabe–Ito), fonts, the theme's files and the figures' layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.dashboard.data import _missing


ASSETS = Path(__file__).resolve().parent.parent / "assets"
THEME_CSS = ASSETS / "theme.css"

# Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
STATUS_COLOURS = {"met": "#0072B2", "risk": "#E69F00", "miss": "#D55E00", "none": "#8C8C8C"}
STATUS_ICONS = {"met": "✓", "risk": "!", "miss": "✗", "none": "—"}
# The engine's milestone statuses (workbench.indicators) → traffic light.
MILESTONE_LIGHTS = {
    "met": "met",
    "on_track": "met",
    "lagging": "risk",
    "missed": "miss",
    "no_data": "none",
}
GRADE_COLOURS = {
    "优秀": "#0072B2",
    "良好": "#56B4E9",
    "合格": "#E69F00",
    "不合格": "#D55E00",
    "较差": "#D55E00",
    "差": "#D55E00",
}
OTHER_GRADE_COLOURS = ("#009E73", "#CC79A7", "#F0E442", "#999999")
# The funnel's declared stages, top to bottom (darker first), and its 追回 bar.
FUNNEL_COLOURS = ("#0b3a66", "#0072B2", "#56B4E9", "#8FBFE0", "#B9D7EC")
RECOVERED_COLOUR = "#009E73"
SEQUENTIAL = ("#D55E00", "#F0B37E", "#EEEEEE", "#8FBFE0", "#0072B2")  # worse → better
FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)


def _grade_colour(grade: object, known: Sequence[str] = ()) -> str:
    g = "" if _missing(grade) else str(grade)
    if g in GRADE_COLOURS:
        return GRADE_COLOURS[g]
    if not g:
        return STATUS_COLOURS["none"]
    pos = list(known).index(g) if g in known else sum(map(ord, g))
    return OTHER_GRADE_COLOURS[pos % len(OTHER_GRADE_COLOURS)]


def _label_width(labels: Sequence[str], size: int) -> int:
    """Left margin for axis labels: CJK characters are about `size` px wide, others half."""
    widest = max(
        (sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in str(x)) for x in labels), default=2
    )
    return int(widest * size + 16)


def _ink(colour: str) -> str:
    """Black or white text, whichever reads better on `colour` (WCAG relative luminance)."""
    c = colour.lstrip("#")
    if len(c) != 6:
        return "#111111"
    rgb = [int(c[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lum = sum(
        w * (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
        for w, v in zip((0.2126, 0.7152, 0.0722), rgb)
    )
    return "#111111" if lum > 0.25 else "#ffffff"


def base_layout(height: int = 320, **extra: Any) -> dict:
    """Shared layout: Chinese font, white background, compact margins, no mode bar clutter."""
    layout = {
        "height": height,
        "autosize": True,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10, "pad": 2},
        "font": {"family": FONT, "size": 13, "color": "#1f2933"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "showlegend": False,
        "hoverlabel": {"font": {"family": FONT}},
        "separators": ".,",
    }
    layout.update(extra)
    return layout


def empty_figure(message: str) -> dict:
    layout = base_layout(
        180,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "font": {"size": 14, "color": "#5f6b7a"},
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    return {"data": [], "layout": layout}
