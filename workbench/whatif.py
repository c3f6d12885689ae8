"""What if: the declared index rebuilt with other weights, targets or normalisation.

Analysts ask "what if 基金追回率 weighed double?" or "what if the target were 80%?". The answer
is the same engine run (composite.build_composite, uncertainty.rank_uncertainty) on the same
county × indicator matrix with a changed tree: `rerank` takes the matrix, the declared tree and
config and a `Scenario`, and returns one row per county with the declared and the new rank (both
published: on the printed score, ties 并列 — `CompositeResult.published_ranks`), the rank change
and the new rank interval. Pure: tables in, tables out.

`Panel` (for notebooks/what_if.ipynb) puts ipywidgets on top: a slider per node weight, a box
per indicator target, a normalisation picker; every change re-ranks. The module is a face,
beside `report` (whose table style it uses).

A target moves the goalposts it defined: goalposts [0, target] (as `scoring` derives them) follow
a new target; explicit goalposts not ending at the old target stay, and the target then only
matters to the dist_target normalisers.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import fmt, scoring
from workbench.composite import (
    NORMALISERS,
    CompositeConfig,
    CompositeError,
    Hierarchy,
    Node,
    build_composite,
)
from workbench.messages import t
from workbench.presentation import ranks as prank
from workbench.report import CARD_CSS
from workbench.report import table_html as styled_table
from workbench.uncertainty import rank_uncertainty

logger = logging.getLogger(__name__)

# Offered in the picker, in this order, when the engine knows them.
NORMALISATIONS = (
    "goalposts",
    "dist_target_capped",
    "dist_target",
    "minmax",
    "zscore",
    "percentile_rank",
    "rank",
)
COLUMNS = (
    "county_code",
    "county_name",
    "score",
    "rank",
    "base_score",
    "base_rank",
    "rank_change",
    "q05",
    "median_rank",
    "q95",
)


@dataclass(frozen=True)
class Scenario:
    """What the analyst changed: node weights, indicator targets, the normalisation."""

    weights: Mapping[str, float] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    normalise: str | None = None


def default_goalposts(direction: int, target: float | None) -> tuple[float, float] | None:
    """[0, target] for higher-is-better with a positive target, [target, 0] for lower-is-better
    with a negative one (reaching the target scores full marks); otherwise none."""
    if target is None or not np.isfinite(target):
        return None
    if target > 0 and direction == 1:
        return (0.0, float(target))
    if target < 0 and direction == -1:
        return (float(target), 0.0)
    return None


def _moved_goalposts(node: Node, target: float, normalise: str) -> tuple[float, float] | None:
    goal = node.goalposts
    if goal is not None and node.target is not None:
        low, high = goal
        if high == node.target:
            return (low, float(target))
        if low == node.target:
            return (float(target), high)
        return goal
    if goal is None and normalise == "goalposts":
        return default_goalposts(node.direction, target)
    return goal


def apply(
    tree: Hierarchy, config: CompositeConfig, scenario: Scenario
) -> tuple[Hierarchy, CompositeConfig]:
    """The tree and config with the scenario's changes; unknown node codes are refused."""
    unknown = sorted((set(scenario.weights) | set(scenario.targets)) - set(tree.by_code))
    if unknown:
        raise KeyError(t("notebook.whatif.unknown_node", codes="、".join(unknown), index=tree.top))
    normalise = scenario.normalise or config.normalise
    weights = {**(config.weights or {}), **scenario.weights}
    nodes = []
    for node in tree.nodes:
        changes: dict[str, Any] = {}
        if node.code in weights:
            changes["weight"] = float(weights[node.code])
        if node.code in scenario.targets:
            target = float(scenario.targets[node.code])
            changes["goalposts"] = _moved_goalposts(node, target, normalise)
            changes["target"] = target
        elif normalise == "goalposts" and node.level == 1 and node.goalposts is None:
            changes["goalposts"] = default_goalposts(node.direction, node.target)
        nodes.append(dataclasses.replace(node, **changes) if changes else node)
    overrides: dict[str, Any] = {"weights": None, "normalise": normalise}
    aggregate = config.aggregate
    if isinstance(aggregate, str) and aggregate in ("geometric", "harmonic", "genmean"):
        overrides["nonpositive"] = "shift"  # other normalisers give zeros: shift, as the draws do
    return Hierarchy(tuple(nodes)), dataclasses.replace(config, **overrides)


