"""The `method:` block of a hierarchy: one table of keys, one function that checks and builds.

Every key a hierarchy's `method:` may carry is one row of `METHOD_KEYS`: the reader that checks
its value (file and line on failure) and turns it into the `Method` field of the same name. A
new composite option is one row here plus one field on `model.Method`; `check_method` is the
single rule that validates the block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

from workbench.composite import AGGREGATORS, IMPUTERS, NORMALISERS
from workbench.declarations.issues import Issues
from workbench.declarations.loader import LList, LMap, percent_text
from workbench.declarations.model import Method
from workbench.declarations.vocabulary import KNOWN_KEYS
from workbench.messages import t

_MISSING = object()
# A reader gets (block, key, path, issues) and returns the field's value or _MISSING (reported).
Reader = Callable[[LMap, str, str, Issues], Any]


def _choice(allowed: Sequence[str]) -> Reader:
    def read(m: LMap, key: str, path: str, issues: Issues) -> Any:
        val = str(m[key])
        if val not in allowed:
            issues.error(
                "E_BAD_METHOD", m.at(key), path, key=key, value=val, allowed="、".join(allowed)
            )
            return _MISSING
        return val

    return read


def _aggregate(m: LMap, key: str, path: str, issues: Issues) -> Any:
    """One aggregator for every level, or {level: aggregator}."""
    agg = m[key]
    vals = agg.values() if isinstance(agg, LMap) else [agg]
    bad = [a for a in vals if a not in AGGREGATORS]
    if bad:
        issues.error(
            "E_BAD_METHOD",
            m.at(key),
            path,
            key=key,
            value=bad[0],
            allowed="、".join(AGGREGATORS),
        )
        return _MISSING
    if isinstance(agg, LMap):
        return MappingProxyType({int(k): str(x) for k, x in agg.items()})
    return str(agg)


def _number(m: LMap, key: str, path: str, issues: Issues) -> Any:
    v = m[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        pct = percent_text(v)
        if pct is None:
            issues.error("E_TYPE", m.at(key), path, key=key, expected=t("ind.type.number"))
            return _MISSING
        return pct
    return float(v)


def _flag(m: LMap, key: str, path: str, issues: Issues) -> Any:
    return bool(m[key])


def _count(m: LMap, key: str, path: str, issues: Issues) -> Any:
    v = m[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        issues.error("E_TYPE", m.at(key), path, key=key, expected=t("ind.type.integer"))
        return _MISSING
    return v


METHOD_KEYS: dict[str, Reader] = {
    "impute": _choice(IMPUTERS),
    "normalise": _choice(NORMALISERS),
    "aggregate": _aggregate,
    "norm_low": _number,
    "norm_high": _number,
    "screen_min_coverage": _number,
    "treat": _flag,
    "uncertainty_samples": _count,
}
assert set(METHOD_KEYS) == KNOWN_KEYS["method"], "METHOD_KEYS and KNOWN_KEYS['method'] differ"


def check_method(v: Any, at: tuple[str, int | None], path: str, issues: Issues) -> Method | None:
    """The rule for a hierarchy's `method:` block: every key known and valid, else None with
    every problem reported at its line (not only the first). An unknown key is a warning for
    now; issue 16 asks for it to be refused once every composite option is a row here."""
    if not isinstance(v, LMap):
        issues.error("E_NOT_MAPPING", at, path, what=path)
        return None
    for key in v:
        if key not in METHOD_KEYS:
            issues.warning(
                "W_UNKNOWN_KEY", v.at(key), path, key=key, allowed="、".join(sorted(METHOD_KEYS))
            )
    kw: dict[str, Any] = {}
    ok = True
    for key, read in METHOD_KEYS.items():
        if key not in v:
            continue
        if isinstance(v[key], LList):
            issues.error("E_TYPE", v.at(key), path, key=key, expected=t("ind.type.scalar"))
            ok = False
            continue
        got = read(v, key, path, issues)
        if got is _MISSING:
            ok = False
        else:
            kw[key] = got
    return Method(**kw) if ok else None
