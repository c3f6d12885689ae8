"""Scoring: indicator values → the composite engine, with everything taken from YAML.

A hierarchy declared in `indicators/*.yaml` becomes a `composite.Hierarchy` (directions and
absolute targets from the indicator definitions, overridable per node), its `method:` block a
`CompositeConfig` (every key is a catalogue option, see composite_methods), and its grade bands
the config's bands. The data matrix is one row per county, one column per leaf, taken from the
long KPI table at the hierarchy's span; `method: denominate:` divides leaves by other declared
indicators at the same span; `weights: pca` weighs each node's children by a PCA of them.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.composite import (
    CompositeConfig,
    CompositeResult,
    Hierarchy,
    Node,
    build_composite,
)
from workbench.analysis import pca_weights
from workbench.composite_methods import NORMALISERS, config_kwargs
from workbench.declarations import DeclarationError, HierarchyDecl, IndicatorSet, Issue
from workbench.messages import t

log = logging.getLogger(__name__)


def _decl(iset: IndicatorSet, code: str) -> HierarchyDecl:
    if code not in iset.hierarchies:
        raise KeyError(t("ind.unknown_hierarchy", name=code))
    return iset.hierarchies[code]


def _goalposts(
    decl: HierarchyDecl, node_code: str, direction: int, target: float | None
) -> tuple[float, float]:
    """Default goalposts [0, target] (or [target, 0] for a negative target on a lower-is-better
    indicator): reaching the target scores full marks, nothing scores zero."""
    if target is not None and target > 0 and direction == 1:
        return (0.0, float(target))
    if target is not None and target < 0 and direction == -1:
        return (float(target), 0.0)
    node = next(n for n in decl.nodes if n.code == node_code)
    raise DeclarationError(
        [
            Issue(
                "error",
                "E_HIERARCHY_NO_TARGET",
                t("ind.E_HIERARCHY_NO_TARGET", code=node_code, method=decl.method.normalise),
                decl.file,
                node.line,
                t("ind.fix.E_HIERARCHY_NO_TARGET"),
                f"hierarchies.{decl.code}",
            )
        ]
    )


def hierarchy(iset: IndicatorSet, code: str) -> Hierarchy:
    """The composite tree for a declared hierarchy."""
    decl = _decl(iset, code)
    nodes = []
    for n in decl.nodes:
        if n.indicator is None:
            nodes.append(
                Node(
                    n.code,
                    n.parent,
                    n.level,
                    weight=1.0 if n.weight is None else n.weight,
                    name=n.name,
                )
            )
            continue
        ind = iset.indicators[n.indicator]
        direction = n.direction if n.direction is not None else ind.direction
        target = n.target
        if target is None and ind.target is not None and ind.target.value is not None:
            target = ind.target.value
        goal = n.goalposts
        if goal is None and "goalposts" in NORMALISERS[decl.method.normalise].needs:
            goal = _goalposts(decl, n.code, direction, target)
        nodes.append(
            Node(
                n.code,
                n.parent,
                n.level,
                weight=1.0 if n.weight is None else n.weight,
                direction=direction,
                name=n.name or ind.name,
                target=target,
                goalposts=goal,
            )
        )
    return Hierarchy(tuple(nodes))


def config(iset: IndicatorSet, code: str, **overrides: Any) -> CompositeConfig:
    """The composite configuration declared for a hierarchy; keyword overrides win (for trying
    other methods in a notebook without editing YAML)."""
    decl = _decl(iset, code)
    m = decl.method
    # Grades only where declared (the hierarchy's bands, else its set's, resolved when the set
    # was built): no built-in 优秀/良好/合格/不合格 is applied to a set that declares none.
    bands = decl.grade_bands
    kw: dict[str, Any] = dict(
        impute=m.impute,
        treat=m.treat,
        normalise=m.normalise,
        aggregate=dict(m.aggregate) if isinstance(m.aggregate, Mapping) else m.aggregate,
        **config_kwargs(getattr(m, "options", {})),
    )
    kw["denominate"] = bool(getattr(m, "denominate", None))
    kw["grade_bands"] = tuple((b.min, b.grade) for b in bands)
    kw.update(overrides)
    return CompositeConfig(**kw)


def denominators(iset: IndicatorSet, code: str) -> dict[str, tuple[str, str, float]]:
    """leaf node → (data column, denominator indicator, scale) from `method: denominate:`; the
    column holds the indicator's value divided by the scale (COINr's ScaleFactor)."""
    spec = getattr(_decl(iset, code).method, "denominate", None) or {}
    return {
        leaf: (f"{den.indicator}/{den.scale:g}", den.indicator, float(den.scale))
        for leaf, den in spec.items()
    }


def _split(
    data: pd.DataFrame, iset: IndicatorSet, code: str
) -> tuple[pd.DataFrame | None, dict[str, str] | None]:
    dens = denominators(iset, code)
    if not dens:
        return None, None
    cols = sorted({col for col, _, _ in dens.values()})
    return data[cols], {leaf: col for leaf, (col, _, _) in dens.items()}


def group_column(iset: IndicatorSet, code: str) -> tuple[str, str] | None:
    """(data column, indicator) of `method: impute_group:`: the indicator whose value is each
    unit's group for group_mean / group_median imputation."""
    group = getattr(_decl(iset, code).method, "options", {}).get("impute_group")
    return None if group is None else (f"group:{group}", group)


