"""The `method:` block of a hierarchy: checked against the composite catalogue in one rule.

Which keys a `method:` may carry, their values and which method reads which option are the
composite catalogue's (`workbench.composite_methods`: one entry per normaliser, aggregator and
imputer, one `Option` per setting). `check_method` is the single rule that validates the block
against it — an unknown key, a bad method name or value, an option no chosen method reads, a
group imputation without its grouping — each at its line, every problem in one pass; a new
composite option is a catalogue entry, not a change here. The references a block makes to other
declarations (`denominate`, `impute_group`) are checked with the set (`rules`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from workbench.composite_methods import IMPUTERS, OPTIONS
from workbench.composite_methods import check_method as catalogue_problems
from workbench.declarations.issues import Issues
from workbench.declarations.loader import LMap, plain
from workbench.declarations.model import Denominator, Method
from workbench.declarations.vocabulary import KNOWN_KEYS
from workbench.messages import t

# keys of `method:` the declarations read themselves (not composite options)
OWN_KEYS = ("uncertainty_samples", "denominate")
# catalogue problem code → the declaration issue code it is reported under
_CODES = {
    "E_UNKNOWN_METHOD_KEY": "E_UNKNOWN_METHOD_KEY",
    "E_OPTION_NOT_USED": "E_METHOD_OPTION_NOT_USED",
}


def check_method(v: Any, at: tuple[str, int | None], path: str, issues: Issues) -> Method | None:
    """The rule for a hierarchy's `method:` block; the `Method`, or None with every problem
    reported at its line."""
    if not isinstance(v, LMap):
        issues.error("E_NOT_MAPPING", at, path, what=path)
        return None
    spec = {k: plain(x) for k, x in v.items() if k != "denominate"}
    problems = catalogue_problems(spec, extra_keys=OWN_KEYS)
    for problem in problems:
        issues.error(
            _CODES.get(problem.code, "E_BAD_METHOD_VALUE"),
            v.at(problem.key),
            path,
            message=t(f"composite.{problem.code}", **problem.values),
        )
    ok = not problems
    samples = v.get("uncertainty_samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)):
        issues.error(
            "E_TYPE",
            v.at("uncertainty_samples"),
            path,
            key="uncertainty_samples",
            expected=t("ind.type.integer"),
        )
        ok = False
    impute = str(v.get("impute", "none"))
    if impute in IMPUTERS and "groups" in IMPUTERS[impute].needs and "impute_group" not in v:
        issues.error(
            "E_BAD_METHOD_VALUE",
            v.at("impute"),
            path,
            message=t("composite.E_NO_IMPUTE_GROUP", method=impute),
        )
        ok = False
    denominate: dict[str, Denominator] | None = {}
    if v.get("denominate"):
        denominate = _denominate(v["denominate"], v.at("denominate"), path, issues)
    if not ok or denominate is None:
        return None
    agg = v.get("aggregate", "arithmetic")
    return Method(
        impute=impute,
        treat=bool(v.get("treat", False)),
        normalise=str(v.get("normalise", "minmax")),
        aggregate=(
            MappingProxyType({int(k): str(x) for k, x in agg.items()})
            if isinstance(agg, LMap)
            else str(agg)
        ),
        uncertainty_samples=None if samples is None else int(samples),
        options=MappingProxyType({k: x for k, x in spec.items() if k in OPTIONS}),
        denominate=MappingProxyType(denominate),
        lines=MappingProxyType({str(k): v.at(k)[1] for k in v}),
    )


def _denominate(
    v: Any, at: tuple[str, int | None], path: str, issues: Issues
) -> dict[str, Denominator] | None:
    """`denominate: {leaf: indicator}` or `{leaf: {indicator: code, scale: 10000}}`."""
    p = f"{path}.denominate"
    if not isinstance(v, LMap):
        issues.error("E_NOT_MAPPING", at, p, what=p)
        return None
    out: dict[str, Denominator] = {}
    ok = True
    for leaf, spec in v.items():
        line = v.at(leaf)[1]
        if isinstance(spec, str):
            out[str(leaf)] = Denominator(spec, 1.0, line)
            continue
        where = f"{p}.{leaf}"
        if not isinstance(spec, LMap):
            issues.error("E_NOT_MAPPING", v.at(leaf), where, what=where)
            ok = False
            continue
        for key in spec:
            if key not in KNOWN_KEYS["denominator"]:
                issues.warning(
                    "W_UNKNOWN_KEY",
                    spec.at(key),
                    where,
                    key=key,
                    allowed="、".join(sorted(KNOWN_KEYS["denominator"])),
                )
        indicator = spec.get("indicator")
        if not isinstance(indicator, str) or not indicator:
            issues.error("E_MISSING_KEY", spec.at(), where, key="indicator", what=where)
            ok = False
            continue
        scale = spec.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            issues.error(
                "E_BAD_METHOD_VALUE",
                spec.at("scale"),
                path,
                message=t("composite.E_BAD_RANGE", field="scale", value=scale, rule="> 0"),
            )
            ok = False
            continue
        out[str(leaf)] = Denominator(indicator, float(scale), line)
    return out if ok else None
