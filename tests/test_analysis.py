"""The analyst's toolkit against COINr 1.1.14 on its ASEM example, to 1e-6.

Expected values are COINr's own output (tests/fixtures/coinr_asem, written by make_expected.R);
nothing here is computed by the workbench. The data given to each function is the data COINr
used: its Raw set, or its Aggregated set (min-max'ed indicators beside every aggregate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from workbench import analysis
from workbench.composite import CompositeConfig, Hierarchy, build_composite

ASEM = Path(__file__).resolve().parent / "fixtures" / "coinr_asem"
TOL = 1e-6


def coinr(name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(ASEM / f"{name}.csv", **kw)


@pytest.fixture(scope="module")
def tree() -> Hierarchy:
    return Hierarchy.from_frame(pd.read_csv(ASEM / "ASEM_iMeta.csv"))


@pytest.fixture(scope="module")
def raw(tree: Hierarchy) -> pd.DataFrame:
    data = pd.read_csv(ASEM / "ASEM_iData.csv").set_index("uCode")
    return data[list(tree.indicators)].astype(float)


@pytest.fixture(scope="module")
def aggregated() -> pd.DataFrame:
    return coinr("analysis_aggregated").set_index("uCode")


def by_pair(frame: pd.DataFrame, a: str = "Var1", b: str = "Var2") -> pd.Series:
    return frame.set_index([a, b])["Correlation"]


def assert_close(got, want) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want), initial=0.0) <= TOL


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    "name, thresholds",
    [
        ("stats_raw", {}),
        (
            "stats_raw_thresholds",
            {"t_skew": 1, "t_kurt": 2, "t_avail": 0.9, "t_zero": 0.8, "t_unq": 0.9},
        ),
    ],
)
def test_indicator_stats_as_coinr(raw, name: str, thresholds: dict) -> None:
    ref = coinr(name).set_index("iCode")
    got = analysis.indicator_stats(raw, **thresholds).set_index("code").loc[ref.index]
    numeric = {
        "min": "Min", "max": "Max", "mean": "Mean", "median": "Median", "sd": "Std",
        "skew": "Skew", "kurt": "Kurt", "n_avail": "N.Avail", "n_nonzero": "N.NonZero",
        "n_unique": "N.Unique", "n_same": "N.Same", "frc_avail": "Frc.Avail",
        "frc_nonzero": "Frc.NonZero", "frc_unique": "Frc.Unique", "frc_same": "Frc.Same",
    }  # fmt: skip
    for mine, theirs in numeric.items():
        assert_close(got[mine], ref[theirs])
    flags = {
        "flag_avail": "Flag.Avail",
        "flag_nonzero": "Flag.NonZero",
        "flag_unique": "Flag.Unique",
        "flag_skew_kurt": "Flag.SkewKurt",
    }
    for mine, theirs in flags.items():
        assert got[mine].tolist() == ref[theirs].tolist()
    assert (ref["Flag.SkewKurt"] == "OUT").any() and (ref["Flag.SkewKurt"] == "ok").any()


# --------------------------------------------------------------------------- correlations


@pytest.mark.parametrize(
    "name, method",
    [
        ("corr_within_pillars", "pearson"),
        ("corr_within_pillars_spearman", "spearman"),
        ("corr_within_pillars_kendall", "kendall"),
    ],
)
def test_correlations_within_a_parent(raw, tree, name: str, method: str) -> None:
    ref = by_pair(coinr(name))
    got = analysis.corr_within(raw, tree, level=1, method=method).set_index(["var1", "var2"])
    assert set(got.index) == set(ref.index)
    assert_close(got.loc[ref.index, "correlation"], ref)


def test_insignificant_correlations_are_the_ones_coinr_blanks(raw, tree) -> None:
    """COINr get_corr(pval = 0.05) sets correlations with p > 0.05 to NA."""
    ref = by_pair(coinr("corr_within_pillars_p05"))
    got = analysis.corr_within(raw, tree, level=1).set_index(["var1", "var2"]).loc[ref.index]
    blank = ref.isna()
    assert blank.any() and (~blank).any()
    assert ((got["p_value"] > 0.05) == blank).all()


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_pvalues_as_coinr(raw, method: str) -> None:
    """COINr get_pvals calls R's cor.test with the method: Spearman's and Kendall's p-values
    come from their own null distributions, not Pearson's t."""
    ref = coinr(f"pvals_raw_{method}", index_col=0)
    got = analysis.pvalues(raw, method=method).loc[ref.index, ref.columns]
    assert_close(got, ref)


