"""The composite engine against COINr 1.1.14's own ASEM example, number for number.

Expected values are COINr's own output, stored in tests/fixtures/coinr_asem (see its README):
the shared reference results (ref_*.csv) and those `make_expected.R` had COINr write; nothing
here is computed by the workbench.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.composite import CompositeConfig, Hierarchy, build_composite

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
