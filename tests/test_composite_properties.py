"""Invariants of the composite engine (hypothesis) and small examples worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.composite import (
    CompositeConfig,
    CompositeError,
    Hierarchy,
    Node,
    build_composite,
    normalise,
)

UNITS = ["A", "B", "C"]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flat(codes, directions=None, weights=None, targets=None, goalposts=None) -> Hierarchy:
    """One-level tree: indicators straight under IDX."""
    directions = directions or {}
    weights = weights or {}
    targets = targets or {}
    goalposts = goalposts or {}
    nodes = [Node("IDX", None, 2)]
    nodes += [
        Node(
            c,
            "IDX",
            1,
            weight=weights.get(c, 1.0),
            direction=directions.get(c, 1),
            target=targets.get(c),
            goalposts=goalposts.get(c),
        )
        for c in codes
    ]
    return Hierarchy(tuple(nodes))


def two_level(codes) -> Hierarchy:
    """Indicators split into two pillars P1/P2 under IDX."""
    half = max(1, len(codes) // 2)
    nodes = [Node("IDX", None, 3), Node("P1", "IDX", 2, weight=2.0), Node("P2", "IDX", 2)]
    nodes += [
        Node(c, "P1" if i < half else "P2", 1, weight=1.0 + i % 3) for i, c in enumerate(codes)
    ]
    if half >= len(codes):  # keep P2 non-empty
        nodes.append(Node("EXTRA", "P2", 1))
    return Hierarchy(tuple(nodes))


# --------------------------------------------------------------------------- hand examples
# Data for the normaliser examples (3 units × 2 indicators):
#   x (higher is better): A 2, B 4, C 10        target 5,  goalposts (0, 8)
#   y (lower is better):  A 30, B 10, C 20      target 15, goalposts (10, 40)

HAND = pd.DataFrame({"x": [2.0, 4.0, 10.0], "y": [30.0, 10.0, 20.0]}, index=UNITS)
HAND_TREE = flat(
    ["x", "y"],
    directions={"y": -1},
    targets={"x": 5.0, "y": 15.0},
    goalposts={"x": (0.0, 8.0), "y": (10.0, 40.0)},
)


def normalised(method: str, **kw) -> pd.DataFrame:
    cfg = CompositeConfig(normalise=method, **kw)
    return build_composite(HAND, HAND_TREE, cfg).stages["normalised"]


@pytest.mark.parametrize(
    "method, x, y",
    [
        # minmax: x (x−2)/8·100 → 0, 25, 100; y' = −y = −30,−10,−20 → (y'+30)/20·100 → 0, 100, 50
        ("minmax", [0, 25, 100], [0, 100, 50]),
        # dist_max is COINr's 1 − (max−x')/(max−min): identical to minmax
        ("dist_max", [0, 25, 100], [0, 100, 50]),
        # rank (min ties), 1 = worst: x 1,2,3; y' ranks −30<−20<−10 → A 1, C 2, B 3
        ("rank", [1, 2, 3], [1, 3, 2]),
        # borda = rank − 1
        ("borda", [0, 1, 2], [0, 2, 1]),
        # percentile rank (rank−1)/(n−1)·100
        ("percentile_rank", [0, 50, 100], [0, 100, 50]),
        # fraction of max (COINr n_fracmax): x'/max x' with x' = x·direction: x/10 → .2,.4,1;
        # y' = −30,−10,−20 over max y' = −10 → 3, 1, 2 (COINr's arithmetic: the best scores 1)
        ("fraction_max", [20, 40, 100], [300, 100, 200]),
        # fraction of the best: lower-better uses best/value: 10/30, 10/10, 10/20
        ("fraction_of_best", [20, 40, 100], [100 / 3, 100, 50]),
        # ratio to target: x/5 → .4,.8,2; lower-better t/y: 15/30, 15/10, 15/20
        ("dist_target", [40, 80, 200], [50, 150, 75]),
        # 达标 = full marks: the same, capped at 100
        ("dist_target_capped", [40, 80, 100], [50, 100, 75]),
        # goalposts: x/8 → .25,.5,1.25→1; lower-better (40−y)/30 → 1/3, 1, 2/3
        ("goalposts", [25, 50, 100], [100 / 3, 100, 200 / 3]),
    ],
)
def test_normalisers_by_hand(method: str, x: list[float], y: list[float]) -> None:
    got = normalised(method)
    np.testing.assert_allclose(got["x"].to_numpy(), x, atol=1e-9)
    np.testing.assert_allclose(got["y"].to_numpy(), y, atol=1e-9)


def test_zscore_by_hand() -> None:
    # x: mean 16/3, deviations −10/3, −4/3, 14/3; sd (n−1) = sqrt(104/9 / 2) = 4.163332
    # → −0.800641, −0.320256, 1.120897.  y' = −30,−10,−20: mean −20, sd 10 → −1, 1, 0
    got = normalised("zscore")
    np.testing.assert_allclose(got["x"], [-0.800641, -0.320256, 1.120897], atol=1e-6)
    np.testing.assert_allclose(got["y"], [-1, 1, 0], atol=1e-12)
    # a chosen mean/sd just rescales: 50 + 10·z
    got = normalised("zscore", zscore_mean_sd=(50.0, 10.0))
    np.testing.assert_allclose(got["y"], [40, 60, 50], atol=1e-12)


def test_dist_target_min_mode_is_coinr() -> None:
    # COINr n_dist2targ: (x' − min x')/(t' − min x').  x: (x−2)/(5−2) → 0, 2/3, 8/3
    # y' = −y, t' = −15, min' = −30: (y'+30)/15 → 0, 4/3, 2/3
    got = normalised("dist_target", target_mode="min")
    np.testing.assert_allclose(got["x"], [0, 200 / 3, 800 / 3], atol=1e-9)
    np.testing.assert_allclose(got["y"], [0, 400 / 3, 200 / 3], atol=1e-9)
    capped = normalised("dist_target_capped", target_mode="min")
    np.testing.assert_allclose(capped["y"], [0, 100, 200 / 3], atol=1e-9)


def test_scaled_range_follows_norm_low_high() -> None:
    # minmax onto [1, 11]: x → 1 + 10·(0, .25, 1)
    got = normalised("minmax", norm_low=1.0, norm_high=11.0)
    np.testing.assert_allclose(got["x"], [1, 3.5, 11], atol=1e-12)


def test_missing_target_is_reported_for_every_indicator() -> None:
    tree = flat(["x", "y"])
    with pytest.raises(CompositeError) as err:
        build_composite(HAND, tree, CompositeConfig(normalise="dist_target"))
    assert [i.code for i in err.value.issues] == ["composite.E_NO_TARGET"]
    assert "x" in str(err.value) and "y" in str(err.value)


# Aggregators: rank-normalise the hand data so the inputs are small integers:
#   r_x = A 1, B 2, C 3;  r_y = A 1, B 3, C 2;  weights x 1, y 3 (so shares 1/4, 3/4).
AGG_TREE = flat(["x", "y"], directions={"y": -1}, weights={"x": 1.0, "y": 3.0})


@pytest.mark.parametrize(
    "method, expected",
    [
        # (1·r_x + 3·r_y)/4: A 1, B (2+9)/4, C (3+6)/4
        ("arithmetic", [1, 2.75, 2.25]),
        # r_x^(1/4)·r_y^(3/4): A 1, B 2^.25·3^.75 = 2.710806, C 3^.25·2^.75 = 2.213364
        ("geometric", [1, 2.710806, 2.213364]),
        # 4/(1/r_x + 3/r_y): A 1, B 4/1.5, C 4/(1/3 + 3/2) = 2.181818
        ("harmonic", [1, 8 / 3, 2.181818]),
        # p = 2: sqrt((r_x² + 3 r_y²)/4): A 1, B sqrt(7.75) = 2.783882, C sqrt(5.25) = 2.291288
        ("genmean", [1, 2.783882, 2.291288]),
        # outranking sum: Σ over rivals of the weight share on which a unit is better.
        # A loses everything: 0.  B beats A on both (1) and beats C on y (.75): 1.75.
        # C beats A on both (1) and beats B on x (.25): 1.25.
        ("outranking_sum", [0, 1.75, 1.25]),
        # Copeland (COINr a_copeland): each share > ½ is +1, < ½ is −1: A −1 −1 = −2;
        # B +1 (1 vs A) +1 (.75 vs C) = 2; C +1 (vs A) −1 (.25 vs B) = 0
        ("copeland", [-2, 2, 0]),
    ],
)
def test_aggregators_by_hand(method: str, expected: list[float]) -> None:
    cfg = CompositeConfig(normalise="rank", aggregate=method)
    result = build_composite(HAND, AGG_TREE, cfg)
    np.testing.assert_allclose(result.scores["IDX"], expected, atol=1e-6)


def test_copeland_splits_ties_by_hand() -> None:
    # x: A 1, B 1, C 2; y: A 3, B 1, C 2; equal weights (½ each).
    # A–B: tie on x (¼ each), A better on y (½ to A) → A .75, B .25
    # A–C: C better on x, A better on y → ½ each.  B–C: C better on both → C 1, B 0.
    # Outranking sums: A .75 + .5 = 1.25; B .25 + 0 = .25; C .5 + 1 = 1.5
    # Copeland: A +1 (.75) + 0 (½) = 1; B −1 −1 = −2; C 0 + 1 = 1 (A and C share rank 1)
    data = pd.DataFrame({"x": [1.0, 1.0, 2.0], "y": [3.0, 1.0, 2.0]}, index=UNITS)
    summed = build_composite(data, flat(["x", "y"]), CompositeConfig(aggregate="outranking_sum"))
    np.testing.assert_allclose(summed.scores["IDX"], [1.25, 0.25, 1.5])
    assert summed.ranks["IDX"].tolist() == [2, 3, 1]
    result = build_composite(data, flat(["x", "y"]), CompositeConfig(aggregate="copeland"))
    np.testing.assert_allclose(result.scores["IDX"], [1, -2, 1])
    assert result.ranks["IDX"].tolist() == [1, 3, 1]


def test_weights_renormalised_over_missing_by_hand() -> None:
    # minmax: x 0,50,100; y 100,0,50; z (B 10, C 0 present) → A NaN, B 100, C 0.
    # weights 1, 1, 2.  A: (0 + 100)/2 = 50 (z's weight dropped); B: (50 + 0 + 200)/4 = 62.5;
    # C: (100 + 50 + 0)/4 = 37.5
    data = pd.DataFrame({"x": [0.0, 5, 10], "y": [10.0, 0, 5], "z": [np.nan, 10, 0]}, index=UNITS)
    tree = flat(["x", "y", "z"], weights={"z": 2.0})
    result = build_composite(data, tree)
    np.testing.assert_allclose(result.scores["IDX"], [50, 62.5, 37.5], atol=1e-12)
    assert result.ranks["IDX"].tolist() == [2, 1, 3]


def test_unit_with_no_data_gets_no_score_and_no_rank() -> None:
    data = pd.DataFrame({"x": [1.0, 2, np.nan], "y": [3.0, 1, np.nan]}, index=UNITS)
    result = build_composite(data, flat(["x", "y"]))
    assert math.isnan(result.scores.loc["C", "IDX"])
    assert result.ranks.loc["C", "IDX"] is pd.NA
    assert result.grades.loc["C"] is pd.NA


def test_per_level_methods_and_effective_weights() -> None:
    # IDX(level 3) ← P1 (w 3: x, y), P2 (w 1: z).  Effective: P1 .75, P2 .25, x = y = .375, z .25
    tree = Hierarchy(
        (
            Node("IDX", None, 3),
            Node("P1", "IDX", 2, weight=3),
            Node("P2", "IDX", 2),
            Node("x", "P1", 1),
            Node("y", "P1", 1),
            Node("z", "P2", 1),
        )
    )
    data = pd.DataFrame({"x": [1.0, 4, 9], "y": [4.0, 1, 9], "z": [9.0, 4, 1]}, index=UNITS)
    cfg = CompositeConfig(normalise="rank", aggregate={2: "geometric"})
    result = build_composite(data, tree, cfg)
    np.testing.assert_allclose(
        result.effective_weights[["P1", "P2", "x", "y", "z"]], [0.75, 0.25, 0.375, 0.375, 0.25]
    )
    # ranks: x 1,2,3; y 2,1,3; z 3,2,1.  P1 = sqrt(x·y): A √2, B √2, C 3; P2 = z.
    # IDX arithmetic (3·P1 + P2)/4: A (3√2 + 3)/4, B (3√2 + 2)/4, C (9 + 1)/4
    r2 = math.sqrt(2)
    np.testing.assert_allclose(result.scores["IDX"], [(3 * r2 + 3) / 4, (3 * r2 + 2) / 4, 2.5])
    aggregate_step = next(s for s in result.steps if s["step"] == "aggregate")
    assert aggregate_step["methods"] == {"2": "geometric", "3": "arithmetic"}


def test_manual_weights_override_the_tree() -> None:
    # weights x 0, y 1 → the index is y's minmax score: A 0, B 100, C 50
    result = build_composite(HAND, HAND_TREE, CompositeConfig(weights={"x": 0.0}))
    np.testing.assert_allclose(result.scores["IDX"], [0, 100, 50])
    with pytest.raises(CompositeError) as err:
        build_composite(HAND, HAND_TREE, CompositeConfig(weights={"nope": 1.0}))
    assert err.value.issues[0].code == "composite.E_UNKNOWN_WEIGHT_NODE"


def test_geometric_refuses_zero_unless_shift() -> None:
    # minmax puts the worst unit at 0, which a geometric mean cannot take
    with pytest.raises(CompositeError) as err:
        build_composite(HAND, HAND_TREE, CompositeConfig(aggregate="geometric"))
    assert err.value.issues[0].code == "composite.E_NONPOSITIVE"
    # shift: x 0,25,100 → +1 (1% of range) → 1, 26, 101; y 0,100,50 → 1, 101, 51
    shifted = build_composite(
        HAND, HAND_TREE, CompositeConfig(aggregate="geometric", nonpositive="shift")
    )
    np.testing.assert_allclose(
        shifted.scores["IDX"], [1.0, math.sqrt(26 * 101), math.sqrt(101 * 51)]
    )


def test_ranks_ties_take_lowest_rank_and_grades_use_bands() -> None:
    # one indicator, minmax on [0, 100] of 0 … 100 → scores equal the data; 90 and 90 tie at 2
    data = pd.DataFrame(
        {"x": [0.0, 59.94, 60, 80, 90, 90, 100]}, index=["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    )
    result = build_composite(data, flat(["x"]))
    assert result.ranks["IDX"].tolist() == [7, 6, 5, 4, 2, 2, 1]
    assert result.grades.tolist() == ["不合格", "不合格", "合格", "良好", "优秀", "优秀", "优秀"]
    # graded as published (one decimal, half up): 59.94 is printed 59.9 (不合格); 59.95 and
    # 79.958 are printed 60.0 and 80.0 and graded so — never 80.0分 beside 合格
    from workbench.composite import grade

    bands5 = ((90, "优秀"), (80, "良好"), (60, "合格"), (float("-inf"), "不合格"))
    edge = pd.Series([59.94, 59.95, 79.949, 79.958, 89.95, 89.9499])
    assert grade(edge, bands5).tolist() == ["不合格", "合格", "合格", "良好", "优秀", "良好"]
    custom = build_composite(
        data, flat(["x"]), CompositeConfig(grade_bands=((50, "达标"), (float("-inf"), "未达标")))
    )
    assert custom.grades.tolist() == ["未达标"] + ["达标"] * 6
    # A missing score has no grade, whether it comes as NaN or as pandas' NA.
    from workbench.composite import grade

    bands = ((90, "优秀"), (60, "合格"), (float("-inf"), "不合格"))
    for scores in (pd.Series([np.nan, 95.0, 10.0]), pd.Series([None, 95.0, 10.0], dtype="Float64")):
        got = grade(scores, bands)
        assert got.isna().tolist() == [True, False, False]
        assert got.tolist()[1:] == ["优秀", "不合格"]


def test_winsorise_by_hand() -> None:
    # COINr's own example: 1..10, 30, 100 — skew 3.06, kurt 9.74 fails; winsorising the 100 down
    # to the next-highest value (30) gives skew 1.71 < 2: passes after one point.
    values = [float(v) for v in range(1, 11)] + [30.0, 100.0]
    data = pd.DataFrame({"x": values}, index=[f"u{i}" for i in range(12)])
    result = build_composite(data, flat(["x"]), CompositeConfig(treat=True))
    details = result.treat_details.loc["x"]
    assert details["treatment"] == "winsorise"
    assert details["n_winsorised"] == 1
    assert details["winsorised_units"] == "u11"
    assert details["skew_before"] == pytest.approx(3.0632410, abs=1e-6)
    assert details["skew_after"] == pytest.approx(1.7120381, abs=1e-6)
    assert result.stages["treated"]["x"].tolist() == values[:-1] + [30.0]


def test_log_fallback_uses_original_values() -> None:
    # 1..20, 500, 1000 with one point allowed: 1000 → 500 still fails (skew 3.05, kurt 8.05),
    # so the original values are logged: log(x − 1 + 0.01·(1000 − 1)).
    values = np.array([*range(1, 21), 500, 1000], dtype=float)
    data = pd.DataFrame({"x": values}, index=[f"u{i}" for i in range(len(values))])
    result = build_composite(data, flat(["x"]), CompositeConfig(treat=True, winsor_max_points=1))
    assert result.treat_details.loc["x", "treatment"] == "log"
    np.testing.assert_allclose(result.stages["treated"]["x"], np.log(values - 1 + 9.99))
    no_log = build_composite(
        data, flat(["x"]), CompositeConfig(treat=True, winsor_max_points=1, log_fallback=False)
    )
    assert no_log.stages["treated"]["x"].max() == 500.0


def test_group_mean_and_median_imputation_by_hand() -> None:
    data = pd.DataFrame(
        {"x": [1.0, 3.0, np.nan, 10.0, np.nan, 2.0]}, index=["a1", "a2", "a3", "b1", "b2", "c1"]
    )
    groups = pd.Series({"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "C"})
    result = build_composite(data, flat(["x"]), CompositeConfig(impute="group_mean"), groups=groups)
    # a3 ← mean(1, 3) = 2; b2 ← 10
    assert result.stages["imputed"]["x"].tolist() == [1, 3, 2, 10, 10, 2]
    # overall mean of 1, 3, 10, 2 = 4; median = 2.5
    mean = build_composite(data, flat(["x"]), CompositeConfig(impute="mean"))
    assert mean.stages["imputed"].loc[["a3", "b2"], "x"].tolist() == [4, 4]
    median = build_composite(data, flat(["x"]), CompositeConfig(impute="median"))
    assert median.stages["imputed"].loc[["a3", "b2"], "x"].tolist() == [2.5, 2.5]
    with pytest.raises(CompositeError) as err:
        build_composite(data, flat(["x"]), CompositeConfig(impute="group_mean"))
    assert err.value.issues[0].code == "composite.E_NO_GROUPS"


def test_carry_forward_takes_latest_earlier_value() -> None:
    data = pd.DataFrame({"x": [np.nan, np.nan, 5.0], "y": [1.0, np.nan, 2.0]}, index=UNITS)
    panel = {
        2022: pd.DataFrame({"x": [7.0, 8.0, 9.0], "y": [1.0, 4.0, 1.0]}, index=UNITS),
        2023: pd.DataFrame({"x": [np.nan, 6.0, 9.0], "y": [1.0, np.nan, 1.0]}, index=UNITS),
    }
    tree = flat(["x", "y"])
    result = build_composite(data, tree, CompositeConfig(impute="carry_forward"), panel=panel)
    # A.x: 2023 missing → 2022's 7; B.x: 2023's 6; B.y: 2023 missing → 2022's 4
    imputed = result.stages["imputed"]
    assert imputed["x"].tolist() == [7, 6, 5]
    assert imputed["y"].tolist() == [1, 4, 2]
    long = pd.concat([f.assign(period=p) for p, f in panel.items()])
    again = build_composite(data, tree, CompositeConfig(impute="carry_forward"), panel=long)
    pd.testing.assert_frame_equal(again.stages["imputed"], imputed)


def test_denominate_and_screen() -> None:
    data = pd.DataFrame(
        {"cases": [10.0, 30.0, 5.0, np.nan], "rate": [0.5, np.nan, 0.7, np.nan]},
        index=["a", "b", "c", "d"],
    )
    dens = pd.DataFrame({"insured": [100.0, 300.0, 0.0, 50.0]}, index=["a", "b", "c", "d"])
    cfg = CompositeConfig(denominate=True, screen_min_coverage=0.5)
    result = build_composite(
        data, flat(["cases", "rate"]), cfg, denominators=dens, denominator_map={"cases": "insured"}
    )
    # a 0.1, b 0.1; c has a zero denominator → missing, not infinity
    den = result.stages["denominated"]["cases"]
    assert den.loc[["a", "b"]].tolist() == [0.1, 0.1] and math.isnan(den.loc["c"])
    # coverage: a 1, b .5, c .5, d 0 → d dropped
    assert list(result.scores.index) == ["a", "b", "c"]
    screen_step = next(s for s in result.steps if s["step"] == "screen")
    assert screen_step["dropped_units"] == ["d"]
    with pytest.raises(CompositeError) as err:
        build_composite(data, flat(["cases", "rate"]), CompositeConfig(denominate=True))
    assert err.value.issues[0].code == "composite.E_NO_DENOMINATORS"


def test_hierarchy_collects_every_issue() -> None:
    nodes = (
        Node("IDX", None, 2),
        Node("x", "IDX", 1, direction=0),
        Node("x", "IDX", 1),
        Node("y", "NOPE", 1, weight=-1),
        Node("P", "IDX", 2),
    )
    with pytest.raises(CompositeError) as err:
        Hierarchy(nodes)
    codes = {i.code for i in err.value.issues}
    assert codes >= {
        "composite.E_BAD_DIRECTION",
        "composite.E_DUPLICATE_CODE",
        "composite.E_UNKNOWN_PARENT",
        "composite.E_BAD_WEIGHT",
        "composite.E_NO_CHILDREN",
        "composite.E_PARENT_LEVEL",
    }


def test_hierarchy_from_frame_and_back() -> None:
    frame = pd.DataFrame(
        {
            "code": ["IDX", "x", "y"],
            "parent": [None, "IDX", "IDX"],
            "level": [2, 1, 1],
            "weight": [1, 2, np.nan],
            "direction": [np.nan, 1, -1],
            "name": ["总指数", "甲", "乙"],
            "target": [np.nan, 0.9, np.nan],
            "goalpost_low": [np.nan, 0.0, np.nan],
            "goalpost_high": [np.nan, 1.0, np.nan],
        }
    )
    tree = Hierarchy.from_frame(frame)
    assert tree.indicators == ("x", "y") and tree.top == "IDX" and tree.levels == (1, 2)
    assert tree.node("x") == Node("x", "IDX", 1, 2.0, 1, "甲", 0.9, (0.0, 1.0))
    assert tree.node("y").weight == 1.0 and tree.node("y").direction == -1
    assert Hierarchy.from_frame(tree.to_frame()) == tree


def test_config_rejects_unknown_methods() -> None:
    with pytest.raises(CompositeError) as err:
        CompositeConfig(normalise="magic", aggregate={2: "median"}, norm_low=5, norm_high=1)
    assert [i.code for i in err.value.issues].count("composite.E_BAD_CHOICE") == 2
    assert "composite.E_BAD_RANGE" in {i.code for i in err.value.issues}


def test_result_renders_and_serialises() -> None:
    result = build_composite(HAND, HAND_TREE)
    table = result.table()
    assert list(table.columns) == ["unit", "node", "level", "score", "rank", "grade"]
    assert len(table) == 3 * 3  # IDX, x, y for three units
    page = result._repr_html_()
    assert "<table" in page and "排名" in page and "IDX" in page
    data = json.loads(result.to_json())
    assert data["index_code"] == "IDX"
    assert data["scores"]["B"]["IDX"] == pytest.approx(62.5)  # (25 + 100)/2
    assert data["config"]["grade_bands"][-1] == ["-inf", "不合格"]
    assert [s["step"] for s in result.steps] == [
        "raw",
        "denominate",
        "screen",
        "impute",
        "treat",
        "normalise",
        "weight",
        "aggregate",
        "rank",
        "grade",
    ]
    assert set(result.stages) == {
        "raw",
        "denominated",
        "screened",
        "imputed",
        "treated",
        "normalised",
        "aggregated",
    }


# --------------------------------------------------------------------------- properties

values = st.integers(min_value=-1000, max_value=1000).map(float)


@st.composite
def tables(draw, min_units=3, max_units=8, min_ind=2, max_ind=5, allow_nan=False):
    n_units = draw(st.integers(min_units, max_units))
    n_ind = draw(st.integers(min_ind, max_ind))
    cells = st.one_of(values, st.just(np.nan)) if allow_nan else values
    cols = {
        f"i{j}": draw(st.lists(cells, min_size=n_units, max_size=n_units)) for j in range(n_ind)
    }
    return pd.DataFrame(cols, index=[f"u{k}" for k in range(n_units)])


def pair_signs(v: np.ndarray) -> np.ndarray:
    return np.sign(v[:, None] - v[None, :])


@PROPS
@given(
    x=st.lists(values, min_size=3, max_size=10),
    method=st.sampled_from(["minmax", "zscore", "rank", "percentile_rank", "borda", "dist_max"]),
)
def test_flipping_direction_reverses_order(x: list[float], method: str) -> None:
    data = pd.DataFrame({"x": x, "y": [1.0] * len(x)}, index=[f"u{k}" for k in range(len(x))])
    cfg = CompositeConfig(normalise=method)
    up = build_composite(data, flat(["x", "y"]), cfg).stages["normalised"]["x"].to_numpy()
    down = build_composite(data, flat(["x", "y"], directions={"x": -1}), cfg)
    down = down.stages["normalised"]["x"].to_numpy()
    if np.isnan(up).all():  # constant column: no order to reverse
        assert np.isnan(down).all()
        return
    assert (pair_signs(up) == -pair_signs(down)).all()


@PROPS
@given(data=tables(allow_nan=True), constant=values)
def test_constant_indicator_leaves_ranks_unchanged(data: pd.DataFrame, constant: float) -> None:
    tree = two_level(list(data.columns))
    base = build_composite(data.assign(EXTRA=1.0), tree)
    tree_c = Hierarchy(tree.nodes + (Node("CONST", "P1", 1, weight=3.0),))
    with_const = build_composite(data.assign(EXTRA=1.0, CONST=constant), tree_c)
    pd.testing.assert_series_equal(base.ranks["IDX"], with_const.ranks["IDX"])


@PROPS
@given(
    data=tables(allow_nan=True),
    power=st.integers(-4, 6),
    c=st.floats(0.01, 100),
    method=st.sampled_from(["arithmetic", "geometric", "harmonic", "genmean"]),
)
def test_scaling_all_weights_changes_nothing(data, power, c, method) -> None:
    tree = flat(list(data.columns), weights={col: 1.0 + i for i, col in enumerate(data.columns)})
    cfg = CompositeConfig(norm_low=1.0, aggregate=method)
    base = build_composite(data, tree, cfg)
    for factor, exact in ((2.0**power, True), (c, False)):
        scaled = CompositeConfig(
            norm_low=1.0, aggregate=method, weights={n.code: n.weight * factor for n in tree.nodes}
        )
        other = build_composite(data, tree, scaled)
        np.testing.assert_allclose(other.scores["IDX"], base.scores["IDX"], rtol=1e-12)
        if exact:  # a power of two scales weights exactly, so even ties stay ties
            pd.testing.assert_series_equal(other.ranks["IDX"], base.ranks["IDX"])


@PROPS
@given(data=tables(allow_nan=True), bounds=st.tuples(st.floats(-100, 100), st.floats(0.5, 200)))
def test_minmax_arithmetic_scores_stay_in_range(data: pd.DataFrame, bounds) -> None:
    low, width = bounds
    cfg = CompositeConfig(norm_low=low, norm_high=low + width)
    result = build_composite(data.assign(EXTRA=0.0), two_level(list(data.columns)), cfg)
    everything = result.stages["aggregated"].to_numpy()
    present = everything[~np.isnan(everything)]
    tol = 1e-9 * (abs(low) + width)
    assert (present >= low - tol).all() and (present <= low + width + tol).all()


@PROPS
@given(data=tables(allow_nan=True))
def test_arithmetic_equals_weighted_mean_of_available_children(data: pd.DataFrame) -> None:
    weights = {col: 1.0 + 2 * i for i, col in enumerate(data.columns)}
    result = build_composite(data, flat(list(data.columns), weights=weights))
    norm = result.stages["normalised"]
    for unit in norm.index:
        pairs = [
            (weights[c], norm.at[unit, c]) for c in norm.columns if not math.isnan(norm.at[unit, c])
        ]
        got = result.scores.at[unit, "IDX"]
        if not pairs:
            assert math.isnan(got)
        else:
            want = sum(w * v for w, v in pairs) / sum(w for w, _ in pairs)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-9)


@PROPS
@given(data=tables())
def test_mean_inequality_harmonic_geometric_arithmetic(data: pd.DataFrame) -> None:
    tree = flat(list(data.columns))
    scores = {
        m: build_composite(data, tree, CompositeConfig(norm_low=1.0, aggregate=m)).scores["IDX"]
        for m in ("harmonic", "geometric", "arithmetic")
    }
    ok = scores["arithmetic"].notna()
    assert (scores["harmonic"][ok] <= scores["geometric"][ok] * (1 + 1e-12)).all()
    assert (scores["geometric"][ok] <= scores["arithmetic"][ok] * (1 + 1e-12)).all()


@PROPS
@given(
    st.sampled_from(["minmax", "dist_max", "goalposts"]),
    st.lists(
        st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=4, max_size=4),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.sampled_from([1, -1]), min_size=6, max_size=6),
    st.floats(-50, 50),
    st.floats(1, 100),
)
def test_whole_frame_normalisation_equals_the_rule_column_by_column(
    method, cols, dirs, g_lo, width
):
    """Normalisers work on all columns at once; cell by cell they must equal the rule as
    written for one indicator (pandas, skipping missing values), blank and constant columns
    included."""
    codes = [f"i{k}" for k in range(len(cols))]
    data = pd.DataFrame(
        {c: [np.nan if v is None else v for v in col] for c, col in zip(codes, cols)},
        index=list("ABCD"),
    )
    posts = {c: (g_lo, g_lo + width) for c in codes}
    tree = flat(codes, directions=dict(zip(codes, dirs)), goalposts=posts)
    cfg = CompositeConfig(normalise=method, norm_low=-1.0, norm_high=7.0)
    got, _ = normalise(data, tree, cfg)

    def rule(x: pd.Series, d: int, lo: float, hi: float) -> pd.Series:
        if method == "goalposts":
            y = (x - lo) / (hi - lo) if d == 1 else (hi - x) / (hi - lo)
            return y.clip(0.0, 1.0)
        xd = x * d
        span = xd.max() - xd.min()
        return (xd - xd.min()) / span if span > 0 else xd * np.nan

    want = pd.DataFrame(
        {c: -1.0 + 8.0 * rule(data[c], d, *posts[c]) for c, d in zip(codes, dirs)},
        index=data.index,
    ).astype(float)
    pd.testing.assert_frame_equal(got, want, rtol=1e-12, atol=1e-9)


def test_normalising_no_units_is_no_error() -> None:
    """A city with no county rows yet (an empty warehouse): nothing to normalise, no crash."""
    from workbench.composite import normalise

    tree = flat(["x", "y"], goalposts={"x": (0.0, 1.0), "y": (0.0, 1.0)})
    empty = pd.DataFrame({"x": [], "y": []}, dtype=float)
    for method in ("minmax", "dist_max", "goalposts"):
        got, blank = normalise(empty, tree, CompositeConfig(normalise=method))
        assert got.shape == (0, 2) and blank == []