@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_rank_correlations_blank_what_coinr_blanks(raw, tree, method: str) -> None:
    """get_corr(cortype = method, pval = 0.05): the blanks follow the method's own p-values."""
    ref = by_pair(coinr(f"corr_within_pillars_{method}_p05"))
    got = analysis.corr_within(raw, tree, level=1, method=method).set_index(["var1", "var2"])
    got = got.loc[ref.index]
    blank = ref.isna()
    assert blank.any() and (~blank).any()
    assert ((got["p_value"] > 0.05) == blank).all()
    assert_close(got.loc[~blank, "correlation"], ref[~blank])


def test_every_branch_of_the_p_values_as_r_cor_test() -> None:
    """R's cor.test on made-up samples of 3–60 pairs, with and without ties: Kendall exact
    below 50 pairs, Spearman exact up to 9 then AS 89, the approximations with ties."""
    data = coinr("cortest_small_data")
    ref = coinr("cortest_small")
    assert set(ref["method"]) == {"pearson", "spearman", "kendall"} and ref["n"].min() == 3
    for row in ref.itertuples():
        pair = data[data["case"] == row.case]
        frame = pd.DataFrame({"x": pair["x"].to_numpy(), "y": pair["y"].to_numpy()})
        got = analysis.correlate(frame, [("x", "y")], row.method).iloc[0]
        assert got["n"] == row.n
        assert got["correlation"] == pytest.approx(row.estimate, abs=1e-9), row
        assert got["p_value"] == pytest.approx(row.p_value, abs=1e-9), row


def test_correlation_with_the_parent(aggregated, tree) -> None:
    ref = by_pair(coinr("corr_with_parent"))
    got = analysis.corr_with_parent(aggregated, tree, level=1).set_index(["var1", "var2"])
    assert len(got) == len(ref) == 49
    assert_close(got.loc[ref.index, "correlation"], ref)


def test_correlation_across_levels(aggregated, tree) -> None:
    ref = by_pair(coinr("corr_levels_2_3"))
    got = analysis.corr_across(aggregated, tree, 2, 3).set_index(["var1", "var2"])
    assert set(got.index) == set(ref.index)
    assert_close(got.loc[ref.index, "correlation"], ref)


def test_correlation_with_every_ancestor(aggregated, tree) -> None:
    ref = coinr("corr_family")
    ref["level"] = ref["Var1"].str.replace("Level_", "").astype(int)
    ref = ref.set_index(["level", "Var2"])["Correlation"]
    got = analysis.corr_family(aggregated, tree, level=1).set_index(["ancestor_level", "var2"])
    assert len(got) == len(ref) == 49 * 3
    assert_close(got.loc[ref.index, "correlation"], ref)


def test_pvalue_by_hand() -> None:
    # r = 0.5 over n = 10: t = 0.5·sqrt(8/0.75) = 1.632993; two-sided p with 8 df = 0.141...
    # (R: 2 * pt(-1.632993, 8) = 0.1411133)
    assert analysis.correlation_pvalue(0.5, 10) == pytest.approx(0.1411133, abs=1e-7)
    assert np.isnan(analysis.correlation_pvalue(0.5, 2))


# --------------------------------------------------------------------------- Cronbach's alpha


def test_cronbach_alpha_per_node(raw, aggregated, tree) -> None:
    ref = coinr("cronbach")
    pillars = [c for c in tree.aggregates if tree.node(c).level == 2]
    for dset, data in (("Raw", raw), ("Aggregated", aggregated)):
        rows = ref[(ref["dset"] == dset) & (ref["level"] == 2)].set_index("node")["alpha"]
        got = analysis.cronbach_alpha(data, tree, pillars).set_index("node")["alpha"]
        assert_close(got.loc[rows.index], rows)
    upper = ref[ref["level"] > 2].set_index("node")["alpha"]
    got = analysis.cronbach_alpha(aggregated, tree, list(upper.index)).set_index("node")["alpha"]
    assert_close(got.loc[upper.index], upper)