def _groups(data: pd.DataFrame, iset: IndicatorSet, code: str) -> pd.Series | None:
    col = group_column(iset, code)
    return None if col is None or col[0] not in data.columns else data[col[0]]


def _extra_columns(iset: IndicatorSet, code: str) -> dict[str, tuple[str, float]]:
    """Data columns beyond the leaves: denominators (scaled) and the grouping indicator."""
    out = {col: (ind, scale) for col, ind, scale in denominators(iset, code).values()}
    group = group_column(iset, code)
    if group is not None:
        out[group[0]] = (group[1], 1.0)
    return out


def data_matrix(
    kpis: pd.DataFrame, iset: IndicatorSet, code: str, span: str | None = None
) -> pd.DataFrame:
    """County × leaf matrix of indicator values at the hierarchy's span (or `span`)."""
    decl = _decl(iset, code)
    span = span or decl.span
    rows = kpis[(kpis["span"] == span) & (kpis["county_code"] != "city")]
    leaves = [n for n in decl.nodes if n.indicator is not None]
    wide = rows.pivot(index="county_code", columns="indicator", values="value")
    extra = _extra_columns(iset, code)
    columns = {n.code: n.indicator for n in leaves}
    columns.update({col: ind for col, (ind, _) in extra.items()})
    scale = {col: sc for col, (_, sc) in extra.items()}
    out = pd.DataFrame(
        {
            col: (
                wide[ind] / scale.get(col, 1.0)
                if ind in wide.columns
                else pd.Series(np.nan, index=wide.index)
            )
            for col, ind in columns.items()
        },
        index=wide.index,
    ).astype(float)
    out.index.name = "county_code"
    return out.sort_index()


def values_matrix(values: Any, iset: IndicatorSet, code: str, end: int) -> pd.DataFrame:
    """`data_matrix` straight from computed indicator arrays (`indicators.Values`) at the
    hierarchy's span ending at month index `end`: the same matrix without a long table to
    filter and pivot."""
    decl = _decl(iset, code)
    point = values.points.index((decl.span, end))
    columns = {n.code: (n.indicator, 1.0) for n in decl.nodes if n.indicator is not None}
    columns.update(_extra_columns(iset, code))
    out = pd.DataFrame(
        {
            col: (values.get(ind)[2][:, point] / scale if ind in values.arrays else np.nan)
            for col, (ind, scale) in columns.items()
        },
        index=pd.Index(values.counties, name="county_code"),
    ).astype(float)
    return out.sort_index()


