"""Leader cockpit (领导驾驶舱) and county drill-down for Voilà: data, builders and the page widget.

The flow: the engine (`workbench.results`) runs once for every month × indicator set →
`DashboardData` (plain frames plus a KPI array, cached on disk so every kernel in Voilà's pool
loads instead of recomputing) → pure builders (data + `View` → HTML text or plotly JSON) → one
anywidget per page (`Board`) that redraws in place only the parts whose content changed. A
click costs array look-ups in the kernel and one message, never an engine call.

Every part of a page carries `data-part="<name>"` and, once drawn, `data-key="<view key>"`: the
state it shows. Browser tests and the benchmark wait for every part to show the new key, which is
exactly "all charts updated". KPI cards carry `data-indicator` and `data-value` for the same reason.

One module per part, in the order data flows:

- `view` (the `View` a page shows), `data` (`DashboardData`, `KpiCube`), `loading` (engine →
  data, the memory and disk caches);
- `markup` (texts and HTML glue over `workbench.fmt` and `workbench.presentation`), `style`
  (colours, fonts, figure layout, the theme's files);
- the parts: `cards`, `ranking`, `map`, `trend`, `calendar`, `lagging`, `funnel`, `drill`;
- `board` (the anywidget; its JavaScript is `workbench/assets/board.js`), `page` (the cockpit
  and the county page, and the notebooks' entry points), `probes` (browser-side test probes).

Everything callers use is re-exported here: `from workbench import dashboard; dashboard.cockpit()`.
"""

from __future__ import annotations

from workbench import fmt
from workbench.dashboard.board import _board_class, page_head
from workbench.dashboard.calendar import calendar_html, current_phase
from workbench.dashboard.cards import card_order, kpi_cards_html
from workbench.dashboard.data import (
    KPI_FIELDS,
    NO_PRESENTATION,
    DashboardData,
    KpiCube,
    _float,
    _missing,
)
from workbench.dashboard.drill import (
    MAX_DRILL_ROWS,
    DrillView,
    LedgerSource,
    drill_html,
    overdue_html,
    overdue_items,
    run_drill,
    table_html,
)
from workbench.dashboard.funnel import (
    funnel_caption,
    funnel_figure,
    funnel_stages,
    funnel_title_html,
    rectification_figure,
)
from workbench.dashboard.lagging import MAX_LAGGING_ROWS, lagging_html
from workbench.dashboard.loading import (
    _MEMORY,
    ENV_CACHE_DIR,
    FRAMES,
    FUNNEL_COLUMNS,
    INDEX_COLUMNS,
    INDICATOR_COLUMNS,
    KPI_COLUMNS,
    LAGGING_COLUMNS,
    MILESTONE_COLUMNS,
    UNCERTAINTY_COLUMNS,
    _capped,
    _own_indicators,
    _read_cache,
    _write_cache,
    cache_dir,
    cache_key,
    from_engine,
    indicator_set_codes,
    load,
    declared_presentation,
    read_ledgers,
    report_periods,
)
from workbench.dashboard.map import (
    DEMO_GEOJSON,
    ENV_GEOJSON,
    geojson_path,
    load_shapes,
    map_colours,
)
from workbench.dashboard.markup import (
    STATUS_LIGHTS,
    _esc,
    cockpit_href,
    county_href,
    county_link,
    display,
    focus_meta,
    format_target,
    format_value,
    panel_title,
    value_kind,
)
from workbench.dashboard.page import (
    Cockpit,
    CountyPage,
    cockpit,
    county_from_query,
    query_string,
    county_page,
    header_html,
    select_html,
)
from workbench.dashboard.probes import INTERACTION_PROBE_JS, READY_PROBE_JS
from workbench.dashboard.ranking import (
    MAX_BARS,
    MAX_TABLE_ROWS,
    rank_summary_html,
    ranking_bars_html,
    ranking_rows,
    ranking_table_html,
)
from workbench.dashboard.style import (
    ASSETS,
    FONT,
    FUNNEL_COLOURS,
    GRADE_COLOURS,
    MILESTONE_LIGHTS,
    OTHER_GRADE_COLOURS,
    RECOVERED_COLOUR,
    SEQUENTIAL,
    STATUS_COLOURS,
    STATUS_ICONS,
    THEME_CSS,
    base_layout,
    empty_figure,
)
from workbench.dashboard.trend import history_figure, months_upto, trend_figure
from workbench.dashboard.view import CITY, INDEX, QUERY_PARAMS, View, parse_query

__all__ = [
    "ASSETS",
    "CITY",
    "DEMO_GEOJSON",
    "ENV_CACHE_DIR",
    "ENV_GEOJSON",
    "FONT",
    "FRAMES",
    "FUNNEL_COLUMNS",
    "FUNNEL_COLOURS",
    "GRADE_COLOURS",
    "INDEX",
    "INDEX_COLUMNS",
    "INDICATOR_COLUMNS",
    "INTERACTION_PROBE_JS",
    "KPI_COLUMNS",
    "KPI_FIELDS",
    "LAGGING_COLUMNS",
    "MAX_BARS",
    "MAX_DRILL_ROWS",
    "MAX_LAGGING_ROWS",
    "MAX_TABLE_ROWS",
    "MILESTONE_COLUMNS",
    "MILESTONE_LIGHTS",
    "OTHER_GRADE_COLOURS",
    "READY_PROBE_JS",
    "NO_PRESENTATION",
    "QUERY_PARAMS",
    "RECOVERED_COLOUR",
    "SEQUENTIAL",
    "STATUS_COLOURS",
    "STATUS_ICONS",
    "STATUS_LIGHTS",
    "THEME_CSS",
    "UNCERTAINTY_COLUMNS",
    "_MEMORY",
    "Cockpit",
    "CountyPage",
    "DashboardData",
    "DrillView",
    "KpiCube",
    "LedgerSource",
    "View",
    "_board_class",
    "_capped",
    "_esc",
    "_float",
    "_missing",
    "_own_indicators",
    "_read_cache",
    "_write_cache",
    "base_layout",
    "cache_dir",
    "cache_key",
    "calendar_html",
    "card_order",
    "cockpit",
    "cockpit_href",
    "county_from_query",
    "county_href",
    "county_link",
    "county_page",
    "current_phase",
    "display",
    "drill_html",
    "empty_figure",
    "fmt",
    "focus_meta",
    "format_target",
    "format_value",
    "from_engine",
    "funnel_caption",
    "funnel_figure",
    "funnel_stages",
    "funnel_title_html",
    "geojson_path",
    "header_html",
    "history_figure",
    "indicator_set_codes",
    "kpi_cards_html",
    "lagging_html",
    "load",
    "load_shapes",
    "map_colours",
    "months_upto",
    "overdue_html",
    "overdue_items",
    "page_head",
    "parse_query",
    "query_string",
    "panel_title",
    "declared_presentation",
    "rank_summary_html",
    "ranking_bars_html",
    "ranking_rows",
    "ranking_table_html",
    "read_ledgers",
    "rectification_figure",
    "report_periods",
    "run_drill",
    "select_html",
    "table_html",
    "trend_figure",
    "value_kind",
]
