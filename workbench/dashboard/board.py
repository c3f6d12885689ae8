"""The page widget (`Board`, an anywidget) and what a page loads once: the theme and plotly.js.

The browser half is `workbench/assets/board.js`, the look `workbench/assets/theme.css`; both
are plain files, read here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from workbench.config import ENV_STATIC_PLOTLY  # set by `workbench serve`: the page has plotly.js
from workbench.dashboard.style import ASSETS, THEME_CSS

_BOARD_ESM = (ASSETS / "board.js").read_text(encoding="utf-8")


@functools.cache
def _board_class() -> type:
    """The page widget, built on first use so that importing this module stays cheap."""
    import anywidget
    import traitlets

    class Board(anywidget.AnyWidget):
        """A whole dashboard page as one widget: a static skeleton (panels, titles, selects),
        then per view a dict of parts — HTML, plotly JSON, or map colours — drawn in place.

        One model and one message per click: the browser redraws only parts whose revision
        changed, plotly.js is loaded once by the page (`page_head`) rather than shipped with
        every figure as `go.FigureWidget` does (≈ 5 MB each)."""

        _esm = _BOARD_ESM
        skeleton = traitlets.Unicode("").tag(sync=True)
        options = traitlets.Dict().tag(sync=True)
        values = traitlets.Dict().tag(sync=True)
        parts = traitlets.Dict().tag(sync=True)
        big_parts = traitlets.Dict().tag(sync=True)  # sent only when they change (the map)
        shapes = traitlets.List().tag(sync=True)
        viewbox = traitlets.Unicode("0 0 1000 750").tag(sync=True)
        key = traitlets.Unicode("").tag(sync=True)
        tick = traitlets.Int(0).tag(sync=True)
        live = traitlets.Bool(False).tag(sync=True)
        # the view as URL parameters; once the page's own URL was read (`follow_url`), the
        # address bar follows every change of view, so a copied link reopens the same view
        query = traitlets.Unicode("").tag(sync=True)
        follow_url = traitlets.Bool(False).tag(sync=True)
        page = traitlets.Unicode("").tag(sync=True)  # the notebook's file name in Voilà's URL
        names = traitlets.Dict().tag(sync=True)  # part → download file name (pictures)

        def __init__(
            self,
            on_select: Callable[[str, str], None],
            on_click: Callable[[str], None],
            on_export: Callable[[str, str], None] | None = None,
            **kw: Any,
        ) -> None:
            super().__init__(**kw)
            self._on_select = on_select
            self._on_click = on_click
            self._on_export = on_export
            self.on_msg(self._handle)

        def _handle(self, _w: Any, content: Mapping[str, Any], _b: Any) -> None:
            event = content.get("event")
            if event == "ready":
                self.live = True
            elif event == "select":
                self._on_select(str(content.get("name")), str(content.get("value") or ""))
            elif event == "click":
                self._on_click(str(content.get("value") or ""))
            elif event == "export" and self._on_export is not None:
                self._on_export(str(content.get("part") or ""), str(content.get("format") or ""))

    return Board


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def page_head() -> Any:
    """The theme CSS and plotly.js, once per page, as one HTML output.

    plotly.js is inlined (no CDN: bureau intranets have no internet) and loaded only if the page
    does not have it yet; `window.PlotlyConfig` keeps MathJax out of it."""
    from IPython.display import HTML

    css = THEME_CSS.read_text(encoding="utf-8")
    if os.environ.get(ENV_STATIC_PLOTLY) == "1":  # `workbench serve`: the template loads it
        return HTML(f"<style>{css}</style>")
    script = (
        "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};"
        "if (!window.Plotly) {" + _plotly_js() + "}</script>"
    )
    return HTML(f"<style>{css}</style>{script}")
