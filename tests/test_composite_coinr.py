"""The composite engine against COINr 1.1.14's own ASEM example, number for number.

Expected values are COINr's own output, stored in tests/fixtures/coinr_asem (see its README):
the shared reference results (ref_*.csv) and those `make_expected.R` had COINr write; nothing
here is computed by the workbench.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.composite import (
    AGGREGATORS,
    IMPUTERS,
    NORMALISERS,
    CompositeConfig,
    Hierarchy,
    build_composite,
    normalise,
)

ASEM = Path(__file__).resolve().parent / "fixtures" / "coinr_asem"
EXPECTED = ASEM
TOL = 1e-6
DENOMINATOR_COLUMNS = ["Area", "Energy", "GDP", "Population"]


def expected(name: str) -> pd.DataFrame:
    return pd.read_csv(EXPECTED / name).set_index("uCode")


@pytest.fixture(scope="module")
def idata() -> pd.DataFrame:
    return pd.read_csv(ASEM / "ASEM_iData.csv").set_index("uCode")


@pytest.fixture(scope="module")
def imeta() -> pd.DataFrame:
    return pd.read_csv(ASEM / "ASEM_iMeta.csv")


@pytest.fixture(scope="module")
def hierarchy(imeta: pd.DataFrame) -> Hierarchy:
    return Hierarchy.from_frame(imeta)


@pytest.fixture(scope="module")
def simple(idata: pd.DataFrame, hierarchy: Hierarchy):
    return build_composite(idata, hierarchy, CompositeConfig())


@pytest.fixture(scope="module")
def default(idata: pd.DataFrame, imeta: pd.DataFrame, hierarchy: Hierarchy):
    denominator_map = (
        imeta.dropna(subset=["Denominator"]).set_index("iCode")["Denominator"].to_dict()
    )
    config = CompositeConfig(denominate=True, impute="group_mean", treat=True)
    return build_composite(
        idata,
        hierarchy,
        config,
        groups=idata["EurAsia_group"],
        denominators=idata[DENOMINATOR_COLUMNS],
        denominator_map=denominator_map,
    )


def assert_frame_close(mine: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Same units, every reference column present, values within TOL, NaN where COINr has NA."""
    assert set(mine.index) == set(ref.index)
    missing = [c for c in ref.columns if c not in mine.columns]
    assert not missing, f"columns missing from the engine output: {missing}"
    got = mine.loc[ref.index, ref.columns].to_numpy(dtype=float)
    want = ref.to_numpy(dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "missing values differ from COINr"
    worst = np.nanmax(np.abs(got - want))
    assert worst <= TOL, f"max abs difference {worst:g} > {TOL}"


def assert_results_match(result, ref: pd.DataFrame) -> None:
    scores = ref.drop(columns="Rank")
    assert_frame_close(result.scores, scores)
    ranks = result.ranks.loc[ref.index, "Index"]
    assert ranks.astype(int).tolist() == ref["Rank"].astype(int).tolist()


def test_hierarchy_reads_coinr_imeta(hierarchy: Hierarchy) -> None:
    assert len(hierarchy.indicators) == 49
    assert hierarchy.levels == (1, 2, 3, 4)
    assert hierarchy.top == "Index"
    assert set(hierarchy.children("Index")) == {"Conn", "Sust"}
    assert hierarchy.node("CostImpEx").direction == -1


# --------------------------------------------------------------------------- simple build


def test_simple_normalised(simple) -> None:
    assert_frame_close(simple.stages["normalised"], expected("ref_simple_Normalised.csv"))


def test_simple_results(simple) -> None:
    ref = expected("ref_simple_results_Aggs.csv")
    assert_results_match(simple, ref)
    assert simple.ranks.loc["DEU", "Index"] == 1
    assert simple.scores.loc["DEU", "Index"] == pytest.approx(75.227804654282, abs=TOL)


# --------------------------------------------------------------------------- default build


@pytest.mark.parametrize(
    "stage, name",
    [
        ("denominated", "ref_default_Denominated.csv"),
        ("imputed", "ref_default_Imputed.csv"),
        ("treated", "ref_default_Treated.csv"),
        ("normalised", "ref_default_Normalised.csv"),
        ("aggregated", "ref_default_Aggregated.csv"),
    ],
)
def test_default_stage(default, stage: str, name: str) -> None:
    assert_frame_close(default.stages[stage], expected(name))


def test_default_imputation_filled_everything(default) -> None:
    assert default.stages["denominated"].isna().sum().sum() > 0
    assert default.stages["imputed"].isna().sum().sum() == 0


def test_default_results(default) -> None:
    ref = expected("ref_default_results_Aggs.csv")
    assert_results_match(default, ref)
    assert default.scores.loc["CHE", "Index"] == pytest.approx(68.383724238342, abs=TOL)
    assert default.ranks.loc["CHE", "Index"] == 1
    assert default.ranks.loc["RUS", "Index"] == 51


def test_default_treat_details(default) -> None:
    ref = pd.read_csv(EXPECTED / "ref_default_treat_details.csv").set_index("iCode")
    mine = default.treat_details.loc[ref.index]
    assert mine["pass_before"].astype(bool).tolist() == ref["check_SkewKurt0.Pass"].tolist()
    np.testing.assert_allclose(mine["skew_before"], ref["check_SkewKurt0.Skew"], atol=TOL)
    np.testing.assert_allclose(mine["kurt_before"], ref["check_SkewKurt0.Kurt"], atol=TOL)

    winsorised = ref["winsorise.nwin"].notna()
    assert (mine.loc[~winsorised, "treatment"] == "none").all()
    assert (mine.loc[winsorised, "treatment"] == "winsorise").all()  # ASEM never needs the log
    assert (
        mine.loc[winsorised, "n_winsorised"] == ref.loc[winsorised, "winsorise.nwin"].astype(int)
    ).all()
    assert (
        mine.loc[winsorised, "pass_after"].astype(bool).tolist()
        == ref.loc[winsorised, "check_SkewKurt1.Pass"].astype(bool).tolist()
    )
    np.testing.assert_allclose(
        mine.loc[winsorised, "skew_after"], ref.loc[winsorised, "check_SkewKurt1.Skew"], atol=TOL
    )
    np.testing.assert_allclose(
        mine.loc[winsorised, "kurt_after"], ref.loc[winsorised, "check_SkewKurt1.Kurt"], atol=TOL
    )


def test_effective_weights(default, simple) -> None:
    ref = pd.read_csv(EXPECTED / "ref_effective_weights.csv").set_index("iCode")
    for result in (default, simple):
        got = result.effective_weights.loc[ref.index]
        np.testing.assert_allclose(got.to_numpy(), ref["EffWeight"].to_numpy(), atol=TOL)


# --------------------------------------------------------------------------- every normaliser
# COINr output written by make_expected.R from the raw data (directions applied first).


@pytest.fixture(scope="module")
def raw(idata: pd.DataFrame, hierarchy: Hierarchy) -> pd.DataFrame:
    return idata[list(hierarchy.indicators)].astype(float)


@pytest.fixture(scope="module")
def goal_tree(imeta: pd.DataFrame) -> Hierarchy:
    """The ASEM tree with the goalposts make_expected.R gave COINr."""
    posts = pd.read_csv(EXPECTED / "goalposts.csv").set_index("iCode")
    meta = imeta.copy()
    meta["goalpost_low"] = meta["iCode"].map(posts["lower"])
    meta["goalpost_high"] = meta["iCode"].map(posts["upper"])
    return Hierarchy.from_frame(meta)


def coinr_indicators(name: str, codes) -> pd.DataFrame:
    return expected(f"{name}.csv")[list(codes)]


@pytest.mark.parametrize(
    "name, options",
    [
        ("norm_minmax_1_10", {"normalise": "minmax", "norm_low": 1, "norm_high": 10}),
        ("norm_minmax_1_10", {"normalise": "n_minmax", "norm_low": 1, "norm_high": 10}),
        ("norm_zscore", {"normalise": "zscore"}),
        ("norm_zscore_10_2", {"normalise": "n_zscore", "zscore_mean_sd": (10, 2)}),
        ("norm_dist2max", {"normalise": "n_dist2max"}),
        ("norm_dist2max", {"normalise": "dist_max", "norm_low": 0, "norm_high": 1}),
        ("norm_fracmax", {"normalise": "n_fracmax"}),
        ("norm_fracmax", {"normalise": "fraction_max", "norm_low": 0, "norm_high": 1}),
        ("norm_prank", {"normalise": "n_prank"}),
        ("norm_prank_average", {"normalise": "n_prank", "ties": "average"}),
        ("norm_rank", {"normalise": "rank"}),
        ("norm_rank_max", {"normalise": "n_rank", "ties": "max"}),
        ("norm_borda", {"normalise": "n_borda"}),
        ("norm_dist2targ", {"normalise": "n_dist2targ"}),
        (
            "norm_dist2targ",
            {"normalise": "dist_target", "target_mode": "min", "norm_low": 0, "norm_high": 1},
        ),
        ("norm_dist2targ_cap", {"normalise": "n_dist2targ", "cap_max": True}),
        ("norm_goalposts", {"normalise": "n_goalposts"}),
        ("norm_goalposts_untruncated", {"normalise": "n_goalposts", "goalposts_truncate": False}),
        ("norm_scaled", {"normalise": "n_scaled"}),
        ("norm_dist2ref", {"normalise": "n_dist2ref", "reference_unit": "DEU"}),
        (
            "norm_dist2ref_cap",
            {"normalise": "n_dist2ref", "reference_unit": "DEU", "cap_max": True},
        ),
    ],
)
def test_every_coinr_normaliser(raw, goal_tree, name: str, options: dict) -> None:
    got, _ = normalise(raw, goal_tree, CompositeConfig(**options))
    want = coinr_indicators(name, goal_tree.indicators)
    if name == "norm_fracmax":
        # x / 0 is ±Inf in R; the workbench divides with a NULL guard (missing, never infinity).
        # Three lower-is-better indicators have max(−x) = 0: whole columns.
        inf = np.isinf(want)
        assert inf.any().sum() == 3 and inf.sum().max() >= 40
        want = want.mask(inf)
    assert_frame_close(got, want)


def test_every_coinr_normaliser_is_in_the_catalogue() -> None:
    """COINr 1.1.14's n_* functions (and "none"), each answering to its own name."""
    coinr = {
        "n_minmax", "n_zscore", "n_dist2max", "n_fracmax", "n_prank", "n_rank", "n_borda",
        "n_dist2targ", "n_dist2ref", "n_goalposts", "n_scaled", "none",
    }  # fmt: skip
    assert coinr <= set(NORMALISERS)
    assert {"a_amean", "a_gmean", "a_hmean", "a_genmean", "a_copeland"} <= set(AGGREGATORS)
    assert {"i_mean", "i_median", "i_mean_grp", "i_median_grp"} <= set(IMPUTERS)


def test_fraction_of_best_is_not_coinrs_fracmax(raw, goal_tree) -> None:
    """The workbench's own variant (min x / x for lower-is-better) keeps its own name: it differs
    from COINr's n_fracmax exactly on the negative-direction indicators."""
    ours, _ = normalise(raw, goal_tree, CompositeConfig(normalise="fraction_of_best"))
    coinr = coinr_indicators("norm_fracmax", goal_tree.indicators) * 100
    down = [c for c in goal_tree.indicators if goal_tree.node(c).direction == -1]
    up = [c for c in goal_tree.indicators if c not in down]
    assert_frame_close(ours[up], coinr[up])
    assert down and not np.allclose(ours[down].fillna(0), coinr[down].fillna(0))


# --------------------------------------------------------------------------- imputation, screening


@pytest.mark.parametrize(
    "name, options",
    [
        ("impute_mean", {"impute": "i_mean"}),
        ("impute_median", {"impute": "median"}),
        ("impute_mean_grp_gdp", {"impute": "group_mean", "impute_group": "GDP_group"}),
        (
            "impute_median_grp_eurasia",
            {"impute": "i_median_grp", "impute_group": "EurAsia_group"},
        ),
        ("impute_row_mean_level2", {"impute": "parent_mean", "impute_level": 2}),
    ],
)
def test_every_coinr_imputer(idata, hierarchy, name: str, options: dict) -> None:
    groups = idata[["GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group"]]
    result = build_composite(idata, hierarchy, CompositeConfig(**options), groups=groups)
    assert_frame_close(result.stages["imputed"], coinr_indicators(name, hierarchy.indicators))


@pytest.mark.parametrize(
    "name, by, options",
    [
        ("screen_byNA_095", "na", {"screen_min_coverage": 0.95}),
        ("screen_byzeros_095", "zeros", {"screen_min_nonzero": 0.95}),
    ],
)
def test_screening_drops_the_units_coinr_drops(idata, hierarchy, name, by, options) -> None:
    ref = expected(f"{name}.csv")
    result = build_composite(idata, hierarchy, CompositeConfig(screen_by=by, **options))
    dropped = set(ref.index[~ref["Included"].astype(bool)])
    assert dropped, "the thresholds were chosen so that COINr drops some units"
    assert set(result.stages["screened"].index) == set(ref.index) - dropped


def test_screen_after_impute_keeps_units_imputation_completed(idata, hierarchy) -> None:
    """Screening on imputed data sees complete rows: nobody is dropped for missing values."""
    cfg = dict(screen_min_coverage=0.95, impute="mean")
    before = build_composite(idata, hierarchy, CompositeConfig(**cfg))
    after = build_composite(idata, hierarchy, CompositeConfig(screen_before_impute=False, **cfg))
    assert len(before.scores) < len(idata) == len(after.scores)
    assert [s["step"] for s in after.steps][2:4] == ["impute", "screen"]


def test_treatment_options_as_coinr(idata, hierarchy) -> None:
    cfg = CompositeConfig(treat=True, winsor_max_points=3, skew_threshold=1.5, kurt_threshold=3)
    result = build_composite(idata, hierarchy, cfg)
    assert_frame_close(
        result.stages["treated"], coinr_indicators("treat_winmax3_15_3", hierarchy.indicators)
    )
    ref = pd.read_csv(EXPECTED / "treat_winmax3_15_3_details.csv").set_index("iCode")
    mine = result.treat_details.loc[ref.index]
    assert mine["pass_before"].astype(bool).tolist() == ref["check_SkewKurt0.Pass"].tolist()
    nwin = ref["winsorise.nwin"].fillna(0).astype(int)
    assert (mine.loc[nwin > 0, "n_winsorised"] == nwin[nwin > 0]).all()


# --------------------------------------------------------------------------- every aggregator
# Input: COINr's group-mean imputed data min-max'ed to [1, 100] (agg_input.csv), so the geometric
# means apply; the tree with every direction +1 and normalise "none" passes it through as is.


@pytest.fixture(scope="module")
def plain_tree(hierarchy: Hierarchy) -> Hierarchy:
    return Hierarchy(tuple(dataclasses.replace(n, direction=1) for n in hierarchy.nodes))


def aggregated(data: pd.DataFrame, tree: Hierarchy, **options) -> pd.DataFrame:
    result = build_composite(data, tree, CompositeConfig(normalise="none", **options))
    return result.stages["aggregated"]


@pytest.mark.parametrize(
    "name, options",
    [
        ("agg_amean", {"aggregate": "arithmetic"}),
        ("agg_gmean", {"aggregate": "a_gmean"}),
        ("agg_hmean", {"aggregate": "harmonic"}),
        ("agg_genmean_2", {"aggregate": "genmean", "genmean_p": 2}),
        ("agg_genmean_m15", {"aggregate": "a_genmean", "genmean_p": -1.5}),
        ("agg_copeland", {"aggregate": "copeland"}),
        ("agg_mixed", {"aggregate": {2: "arithmetic", 3: "geometric", 4: "a_copeland"}}),
    ],
)
def test_every_coinr_aggregator(plain_tree, name: str, options: dict) -> None:
    data = expected("agg_input.csv")
    ref = expected(f"{name}.csv")
    assert_frame_close(aggregated(data, plain_tree, **options), ref[list(plain_tree.aggregates)])


def test_copeland_scores_are_integers(plain_tree) -> None:
    scores = aggregated(expected("agg_input.csv"), plain_tree, aggregate="copeland")
    values = scores[list(plain_tree.aggregates)].to_numpy()
    assert np.array_equal(values, np.round(values))
    assert values.max() <= len(scores) - 1


@pytest.mark.parametrize(
    "name, options",
    [
        ("agg_missing_amean", {"aggregate": "arithmetic"}),
        ("agg_missing_gmean", {"aggregate": "geometric"}),
        ("agg_missing_hmean", {"aggregate": "harmonic"}),
        ("agg_missing_amean_datthresh08", {"aggregate_min_coverage": 0.8}),
        ("agg_missing_copeland", {"aggregate": "copeland"}),
    ],
)
def test_aggregators_with_missing_values_as_coinr(plain_tree, name: str, options: dict) -> None:
    """Weights re-normalised over the available children; COINr's dat_thresh; Copeland counting
    a comparison with a missing value for neither unit (and COINr's 1 − upper triangle)."""
    data = expected("agg_missing_input.csv")
    assert data[list(plain_tree.indicators)].isna().any().any()
    ref = expected(f"{name}.csv")[list(plain_tree.aggregates)]
    assert_frame_close(aggregated(data, plain_tree, **options), ref)