@dataclass(frozen=True, eq=False)
class IndexResult:
    """One hierarchy's composite result with county names, in the workbench's vocabulary."""

    code: str
    name: str
    span: str
    result: CompositeResult
    names: pd.Series
    node_names: Mapping[str, str]

    @property
    def scores(self) -> pd.DataFrame:
        return self.result.scores

    @property
    def ranks(self) -> pd.DataFrame:
        return self.result.ranks

    @property
    def grades(self) -> pd.Series:
        return self.result.grades

    @property
    def effective_weights(self) -> pd.Series:
        return self.result.effective_weights

    def table(self) -> pd.DataFrame:
        """Long table: hierarchy, county_code, county_name, node, node_name, level, score,
        rank, grade (indicators' normalised scores and every aggregate)."""
        tab = self.result.table().rename(columns={"unit": "county_code"})
        tab.insert(0, "hierarchy", self.code)
        tab.insert(2, "county_name", tab["county_code"].map(self.names).fillna(tab["county_code"]))
        tab.insert(4, "node_name", tab["node"].map(self.node_names).fillna(tab["node"]))
        tab["rank"] = tab["rank"].astype("Int64")
        tab["level"] = tab["level"].astype("Int64")
        return tab

    def summary(self) -> pd.DataFrame:
        """Top index and its dimensions, one row per county, best first."""
        top = self.result.index_code
        dims = list(self.result.hierarchy.children(top)) if self.result.hierarchy else []
        out = pd.DataFrame(
            {
                "county_code": self.scores.index,
                "county_name": self.scores.index.map(lambda c: self.names.get(c, c)),
                "score": self.scores[top].to_numpy(),
                "rank": self.result.published_ranks[top].astype("Int64").to_numpy(),
                "grade": self.grades.reindex(self.scores.index).to_numpy(),
            }
        )
        for d in dims:
            out[d] = self.scores[d].to_numpy()
        return out.sort_values(["rank", "county_code"], na_position="last", ignore_index=True)

    def figure(self) -> Any:
        """Horizontal bars of the index score, coloured by grade."""
        import plotly.express as px

        s = self.summary()
        fig = px.bar(
            s,
            x="score",
            y="county_name",
            color="grade",
            orientation="h",
            labels={
                "score": t("ind.col.score"),
                "county_name": t("ind.col.county_name"),
                "grade": t("ind.col.grade"),
            },
            title=t("ind.plot.index_title", name=self.name),
        )
        fig.update_layout(yaxis={"autorange": "reversed"}, height=max(320, 18 * len(s) + 140))
        return fig

    def _repr_html_(self) -> str:
        s = self.summary()
        top = self.result.index_code
        s = s.rename(columns={c: self.node_names.get(c, c) for c in s.columns if c != top})
        s = s.rename(
            columns={
                k: t(f"ind.col.{k}")
                for k in ("county_code", "county_name", "score", "rank", "grade")
            }
        )
        return (
            f"<div><h4>{html.escape(self.name)}</h4>"
            f"{s.to_html(index=False, float_format=lambda v: f'{v:.1f}', na_rep='—')}</div>"
        )


def _with_pca_weights(
    cfg: CompositeConfig,
    decl: HierarchyDecl,
    tree: Hierarchy,
    data: pd.DataFrame,
    dens: pd.DataFrame | None,
    den_map: Mapping[str, str] | None,
    groups: pd.Series | None = None,
) -> CompositeConfig:
    """`weights: pca`: the indicators under each parent weighted by the squared first-component
    loadings of their normalised values (analysis.pca_weights); upper levels keep theirs."""
    if decl.weights != "pca" or cfg.weights:
        return cfg
    first = build_composite(data, tree, cfg, groups, denominators=dens, denominator_map=den_map)
    weights = pca_weights(first.stages["normalised"], tree, level=1)
    return dataclasses.replace(cfg, weights=weights)


def score(
    kpis: pd.DataFrame | None,
    iset: IndicatorSet,
    code: str,
    names: pd.Series | None = None,
    *,
    data: pd.DataFrame | None = None,
    **overrides: Any,
) -> IndexResult:
    """Build one declared hierarchy's index from the KPI table (or its `data_matrix`)."""
    decl = _decl(iset, code)
    tree = hierarchy(iset, code)
    data = data if data is not None else data_matrix(kpis, iset, code)
    dens, den_map = _split(data, iset, code)
    groups = _groups(data, iset, code)
    cfg = _with_pca_weights(
        config(iset, code, **overrides), decl, tree, data, dens, den_map, groups
    )
    result = build_composite(data, tree, cfg, groups, denominators=dens, denominator_map=den_map)
    node_names = {n.code: n.name for n in tree.nodes}
    node_names[tree.top] = decl.name
    return IndexResult(
        code,
        decl.name,
        decl.span,
        result,
        names if names is not None else pd.Series(dtype=object),
        node_names,
    )


def uncertainty(
    kpis: pd.DataFrame | None,
    iset: IndicatorSet,
    code: str,
    n_samples: int = 200,
    names: pd.Series | None = None,
    seed: int = 0,
    *,
    data: pd.DataFrame | None = None,
    **overrides: Any,
) -> Any:
    """Monte Carlo rank intervals for one hierarchy (see workbench.uncertainty)."""
    from workbench.uncertainty import rank_uncertainty

    data = data if data is not None else data_matrix(kpis, iset, code)
    tree = hierarchy(iset, code)
    dens, den_map = _split(data, iset, code)
    groups = _groups(data, iset, code)
    cfg = _with_pca_weights(
        config(iset, code, **overrides), _decl(iset, code), tree, data, dens, den_map, groups
    )
    res = rank_uncertainty(
        data,
        tree,
        cfg,
        n_samples=n_samples,
        seed=seed,
        groups=groups,
        denominators=dens,
        denominator_map=den_map,
    )
    if names is not None:
        summary = res.summary.copy()
        summary.insert(1, "county_name", summary["unit"].map(names).fillna(summary["unit"]))
        res = dataclasses.replace(res, summary=summary)
    return res