def rerank(
    data: pd.DataFrame,
    tree: Hierarchy,
    config: CompositeConfig,
    scenario: Scenario | None = None,
    *,
    names: pd.Series | Mapping[str, str] | None = None,
    samples: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per county, best new rank first: new and declared score and rank, rank change
    (positive = moved up), and with `samples` > 0 the new rank's 5%/50%/95% Monte Carlo
    interval (uncertainty.rank_uncertainty's defaults)."""
    base = build_composite(data, tree, config)
    new_tree, new_config = apply(tree, config, scenario or Scenario())
    new = build_composite(data, new_tree, new_config)
    top = tree.top
    units = new.scores.index
    out = pd.DataFrame(
        {
            "county_code": units,
            "county_name": [
                (names.get(u, u) if names is not None else u) for u in units.astype(str)
            ],
            "score": new.scores[top].to_numpy(dtype=float),
            "rank": new.published_ranks[top].astype("Int64").to_numpy(),
            "base_score": base.scores[top].reindex(units).to_numpy(dtype=float),
            "base_rank": base.published_ranks[top].reindex(units).astype("Int64").to_numpy(),
        }
    )
    out["rank_change"] = out["base_rank"] - out["rank"]
    for col in ("q05", "median_rank", "q95"):
        out[col] = np.nan
    if samples > 0:
        res = rank_uncertainty(data, new_tree, new_config, n_samples=samples, seed=seed)
        summary = res.summary.set_index("unit")
        for col in ("q05", "median_rank", "q95"):
            out[col] = summary[col].reindex(units).to_numpy(dtype=float)
    out = out.sort_values(["rank", "county_code"], na_position="last", ignore_index=True)
    return out[list(COLUMNS)]


def changes(tree: Hierarchy, config: CompositeConfig, scenario: Scenario) -> list[str]:
    """What differs from the declaration, in words (for the panel's status line)."""
    out = []
    for code, weight in scenario.weights.items():
        node = tree.node(code)
        if float(weight) != node.weight:
            out.append(
                t(
                    "notebook.whatif.change_weight",
                    node=node.name or code,
                    old=fmt.number(node.weight, 1),
                    new=fmt.number(weight, 1),
                )
            )
    for code, target in scenario.targets.items():
        node = tree.node(code)
        if node.target is None or float(target) != node.target:
            out.append(
                t(
                    "notebook.whatif.change_target",
                    node=node.name or code,
                    old="—" if node.target is None else f"{node.target:g}",
                    new=f"{float(target):g}",
                )
            )
    if scenario.normalise and scenario.normalise != config.normalise:
        out.append(
            t(
                "notebook.whatif.change_normalise",
                old=_norm_label(config.normalise),
                new=_norm_label(scenario.normalise),
            )
        )
    return out


def _norm_label(code: str) -> str:
    key = f"notebook.whatif.norm.{code}"
    text = t(key)
    return code if text == key else text


def display_frame(table: pd.DataFrame) -> pd.DataFrame:
    """`rerank`'s table with Chinese headers and formatted values, for showing."""

    def change(v: object) -> str:
        return "—" if fmt.missing(v) else f"{int(v):+d}" if int(v) else "0"

    return pd.DataFrame(
        {
            t("notebook.whatif.col.county"): table["county_name"],
            t("notebook.whatif.col.rank"): table["rank"],
            t("notebook.whatif.col.base_rank"): table["base_rank"],
            t("notebook.whatif.col.change"): table["rank_change"].map(change),
            t("notebook.whatif.col.score"): table["score"].map(fmt.score_text),
            t("notebook.whatif.col.base_score"): table["base_score"].map(fmt.score_text),
            prank.interval_header(): [
                prank.interval_text(a, b) for a, b in zip(table["q05"], table["q95"])
            ],
        }
    )


def table_html(table: pd.DataFrame) -> Any:
    """`rerank`'s table as the reports show tables (no row numbers)."""
    return styled_table(display_frame(table), "—", max_rows=5000)


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True, eq=False)
class Inputs:
    """A declared index's matrix, tree and config, ready for what-if questions."""

    code: str
    name: str
    data: pd.DataFrame
    tree: Hierarchy
    config: CompositeConfig
    names: pd.Series

    def rerank(self, scenario: Scenario | None = None, samples: int = 0) -> pd.DataFrame:
        return rerank(
            self.data, self.tree, self.config, scenario, names=self.names, samples=samples
        )


def inputs(evaluation: Any, hierarchy: str | None = None) -> Inputs:
    """The inputs of one hierarchy of an evaluation (`results.evaluate` or
    `report.evaluation`); the first hierarchy of the set when none is named."""
    iset = evaluation.indicator_set
    code = hierarchy or next(iter(iset.hierarchies))
    return Inputs(
        code,
        iset.hierarchies[code].name if code in iset.hierarchies else code,
        evaluation._index_data(code),
        scoring.hierarchy(iset, code),
        scoring.config(iset, code),
        evaluation.county_names,
    )


# ----------------------------------------------------------------------------- the panel
class Panel:
    """Sliders and boxes over `rerank`: change a weight, a target or the normalisation and the
    ranking below is rebuilt. `table` holds the latest result (for export)."""

    def __init__(self, inputs: Inputs, samples: int = 100) -> None:
        import ipywidgets as w

        self.inputs = inputs
        tree = inputs.tree
        self.table: pd.DataFrame = pd.DataFrame(columns=list(COLUMNS))
        self.weights: dict[str, Any] = {}
        self.targets: dict[str, Any] = {}
        self._holding = False

        rows = []
        for code, depth in _walk(tree):
            node = tree.node(code)
            label = html.escape(node.name or code)
            slider = w.FloatSlider(
                value=node.weight,
                min=0.0,
                max=max(5.0, 2 * node.weight),
                step=0.1,
                description=label if node.level == 1 else f"<b>{label}</b>",
                description_allow_html=True,
                continuous_update=False,
                readout_format=".1f",
                style={"description_width": "18em"},
                layout=w.Layout(width="44em", margin=f"0 0 0 {2 * depth}em"),
            )
            self.weights[code] = slider
            rows.append(slider)
        target_rows = []
        for code in tree.indicators:
            node = tree.node(code)
            if node.target is None:
                continue
            box = w.FloatText(
                value=node.target,
                description=node.name or code,
                style={"description_width": "18em"},
                layout=w.Layout(width="32em"),
            )
            self.targets[code] = box
            target_rows.append(
                w.HBox([box, w.HTML(t("notebook.whatif.declared", value=f"{node.target:g}"))])
            )
        if not target_rows:
            target_rows = [w.HTML(t("notebook.whatif.no_targets"))]
        options = [c for c in NORMALISATIONS if c in NORMALISERS]
        if inputs.config.normalise not in options:
            options.insert(0, inputs.config.normalise)
        self.normalise = w.Dropdown(
            options=[(_norm_label(c), c) for c in options],
            value=inputs.config.normalise,
            description=t("notebook.whatif.normalise"),
            style={"description_width": "6em"},
            layout=w.Layout(width="26em"),
        )
        self.samples = w.BoundedIntText(
            value=samples,
            min=0,
            max=5000,
            description=t("notebook.whatif.samples"),
            style={"description_width": "10em"},
        )
        reset = w.Button(description=t("notebook.whatif.reset"), icon="undo")
        reset.on_click(lambda _: self.reset())
        tabs = w.Tab(children=[w.VBox(rows), w.VBox(target_rows)])
        tabs.set_title(0, t("notebook.whatif.weights"))
        tabs.set_title(1, t("notebook.whatif.targets"))
        self.output = w.HTML()
        for control in [*self.weights.values(), *self.targets.values(), self.normalise]:
            control.observe(lambda _: self.refresh(), names="value")
        self.samples.observe(lambda _: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.normalise, self.samples, reset]), tabs, self.output])
        self.refresh()

    def scenario(self) -> Scenario:
        """The current settings, only where they differ from the declaration."""
        tree = self.inputs.tree
        weights = {c: s.value for c, s in self.weights.items() if s.value != tree.node(c).weight}
        targets = {c: b.value for c, b in self.targets.items() if b.value != tree.node(c).target}
        normalise = self.normalise.value
        return Scenario(
            weights, targets, None if normalise == self.inputs.config.normalise else normalise
        )

    def reset(self) -> None:
        self._holding = True
        try:
            tree = self.inputs.tree
            for code, slider in self.weights.items():
                slider.value = tree.node(code).weight
            for code, box in self.targets.items():
                box.value = tree.node(code).target
            self.normalise.value = self.inputs.config.normalise
        finally:
            self._holding = False
        self.refresh()

    def refresh(self) -> None:
        if self._holding:
            return
        scenario = self.scenario()
        try:
            self.table = self.inputs.rerank(scenario, samples=int(self.samples.value))
        except (CompositeError, KeyError, ValueError) as exc:
            message = "；".join(i.message for i in getattr(exc, "issues", ())) or str(exc)
            message = _named(message, self.inputs.tree)
            self.output.value = (
                f'<p class="wb-empty">{html.escape(t("notebook.whatif.failed", message=message))}'
                "</p>"
            )
            return
        said = changes(self.inputs.tree, self.inputs.config, scenario)
        status = (
            t("notebook.whatif.changes", changes="；".join(said))
            if said
            else t("notebook.whatif.no_changes")
        )
        n = int(self.samples.value)
        note = t("notebook.whatif.interval_note", n=n) if n else t("notebook.whatif.no_interval")
        body = table_html(self.table).markup
        self.output.value = (
            CARD_CSS
            + f"<h4>{html.escape(t('notebook.whatif.title', name=self.inputs.name))}</h4>"
            + f"<p>{html.escape(status)}</p>"
            + body
            + f'<p class="wb-note">{html.escape(note)}</p>'
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _named(message: str, tree: Hierarchy) -> str:
    """The engine's message with node codes replaced by the names analysts know."""
    for node in sorted(tree.nodes, key=lambda n: -len(n.code)):
        if node.name:
            pattern = rf"(?<![A-Za-z0-9_]){re.escape(node.code)}(?![A-Za-z0-9_])"
            message = re.sub(pattern, lambda _, name=node.name: name, message)
    return message


def _walk(tree: Hierarchy) -> list[tuple[str, int]]:
    """Every node below the top, parents before their children, with its depth."""
    out: list[tuple[str, int]] = []

    def visit(code: str, depth: int) -> None:
        for child in tree.children(code):
            out.append((child, depth))
            visit(child, depth + 1)

    visit(tree.top, 0)
    return out
