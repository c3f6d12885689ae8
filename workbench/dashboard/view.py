"""What a page shows: the indicator set, the month, the county and the focus.

A `View` is the whole state of a page; its `key` is stamped on every drawn part, which is how
browser tests and the benchmark know that all charts show the new view. Its `query` is the same
state as URL parameters: every link between the cockpit and a county page carries it, and the
address bar shows it, so a copied link reopens the same view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

CITY = ""  # the county code that stands for the whole city
INDEX = "__index__"  # the focus value that stands for the composite index

# View field → URL parameter (`cockpit.ipynb?set=…&period=2025-09&index=…&indicator=…`)
QUERY_PARAMS = {
    "indicator_set": "set",
    "period": "period",
    "county": "county",
    "hierarchy": "index",
    "focus": "indicator",
}


@dataclass(frozen=True)
class View:
    """What a page shows: the set, the month, the county ("" = whole city) and the focus."""

    indicator_set: str
    period: str
    county: str = CITY
    focus: str = INDEX
    hierarchy: str | None = None

    @property
    def key(self) -> str:
        return "|".join(
            (
                self.indicator_set,
                self.period,
                self.county or "city",
                self.focus,
                self.hierarchy or "",
            )
        )

    def query(self, **override: str | None) -> str:
        """The view as URL parameters (`set=…&period=…&county=…&index=…&indicator=…`); blank
        values (the whole city, the index as focus) are left out. `override` replaces fields,
        e.g. `county=` for the link that opens another county."""
        values = {f: getattr(self, f) for f in QUERY_PARAMS}
        values.update(override)
        if values.get("focus") == INDEX:
            values["focus"] = None
        return urlencode([(QUERY_PARAMS[f], v) for f, v in values.items() if v])


def parse_query(query: str | Mapping[str, str] | None) -> dict[str, str]:
    """URL parameters → View fields (`{"period": "2025-09", …}`), unknown parameters dropped.
    Whether a value exists in the data is for the page to judge."""
    if query is None:
        return {}
    if isinstance(query, str):
        pairs = {k: v[0] for k, v in parse_qs(query.lstrip("?")).items() if v}
    else:
        pairs = dict(query)
    fields = {p: f for f, p in QUERY_PARAMS.items()}
    return {fields[k]: str(v).strip() for k, v in pairs.items() if k in fields and str(v).strip()}