def test_cronbach_alpha_by_hand() -> None:
    # Two items with variances 1 and 4 and covariance 1.5: alpha = 4·1.5 / (1 + 4 + 2·1.5) = .75
    tree = Hierarchy.from_frame(
        pd.DataFrame({"code": ["a", "b", "T"], "parent": ["T", "T", None], "level": [1, 1, 2]})
    )
    a = np.array([1.0, -1.0, 1.0, -1.0]) * np.sqrt(3 / 4)
    b = 1.5 * a + np.array([1.0, 1.0, -1.0, -1.0]) * np.sqrt(1.75 * 3 / 4)
    got = analysis.cronbach_alpha(pd.DataFrame({"a": a, "b": b}), tree)
    assert got.loc[0, "alpha"] == pytest.approx(0.75)


# --------------------------------------------------------------------------- PCA


@pytest.mark.parametrize("dset, level", [("Raw", 1), ("Aggregated", 2)])
def test_pca_per_node_as_coinr(raw, aggregated, tree, dset: str, level: int) -> None:
    data = raw if dset == "Raw" else aggregated
    ref = coinr("pca")
    ref = ref[(ref["dset"] == dset) & (ref["level"] == level)]
    found = analysis.pca(data, tree, level)
    var = ref.drop_duplicates(["group", "component"]).set_index(["group", "component"])
    got = found.variance.set_index(["group", "component"]).loc[var.index]
    assert_close(got["sdev"], var["sdev"])
    assert_close(got["var_explained"], var["var_explained"])
    assert (got["n_units"] == var["n_units"]).all()
    # loadings equal COINr's up to one sign per component (an eigenvector's sign is arbitrary)
    ref_l = ref.set_index(["group", "component", "iCode"])["loading"]
    got_l = found.loadings.set_index(["group", "component", "code"])["loading"].loc[ref_l.index]
    for _key, theirs in ref_l.groupby(level=[0, 1]):
        mine = got_l.loc[theirs.index].to_numpy()
        sign = np.sign(np.dot(mine, theirs.to_numpy()))
        assert_close(sign * mine, theirs)


def test_pca_weights_are_coinrs_first_loadings(raw, tree) -> None:
    ref = coinr("pca_weights")
    ref = ref[(ref["dset"] == "Raw") & (ref["Level"] == 1)].set_index("iCode")["Weight"]
    found = analysis.pca(raw, tree, 1)
    got = found.weights("loadings").loc[ref.index]
    for parent in {tree.node(c).parent for c in ref.index}:
        kids = [c for c in ref.index if tree.node(c).parent == parent]
        sign = np.sign(np.dot(got[kids], ref[kids]))
        assert_close(sign * got[kids], ref[kids])
        assert got[kids].sum() >= 0  # oriented
    squared = found.weights("squared")
    for parent in {tree.node(c).parent for c in ref.index}:
        kids = [c for c in ref.index if tree.node(c).parent == parent]
        assert squared[kids].sum() == pytest.approx(1.0)


def test_pca_weights_build_an_index(raw, tree) -> None:
    weights = analysis.pca_weights(raw, tree, level=1)
    result = build_composite(raw, tree, CompositeConfig(impute="mean", weights=weights))
    assert result.steps[[s["step"] for s in result.steps].index("weight")]["method"] == "manual"
    assert result.scores["Index"].notna().all()


# --------------------------------------------------------------------------- tables


def test_toolkit_tables_export_with_chinese_headers(raw, tree, tmp_path) -> None:
    result = build_composite(raw, tree, CompositeConfig(impute="mean"))
    tables = analysis.toolkit(result)
    assert {"stats", "corr_within", "corr_parent", "cronbach", "pca_variance"} <= set(tables.tables)
    book = load_workbook(tables.to_excel(tmp_path / "分析.xlsx"), read_only=True)
    assert len(book.sheetnames) == len(tables.tables)
    header = next(book[book.sheetnames[0]].iter_rows(max_row=1, values_only=True))
    assert all(isinstance(h, str) and not h.isascii() for h in header), header
    files = tables.to_csv(tmp_path / "csv")
    first = files[0].read_text(encoding="utf-8-sig").splitlines()[0]
    assert not first.isascii() and "code" not in first
    assert "<table" in tables._repr_html_()


