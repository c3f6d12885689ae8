"""A hierarchy's `method:` in YAML: every catalogue option settable, every mistake refused with
its file and line (no key silently ignored), and the options reaching the engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import scoring
from workbench.composite_methods import OPTIONS, check_method
from workbench.declarations import DeclarationError, load_set

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_METHOD = "    method: {normalise: minmax, aggregate: arithmetic, impute: none}\n"


def with_method(tmp_path: Path, block: str, weights: str = "equal") -> tuple[Path, int]:
    """A copy of the shipped sets whose first no_fraud_city hierarchy has `block` as method;
    returns the folder and the file line of the block's first key."""
    folder = tmp_path / "indicators"
    shutil.copytree(ROOT / "indicators", folder)
    path = folder / "no_fraud_city.yaml"
    text = path.read_text(encoding="utf-8")
    assert SHIPPED_METHOD in text
    lines = "".join(f"      {line}\n" for line in block.strip("\n").splitlines())
    text = text.replace(SHIPPED_METHOD, "    method:\n" + lines, 1)
    text = text.replace("    weights: equal\n", f"    weights: {weights}\n", 1)
    path.write_text(text, encoding="utf-8")
    first = text.splitlines().index("    method:") + 2
    return folder, first


def issues(folder: Path) -> list[tuple[str, str, int | None]]:
    with pytest.raises(DeclarationError) as err:
        load_set("no_fraud_city", [folder])
    return [(i.code, Path(i.file).name, i.line) for i in err.value.issues if i.level == "error"]


@pytest.mark.parametrize(
    "block, code, offset",
    [
        # a typo of target_mode: refused (it used to warn and apply the default)
        ("normalise: dist_target\ntarget_mod: min", "E_UNKNOWN_METHOD_KEY", 1),
        # an option the chosen aggregator does not read
        ("aggregate: arithmetic\ngenmean_p: 3", "E_METHOD_OPTION_NOT_USED", 1),
        ("normalise: magic", "E_BAD_METHOD_VALUE", 0),
        ("normalise: zscore\nzscore_mean_sd: [50, -1]", "E_BAD_METHOD_VALUE", 1),
        ("impute: group_mean\nimpute_group: 7", "E_BAD_METHOD_VALUE", 1),
        ("screen_min_coverage: 2", "E_BAD_METHOD_VALUE", 0),
    ],
)
def test_method_mistakes_are_refused_with_file_and_line(
    tmp_path: Path, block: str, code: str, offset: int
) -> None:
    folder, first = with_method(tmp_path, block)
    assert (code, "no_fraud_city.yaml", first + offset) in issues(folder)


def test_every_catalogue_option_is_a_method_key() -> None:
    """Each option alone, with a method that reads it, passes the checker."""
    readers = {
        "zscore_mean_sd": {"normalise": "zscore"},
        "target_mode": {"normalise": "dist_target"},
        "cap_max": {"normalise": "dist_target"},
        "ties": {"normalise": "rank"},
        "goalposts_truncate": {"normalise": "goalposts"},
        "reference_unit": {"normalise": "dist_ref"},
        "genmean_p": {"aggregate": "genmean"},
        "nonpositive": {"aggregate": "geometric"},
        "impute_group": {"impute": "group_mean"},
        "impute_level": {"impute": "parent_mean"},
        "carry_forward_max_periods": {"impute": "carry_forward"},
        **{k: {"treat": True} for k in ("winsor_max_points", "skew_threshold")},
        **{k: {"treat": True} for k in ("kurt_threshold", "log_fallback")},
    }
    for name, option in OPTIONS.items():
        value = option.default
        if value is None:
            value = {"text": "x", "integer": 2, "number": 1.0}[option.kind]
        spec = {**readers.get(name, {}), name: list(value) if isinstance(value, tuple) else value}
        assert check_method(spec) == [], name


def test_declared_options_reach_the_engine(tmp_path: Path) -> None:
    block = """
normalise: n_prank
ties: average
aggregate: {2: genmean, 3: arithmetic}
genmean_p: 0.5
aggregate_min_coverage: 0.5
impute: median
screen_before_impute: false
treat: true
winsor_max_points: 3
"""
    folder, _ = with_method(tmp_path, block)
    iset = load_set("no_fraud_city", [folder])
    cfg = scoring.config(iset, "by_subject")
    assert cfg.normalise == "n_prank" and cfg.ties == "average"
    assert cfg.norm_low is None  # COINr's own range [0, 1] applies
    assert cfg.aggregate == {2: "genmean", 3: "arithmetic"} and cfg.genmean_p == 0.5
    assert cfg.aggregate_min_coverage == 0.5 and cfg.impute == "median"
    assert cfg.screen_before_impute is False and cfg.treat and cfg.winsor_max_points == 3
    tree = scoring.hierarchy(iset, "by_subject")
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        rng.uniform(1, 5, (6, len(tree.indicators))),
        index=[f"33040{i}" for i in range(6)],
        columns=list(tree.indicators),
    )
    result = scoring.score(None, iset, "by_subject", data=data)
    normalised = result.result.stages["normalised"]
    assert normalised.min().min() == 0 and normalised.max().max() == 1


