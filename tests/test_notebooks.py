"""Analysts in JupyterLab (issue 12 item 6): every shipped notebook runs with its kernel in
`notebooks/` as JupyterLab starts it, finds the warehouse from the project root, says in one
Chinese line when there is none; `workbench notebook` writes working copies and never touches
the shipped files; the what-if re-ranking matches hand-computed examples."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from workbench import cli, whatif
from workbench.commands import notebook as nbcmd
from workbench.composite import CompositeConfig, Hierarchy, Node
from workbench.config import (
    DEFAULT_WAREHOUSE,
    WarehouseNotFound,
    notebook_warehouse,
    project_root,
    warehouse_path,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# small and quick, but the same code paths as the defaults
FAST = {"sensitivity": {"samples": 40}, "what_if": {"samples": 20}}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_warehouse() -> Path:
    """The demo city (4 counties) in a warehouse under the project root (tests/artifacts is
    ignored by git), so a path relative to the root can name it."""
    from workbench.demo import generate_city
    from workbench.warehouse import Warehouse

    folder = ROOT / "tests" / "artifacts" / "notebooks"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / "demo.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(generate_city(4, seed=20251).frames, period="2025-12")
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("WORKBENCH_WAREHOUSE", "WORKBENCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def execute(path: Path, cwd: Path, parameters: dict | None = None) -> nbformat.NotebookNode:
    import papermill

    return papermill.execute_notebook(
        str(path),
        None,
        parameters=parameters or {},
        cwd=str(cwd),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
    )


def errors(nb: nbformat.NotebookNode) -> list[dict]:
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


# ----------------------------------------------------------------------------- shipped notebooks
def test_the_shipped_notebooks_are_found() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"county_assessment", "city_overview", "sensitivity", "what_if"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shipped_notebook_shape(path: Path) -> None:
    """Stored without outputs; a first markdown cell in Chinese that names the parameters and
    the working-copy command, left out of published reports; a papermill parameters cell."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert not first.source.lstrip().startswith("<!--")
    assert len(CHINESE.findall(first.source)) > 40
    assert "remove-cell" in first.metadata.get("tags", [])
    assert f"workbench notebook {path.stem}" in first.source
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].cell_type == "code"
    for name in nbcmd.parameter_names(path):
        assert f"`{name}`" in first.source, name
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shipped_notebook_runs_in_notebooks_folder(
    path: Path, demo_warehouse: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """As JupyterLab runs it: the kernel's working directory is notebooks/, and the warehouse
    is named relative to the project root (the way `workbench` finds it when run there)."""
    clean_env.setenv("WORKBENCH_WAREHOUSE", str(demo_warehouse.relative_to(ROOT)))
    before = digest(path)
    nb = execute(path, ROOT / "notebooks", FAST.get(path.stem))
    assert errors(nb) == []
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert shown, "the notebook showed nothing"
    assert digest(path) == before


@pytest.mark.slow
def test_sensitivity_tables_name_the_indicators_and_show_dashes(
    demo_warehouse: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """Run as docs/分析人员指南.md says (papermill): the statistics and PCA tables name each
    indicator as the set declares it (基金追回率, not fund_recovery_rate alone) and a missing
    value reads —, never NaN."""
    from workbench.declarations import load_set

    clean_env.setenv("WORKBENCH_WAREHOUSE", str(demo_warehouse.relative_to(ROOT)))
    nb = execute(ROOT / "notebooks" / "sensitivity.ipynb", ROOT / "notebooks", FAST["sensitivity"])
    assert errors(nb) == []
    shown = {
        c.source: o["data"]["text/html"]
        for c in nb.cells
        if c.cell_type == "code" and "tables" in c.source
        for o in c.outputs
        if "text/html" in o.get("data", {})
    }
    tables = list(shown.values())
    assert len(tables) >= 6, len(tables)  # 指标统计, 2 correlations, α, PCA variance, loadings
    stats = next(h for src, h in shown.items() if '"stats"' in src)
    declared = load_set("campaign_2025")
    for code in ("fund_recovery_rate", "case_detection_rate_change"):
        assert f"<td>{declared.indicators[code].name}</td>" in stats, code
    for html in tables:
        assert "NaN" not in html and ">nan<" not in html.lower() and "None" not in html


@pytest.mark.slow
def test_missing_warehouse_is_one_chinese_line(
    demo_warehouse: Path, clean_env: pytest.MonkeyPatch
) -> None:
    import papermill

    clean_env.setenv("WORKBENCH_WAREHOUSE", "tests/artifacts/notebooks/nowhere.duckdb")
    with pytest.raises(papermill.PapermillExecutionError) as err:
        execute(ROOT / "notebooks" / "county_assessment.ipynb", ROOT / "notebooks")
    lines = [line for line in err.value.traceback if line.strip()]
    assert len(lines) == 1, lines
    assert "python3 dev.py demo" in lines[0] and "workbench ingest" in lines[0]
    assert str(ROOT / "tests/artifacts/notebooks/nowhere.duckdb") in lines[0]
    assert "Traceback" not in lines[0] and CHINESE.search(lines[0])


# ----------------------------------------------------------------------------- resolution
def test_notebooks_resolve_from_the_project_root(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """The CLI's chain, anchored at the project root instead of the working directory."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean_env.chdir(root / "notebooks")
    assert warehouse_path() == DEFAULT_WAREHOUSE  # the CLI: relative to where it runs
    assert warehouse_path(root=root) == root / "warehouse" / "workbench.duckdb"
    assert warehouse_path("x/wh.duckdb", root=root) == root / "x" / "wh.duckdb"
    assert warehouse_path("/abs/wh.duckdb", root=root) == Path("/abs/wh.duckdb")
    clean_env.setenv("WORKBENCH_WAREHOUSE", "data/wh.duckdb")
    assert warehouse_path(root=root) == root / "data" / "wh.duckdb"
    assert warehouse_path("y.duckdb", root=root) == root / "y.duckdb"  # a flag still wins
    clean_env.delenv("WORKBENCH_WAREHOUSE")
    (root / "workbench.toml").write_text('[warehouse]\npath = "db/city.duckdb"\n', "utf-8")
    clean_env.chdir(elsewhere)  # a working copy outside the project still finds its toml
    assert warehouse_path() == DEFAULT_WAREHOUSE
    assert warehouse_path(root=root) == root.resolve() / "db" / "city.duckdb"
    (elsewhere / "workbench.toml").write_text('[warehouse]\npath = "mine.duckdb"\n', "utf-8")
    assert warehouse_path(root=root) == elsewhere.resolve() / "mine.duckdb"  # nearer wins


def test_notebook_warehouse_missing_says_what_to_run(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "none.duckdb"
    with pytest.raises(WarehouseNotFound) as err:
        notebook_warehouse(missing)
    rendered = err.value._render_traceback_()
    assert len(rendered) == 1 and "\n" not in rendered[0]
    assert str(missing) in rendered[0] and "python3 dev.py demo" in rendered[0]
    assert isinstance(err.value, FileNotFoundError) and err.value.filename == str(missing)
    missing.write_bytes(b"")
    assert notebook_warehouse(missing) == missing
    assert notebook_warehouse(str(missing)) == missing


def test_published_reports_leave_out_the_analyst_note() -> None:
    from workbench.publish import _report_view

    nb = nbformat.read(ROOT / "notebooks" / "county_assessment.ipynb", as_version=4)
    view = _report_view(nb)
    assert nb.cells[0] not in view.cells
    assert all("remove-cell" not in c.metadata.get("tags", []) for c in view.cells)
    assert any(c.cell_type == "markdown" and "一、" in c.source for c in view.cells)


# ----------------------------------------------------------------------------- working copies
def test_working_copy_sets_parameters_and_leaves_the_shipped_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = ROOT / "notebooks" / "county_assessment.ipynb"
    before = digest(shipped)
    argv = ["notebook", "county_assessment", "--county", "990101", "--period", "2025-09"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    copy = tmp_path / "county_assessment_990101_2025-09.ipynb"
    assert copy.is_file() and str(copy) in out
    assert "jupyter lab" in out.replace("'", "") and nbcmd.HOOK in out
    assert digest(shipped) == before

    nb = nbformat.read(copy, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert not [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    values: dict = {}
    exec(cell.source, values)  # noqa: S102 - the cell we just wrote
    assert values["county"] == "990101" and values["period"] == "2025-09"
    assert values["warehouse"] is None and values["indicator_set"] == "campaign_2025"
    assert "county = '990101'  # 区划代码或区县名称" in cell.source  # the hint stays
    assert nb.metadata["workbench"]["copied_from"] == "notebooks/county_assessment.ipynb"

    first = digest(copy)
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0  # never over an analyst's copy
    assert (tmp_path / "county_assessment_990101_2025-09_2.ipynb").is_file()
    assert digest(copy) == first


def test_working_copy_other_parameters(tmp_path: Path) -> None:
    copy = nbcmd.working_copy(
        "what_if.ipynb", {"hierarchy": "campaign_progress", "samples": 0}, tmp_path
    )
    assert copy.name == "what_if.ipynb"
    cell = next(
        c
        for c in nbformat.read(copy, as_version=4).cells
        if "parameters" in c.metadata.get("tags", [])
    )
    values: dict = {}
    exec(cell.source, values)  # noqa: S102
    assert values["hierarchy"] == "campaign_progress" and values["samples"] == 0


@pytest.mark.parametrize(
    "argv, words",
    [
        (["notebook", "nosuch"], ["nosuch", "county_assessment"]),
        (["notebook", "city_overview", "--county", "990101"], ["county", "period"]),
        (["notebook", "sensitivity", "-p", "colour", "red"], ["colour", "samples"]),
    ],
)
def test_working_copy_refuses_what_does_not_fit(
    argv: list[str], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：") and all(w in err for w in words), err
    assert not list(tmp_path.iterdir())


def test_notebook_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["notebook"]) == 0
    out = capsys.readouterr().out
    for path in NOTEBOOKS:
        assert f"{path.stem}：" in out
    assert "what_if：假设分析" in out


def test_set_parameters_keeps_comments_and_other_lines() -> None:
    source = (
        'county = None  # 区县 # 含井号\nperiod = "latest"\nweights = {\n    "a": 1,\n}  # 权重\n'
        "samples = 5"
    )
    out = nbcmd.set_parameters(source, {"county": "青山县", "weights": {"b": 2.0}})
    assert out.splitlines() == [
        "county = '青山县'  # 区县 # 含井号",
        'period = "latest"',
        "weights = {'b': 2.0}  # 权重",
        "samples = 5",
    ]


def test_shipped_notebooks_cannot_be_saved_from_jupyterlab(tmp_path: Path) -> None:
    """The pre-save hook the printed `jupyter lab` command sets: a shipped notebook is refused
    with a Chinese reason (403); a working copy saves as usual."""
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from tornado.web import HTTPError

    model = {"type": "notebook", "format": "json", "content": nbformat.v4.new_notebook()}
    shipped = FileContentsManager(root_dir=str(ROOT), pre_save_hook=nbcmd.HOOK)
    probe = ROOT / "notebooks" / "_save_probe.ipynb"
    try:
        with pytest.raises(HTTPError) as err:
            shipped.save(dict(model), "notebooks/_save_probe.ipynb")
        assert err.value.status_code == 403
        assert "workbench notebook _save_probe" in err.value.log_message  # the dialog's text
        assert not probe.exists()
    finally:
        probe.unlink(missing_ok=True)
    copies = FileContentsManager(root_dir=str(tmp_path), pre_save_hook=nbcmd.HOOK)
    copies.save(dict(model), "county_assessment_990101.ipynb")
    assert (tmp_path / "county_assessment_990101.ipynb").is_file()
    assert not nbcmd.is_shipped(ROOT / "notebooks" / "x.txt")
    assert nbcmd.is_shipped(ROOT / "dashboards" / "cockpit.ipynb")


@pytest.mark.slow
def test_a_working_copy_runs_where_it_was_written(
    tmp_path: Path, demo_warehouse: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """A copy outside notebooks/ (its kernel runs in the copy's folder) finds the same
    warehouse, and shows the county it was made for."""
    from workbench.demo import generate_city

    clean_env.setenv("WORKBENCH_WAREHOUSE", str(demo_warehouse.relative_to(ROOT)))
    code, name = generate_city(4, seed=20251).counties[1]
    copy = nbcmd.working_copy("county_assessment", {"county": code, "period": "2025-09"}, tmp_path)
    nb = execute(copy, tmp_path)
    assert errors(nb) == []
    # the report's header: the first HTML output of the notebook (a kernel may also emit
    # stream outputs first, e.g. a warning, so the cell's first output is not always it)
    header = next(
        o["data"]["text/html"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    )
    assert name in header and "2025年9月" in header


# ----------------------------------------------------------------------------- what if
@pytest.fixture()
def small() -> tuple[pd.DataFrame, Hierarchy]:
    """3 counties × 2 indicators, both higher-is-better, targets 10 with goalposts [0, 10]."""
    data = pd.DataFrame({"x": [10.0, 0.0, 5.0], "y": [4.0, 10.0, 0.0]}, index=["A", "B", "C"])
    tree = Hierarchy(
        (
            Node("IDX", None, 2, name="指数"),
            Node("x", "IDX", 1, name="甲", target=10.0, goalposts=(0.0, 10.0)),
            Node("y", "IDX", 1, name="乙", target=10.0, goalposts=(0.0, 10.0)),
        )
    )
    return data, tree


def test_whatif_weight_changes_the_ranking_by_hand(small) -> None:
    """min-max: x → A 100, B 0, C 50; y → A 40, B 100, C 0.
    Equal weights: A 70, B 50, C 25 (A, B, C). Weight of y 3: A (100 + 3·40)/4 = 55,
    B (0 + 3·100)/4 = 75, C (50 + 0)/4 = 12.5 (B, A, C)."""
    data, tree = small
    cfg = CompositeConfig(normalise="minmax")
    base = whatif.rerank(data, tree, cfg)
    assert base["county_code"].tolist() == ["A", "B", "C"]
    assert base["score"].tolist() == pytest.approx([70.0, 50.0, 25.0])
    new = whatif.rerank(data, tree, cfg, whatif.Scenario(weights={"y": 3}), names={"A": "甲县"})
    assert new["county_code"].tolist() == ["B", "A", "C"]
    assert new["score"].tolist() == pytest.approx([75.0, 55.0, 12.5])
    assert new["rank"].tolist() == [1, 2, 3]
    assert new["base_rank"].tolist() == [2, 1, 3]
    assert new["rank_change"].tolist() == [1, -1, 0]
    assert new["county_name"].tolist() == ["B", "甲县", "C"]
    assert new["q05"].isna().all()  # no samples asked for


def test_whatif_target_moves_the_goalposts_by_hand(small) -> None:
    """Goalposts [0, target], truncated to [0, 1]. Target of x 20: x → A 50, B 0, C 25;
    y → A 40, B 100, C 0; so A 45, B 50, C 12.5 and B overtakes A. Target of y 5 instead:
    y → A 80, B 100 (capped), C 0; A 90, B 50, C 25."""
    data, tree = small
    cfg = CompositeConfig(normalise="goalposts")
    x20 = whatif.rerank(data, tree, cfg, whatif.Scenario(targets={"x": 20}))
    assert x20["county_code"].tolist() == ["B", "A", "C"]
    assert x20["score"].tolist() == pytest.approx([50.0, 45.0, 12.5])
    y5 = whatif.rerank(data, tree, cfg, whatif.Scenario(targets={"y": 5}))
    assert y5.set_index("county_code")["score"].to_dict() == pytest.approx(
        {"A": 90.0, "B": 50.0, "C": 25.0}
    )
    moved, _ = whatif.apply(tree, cfg, whatif.Scenario(targets={"x": 20}))
    assert moved.node("x").goalposts == (0.0, 20.0) and moved.node("x").target == 20.0
    assert tree.node("x").goalposts == (0.0, 10.0)  # the declared tree is left alone


def test_whatif_normalisation_and_goalposts_from_targets(small) -> None:
    """Picking goalposts for an index declared min-max derives [0, target] per indicator."""
    data, tree = small
    bare = Hierarchy(tuple(Node(n.code, n.parent, n.level, target=n.target) for n in tree.nodes))
    out = whatif.rerank(
        data, bare, CompositeConfig(normalise="minmax"), whatif.Scenario(normalise="goalposts")
    )
    assert out.set_index("county_code")["score"].to_dict() == pytest.approx(
        {"A": 70.0, "B": 50.0, "C": 25.0}
    )
    with pytest.raises(KeyError):
        whatif.apply(bare, CompositeConfig(), whatif.Scenario(weights={"z": 1}))


def test_whatif_intervals_hold_integer_ranks(small) -> None:
    data, tree = small
    out = whatif.rerank(data, tree, CompositeConfig(), whatif.Scenario(), samples=60, seed=1)
    for col in ("q05", "median_rank", "q95"):
        assert out[col].between(1, 3).all()
    assert (out["q05"] <= out["median_rank"]).all() and (out["median_rank"] <= out["q95"]).all()
    shown = whatif.display_frame(
        pd.DataFrame(
            {
                "county_name": ["甲", "乙", "丙"],
                "rank": [1, 2, 3],
                "base_rank": [1, 2, 3],
                "rank_change": [0, 0, 0],
                "score": [90.0, 80.0, 70.0],
                "base_score": [90.0, 80.0, 70.0],
                "q05": [2.0, 1.0, float("nan")],
                "q95": [2.0, 2.6, 3.0],
            }
        )
    )
    # the wording every face uses for an interval (presentation.ranks), never one of its own
    assert list(shown["排名区间（5%–95%）"]) == ["第2名", "第1–3名", "—"]


def test_whatif_panel_reranks_when_a_slider_moves(small) -> None:
    data, tree = small
    inputs = whatif.Inputs(
        "IDX", "指数", data, tree, CompositeConfig(normalise="minmax"), pd.Series(dtype=object)
    )
    panel = whatif.Panel(inputs, samples=0)
    assert panel.table["county_code"].tolist() == ["A", "B", "C"]
    panel.weights["y"].value = 3.0
    assert panel.table["county_code"].tolist() == ["B", "A", "C"]
    assert "乙 权重 1.0→3.0" in panel.output.value and "第" not in panel.output.value
    panel.normalise.value = "goalposts"  # goalposts [0, 10]: same scores as min-max here
    assert panel.table["score"].tolist() == pytest.approx([75.0, 55.0, 12.5])
    panel.targets["x"].value = 20.0  # x → 50, 0, 25: A 42.5, B 75, C 6.25
    assert panel.table["score"].tolist() == pytest.approx([75.0, 42.5, 6.25])
    panel.targets["x"].value = 0.0  # goalposts [0, 0]: refused in words, no traceback
    assert "无法按当前设置计算" in panel.output.value
    assert "甲 的上下限" in panel.output.value  # the indicator's name, not its code
    panel.reset()
    assert panel.scenario() == whatif.Scenario()
    assert panel.table["county_code"].tolist() == ["A", "B", "C"]


def test_whatif_without_changes_is_the_declared_index(demo_warehouse: Path) -> None:
    """The panel's starting point is the evaluation's own index (a peer result)."""
    from workbench.results import evaluate

    ev = evaluate(demo_warehouse, period="2025-09", uncertainty_samples=0)
    for code in ev.indicator_set.hierarchies:
        inputs = whatif.inputs(ev, code)
        table = inputs.rerank()
        declared = ev.index[code].summary()
        assert table["county_code"].tolist() == declared["county_code"].tolist()
        assert table["rank"].tolist() == declared["rank"].tolist()
        assert table["score"].to_numpy() == pytest.approx(declared["score"].to_numpy())
        assert (table["rank_change"] == 0).all()
        assert table["county_name"].tolist() == declared["county_name"].tolist()


def test_project_root_is_this_checkout() -> None:
    assert project_root() == ROOT