def test_labelled_tables_speak_chinese_under_pandas_string_columns() -> None:
    """pandas 3 keeps text as `str`, not `object`: the flags ok/LOW/OUT reached the sensitivity
    notebook as English. They read 正常/偏低/偏态异常 whatever the text dtype."""
    from workbench.analysis import Tables

    frame = pd.DataFrame(
        {
            "code": ["a", "b", "c"],
            "flag_avail": ["ok", "LOW", "ok"],
            "flag_skew_kurt": ["ok", "ok", "OUT"],
        }
    )
    for f in (frame, frame.astype(object)):
        got = Tables({"stats": f}).labelled("stats")
        assert got["覆盖率提示"].tolist() == ["正常", "偏低", "正常"]
        assert got["偏态提示"].tolist() == ["正常", "正常", "偏态异常"]
        assert got["指标代码"].tolist() == ["a", "b", "c"]


def test_pca_weights_say_in_chinese_when_a_group_keeps_equal_weights(raw, tree, caplog) -> None:
    """A constant member leaves its group without components; the analyst is told in Chinese,
    naming the group, not `PCA weights for norm undefined: equal weights kept`."""
    flat = raw.copy()
    kid = next(c for c in raw.columns if tree.node(c).parent is not None)
    parent = tree.node(kid).parent
    flat[kid] = 1.0
    with caplog.at_level("WARNING", logger="workbench.analysis"):
        weights = analysis.pca_weights(flat, tree, level=1)
    kids = [c for c in raw.columns if c in weights and tree.node(c).parent == parent]
    assert all(weights[c] == pytest.approx(1 / len(kids)) for c in kids)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "等权" in said and (tree.node(parent).name or parent) in said
    assert "PCA weights" not in said


def test_shown_tables_name_the_indicators_and_show_missing_as_dash() -> None:
    """The sensitivity notebook showed `fund_recovery_rate` and NaN: the tables it shows name
    each node as the set declares it (the code kept beside the name: `weights` takes codes),
    and a value that cannot be computed (the skew of a constant) reads —."""
    tree = Hierarchy.from_frame(
        pd.DataFrame(
            {
                "code": ["fund", "cases", "police", "closed", "rise", "norm", "idx"],
                "parent": ["rise", "rise", "norm", "norm", "idx", "idx", None],
                "level": [1, 1, 1, 1, 2, 2, 3],
                "name": [
                    "基金追回率",
                    "案件查处率",
                    "行刑衔接移送率",
                    "结案率",
                    "两升",
                    "一规范",
                    "综合",
                ],
            }
        )
    )
    raw = pd.DataFrame(
        {
            "fund": [0.5, 0.6, 0.7, 0.8, 0.9],
            "cases": [0.1, 0.3, 0.2, 0.5, 0.4],
            "police": [1.0, 1.0, 1.0, 1.0, 1.0],
            "closed": [0.9, 0.7, 0.8, 0.6, 0.5],
        },
        index=["u1", "u2", "u3", "u4", "u5"],
    )
    tables = analysis.toolkit(build_composite(raw, tree, CompositeConfig()))
    stats = tables.show("stats").display_frame("stats").set_index("指标代码")
    assert stats.loc["fund", "指标名称"] == "基金追回率"
    assert stats.loc["police", "指标名称"] == "行刑衔接移送率"
    assert stats.loc["fund", "均值"] == "0.700" and stats.loc["fund", "最小值"] == "0.500"
    assert stats.loc["police", "偏度"] == "—"  # sd 0: no skew
    assert stats.loc["fund", "有效值个数"] == "5"
    within = tables.display_frame("corr_within")
    assert set(within["所属上级"]) <= {"两升", "一规范"}
    assert {"基金追回率", "案件查处率"} <= set(within["指标甲"])
    shown = tables.show()._repr_html_()
    assert "NaN" not in shown and "fund_recovery" not in shown and "<td>两升</td>" in shown
    # the saved tables keep numbers as numbers (blank when missing) with the names beside
    saved = tables.labelled("stats").set_index("指标代码")
    assert saved.loc["fund", "指标名称"] == "基金追回率" and saved.loc["fund", "均值"] == 0.7