def test_denominate_divides_by_another_declared_indicator(tmp_path: Path) -> None:
    block = """
denominate:
  agency_cases: {indicator: contribution_rate, scale: 10}
"""
    folder, _ = with_method(tmp_path, block)
    iset = load_set("no_fraud_city", [folder])
    assert scoring.denominators(iset, "by_subject") == {
        "agency_cases": ("contribution_rate/10", "contribution_rate", 10.0)
    }
    tree = scoring.hierarchy(iset, "by_subject")
    data = pd.DataFrame(
        {c: [1.0, 2.0, 3.0] for c in tree.indicators}, index=["330401", "330402", "330403"]
    )
    data["agency_cases"] = [2.0, 4.0, 9.0]
    data["contribution_rate/10"] = [0.5, 0.5, 1.5]  # contribution_rate 5, 5, 15 over 10
    result = scoring.score(None, iset, "by_subject", data=data).result
    assert result.stages["denominated"]["agency_cases"].tolist() == [4.0, 8.0, 6.0]


def test_denominator_must_be_a_declared_indicator(tmp_path: Path) -> None:
    folder, first = with_method(tmp_path, "denominate:\n  agency_cases: no_such_indicator")
    assert ("E_UNKNOWN_INDICATOR", "no_fraud_city.yaml", first + 1) in issues(folder)


def test_pca_weights_from_yaml(tmp_path: Path) -> None:
    folder, _ = with_method(tmp_path, "normalise: minmax", weights="pca")
    iset = load_set("no_fraud_city", [folder])
    tree = scoring.hierarchy(iset, "by_subject")
    rng = np.random.default_rng(7)
    base = rng.normal(size=(12, 1))
    data = pd.DataFrame(
        base
        + rng.normal(
            scale=[0.1, 1.0, 0.2, 2.0, 0.3, 0.5, 1.5, 0.4][: len(tree.indicators)],
            size=(12, len(tree.indicators)),
        ),
        index=[f"3304{i:02d}" for i in range(12)],
        columns=list(tree.indicators),
    )
    result = scoring.score(None, iset, "by_subject", data=data).result
    weights = {s["step"]: s for s in result.steps}["weight"]["weights"]
    kids = list(tree.children("subject_institution"))
    assert sum(weights[k] for k in kids) == pytest.approx(1.0)
    assert len({round(weights[k], 6) for k in tree.indicators}) > 1  # not equal weights


def test_group_imputation_needs_a_declared_grouping(tmp_path: Path) -> None:
    """It used to pass the loader and fail at compute time ("needs groups")."""
    folder, first = with_method(tmp_path, "impute: group_mean")
    assert ("E_BAD_METHOD_VALUE", "no_fraud_city.yaml", first) in issues(folder)
    folder, first = with_method(tmp_path / "b", "impute: group_mean\nimpute_group: nothing_here")
    assert ("E_UNKNOWN_INDICATOR", "no_fraud_city.yaml", first + 1) in issues(folder)


def test_group_imputation_from_yaml_fills_with_the_group_mean(tmp_path: Path) -> None:
    block = "impute: group_mean\nimpute_group: contribution_rate"
    folder, _ = with_method(tmp_path, block)
    iset = load_set("no_fraud_city", [folder])
    assert scoring.group_column(iset, "by_subject") == (
        "group:contribution_rate",
        "contribution_rate",
    )
    tree = scoring.hierarchy(iset, "by_subject")
    units = ["330401", "330402", "330403", "330404"]
    data = pd.DataFrame({c: [1.0, 3.0, 10.0, 20.0] for c in tree.indicators}, index=units)
    data.loc["330402", "agency_cases"] = np.nan
    data["group:contribution_rate"] = [1.0, 1.0, 2.0, 1.0]  # 330402's group: 330401 and 330404
    result = scoring.score(None, iset, "by_subject", data=data).result
    assert result.stages["imputed"].loc["330402", "agency_cases"] == pytest.approx(10.5)
