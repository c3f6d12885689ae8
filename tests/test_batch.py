"""The monthly batch end to end, and every fault it must survive (issue 4).

The warehouse is the demo city's clean ledgers inserted straight into a Warehouse (the workbook
round trip through `workbench ingest` is tested by the ingest tests and is too slow to repeat
here). Runs go through the real CLI in a subprocess where exit codes, stderr and a SIGKILL of the
runner matter, and through the Python API elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import batch
from workbench.warehouse import Warehouse

ROOT = Path(__file__).resolve().parent.parent
FAULTS_NB = ROOT / "tests" / "notebooks" / "faults.ipynb"
PERIOD = "2025-09"
ID_RE = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
EXTERNAL_RE = re.compile(
    r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I
)


def warehouse_from_frames(
    path: Path, frames: dict[str, pd.DataFrame], period: str = "2025-12"
) -> Path:
    """Ledger frames as one live submission (what a clean ingest would leave)."""
    with Warehouse(path) as wh:
        wh.load_frames(frames, period=period)
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from workbench.demo import generate_city

    demo = generate_city(4, seed=20251)
    path = tmp_path_factory.mktemp("wh") / "demo.duckdb"
    warehouse_from_frames(path, demo.frames)
    codes = [c for c, _ in demo.counties]
    return {
        "warehouse": path,
        "codes": codes,
        "names": dict(demo.counties),
        "ids": set(demo.frames["cases"]["person_id"].dropna().astype(str)),
    }


def cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def states(run_dir: Path) -> dict[str, dict]:
    return batch.load_states(run_dir)


def assert_no_partial_files(run_dir: Path) -> None:
    assert not list(run_dir.rglob(".*.tmp")), "temp files left behind"
    for html in run_dir.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert text.rstrip().endswith("</html>"), f"half-written {html}"
    for nb in run_dir.rglob("*.ipynb"):
        json.loads(nb.read_text(encoding="utf-8"))


def assert_clean_reports(run_dir: Path, ids: set[str]) -> None:
    """No external URL in script/link tags, no unmasked ID-card number, anywhere."""
    pages = list(run_dir.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not EXTERNAL_RE.search(text), f"external URL in {page}"
        assert "cdn." not in text and "unpkg" not in text and "mathjax" not in text.lower()
        found = set(ID_RE.findall(text))
        assert not found, f"unmasked ID numbers in {page}: {sorted(found)[:3]}"
        assert not any(i in text for i in ids)
        # the masking never reaches a chart's numbers (a starred decimal blanks the chart)
        assert not re.search(r"[0-9]\.[0-9]*\*", text), f"starred decimal in {page}"


# ----------------------------------------------------------------------------- end to end
def test_batch_end_to_end_real_notebooks(city: dict, tmp_path: Path) -> None:
    codes = city["codes"][:3]
    res = cli(
        "run",
        "--period",
        PERIOD,
        "--warehouse",
        str(city["warehouse"]),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--run-id",
        "e2e",
        "--jobs",
        "2",
        "--no-progress",
        "--counties",
        *codes,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    run_dir = tmp_path / "runs" / "e2e"
    assert res.stdout.strip() == str(run_dir / "index.html")
    assert "成功 3 个，失败 0 个" in res.stderr

    st = states(run_dir)
    assert set(st) == {*codes, batch.CITY_UNIT}
    assert all(s["status"] == "ok" for s in st.values())
    for code in codes:
        html = (run_dir / "counties" / f"{code}.html").read_text(encoding="utf-8")
        assert city["names"][code] in html
        assert "截至2025年9月" in html  # the generated narrative
        assert "wb-card" in html  # KPI cards
        assert "Plotly.newPlot" in html  # charts, rendered by the page
        assert 'src="../assets/plotly.min.js"' in html  # one shared, local plotly.js
        assert "from workbench import report" not in html  # code hidden
        assert not re.search(r"<a\b[^>]*/>", html)  # no self-closing anchors
        nb = json.loads((run_dir / "counties" / f"{code}.ipynb").read_text(encoding="utf-8"))
        tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
        assert ["injected-parameters"] in tags  # papermill semantics
        assert nb["metadata"]["papermill"]["parameters"]["county"] == code
        counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
        assert counts == list(range(1, len(counts) + 1))  # as a fresh kernel numbers them
        assert isinstance(st[code]["score"], float) and st[code]["grade"]
    assert (run_dir / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert len(list(run_dir.rglob("plotly*.js"))) == 1

    index = (run_dir / "index.html").read_text(encoding="utf-8")
    for code in codes:
        assert f'href="counties/{code}.html"' in index and city["names"][code] in index
        assert f"{st[code]['score']:.1f}" in index and st[code]["grade"] in index
    assert "city/city_overview.html" in index and ".docx" in index

    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert man["status"] == "complete" and man["period"] == PERIOD
    assert man["package"]["version"] and "git_commit" in man["package"]
    assert len(man["inputs"]["warehouse"]["sha256"]) == 64
    assert all(len(h) == 64 for h in man["inputs"]["notebooks"].values())
    assert man["inputs"]["indicator_files"]  # the YAML declarations behind the numbers
    assert man["parameters"]["jobs"] == 2 and man["parameters"]["timeout"] == 600
    assert set(man["units"]) == set(codes)
    assert all(u["seconds"] > 0 and u["status"] == "ok" for u in man["units"].values())

    docx = run_dir / st[batch.CITY_UNIT]["docx"]
    from docx import Document

    doc = Document(str(docx))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "通报" in text and "综合评分和排名" in text and "进度滞后" in text
    assert len(doc.tables) >= 2 and doc.tables[0].rows[0].cells[0].text == "区县"
    props = doc.core_properties  # not python-docx's own template defaults
    assert props.author.endswith("医疗保障局") and props.language == "zh-CN"
    assert props.created.year >= 2025 and "python-docx" not in (props.last_modified_by or "")
    from workbench import publish

    if publish.chromium_path():
        pdf = run_dir / st[batch.CITY_UNIT]["pdf"]
        assert pdf.read_bytes()[:5] == b"%PDF-"
        html = run_dir / "city" / "city_overview.html"  # as readable as the rest of the run
        assert pdf.stat().st_mode & 0o777 == html.stat().st_mode & 0o777
    else:
        assert "chromium" in res.stderr
    assert_no_partial_files(run_dir)
    assert_clean_reports(run_dir, city["ids"])

    listed = cli("runs", "--runs-dir", str(tmp_path / "runs"), "--json", cwd=tmp_path)
    rows = json.loads(listed.stdout)
    assert rows[0]["run_id"] == "e2e" and rows[0]["ok"] == 3 and rows[0]["status"] == "complete"


# ----------------------------------------------------------------------------- faults
def test_faults_raise_kill_hang_others_complete(city: dict, tmp_path: Path) -> None:
    a, b, c, d = city["codes"][:4]
    faults = json.dumps({a: "raise", b: "kill", c: "hang"})
    t0 = time.monotonic()
    res = cli(
        "run",
        "--period",
        PERIOD,
        "--warehouse",
        str(city["warehouse"]),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--run-id",
        "faults",
        "--jobs",
        "2",
        "--no-progress",
        "--timeout",
        "6",
        "--no-city",
        "--notebook",
        str(FAULTS_NB),
        "-p",
        "faults",
        faults,
        cwd=tmp_path,
    )
    assert time.monotonic() - t0 < 200
    assert res.returncode == 1, res.stderr
    run_dir = tmp_path / "runs" / "faults"
    st = states(run_dir)
    assert st[d]["status"] == "ok"
    assert st[a]["error_kind"] == batch.E_CELL and "ValueError" in st[a]["error"]
    assert st[b]["error_kind"] == batch.E_DEAD and st[b]["attempts"] == 2
    assert st[c]["error_kind"] == batch.E_TIMEOUT
    assert "成功 1 个，失败 3 个" in res.stderr
    for code in (a, b, c):
        assert city["names"][code] in res.stderr
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    for code in (a, b, c):
        assert st[code]["error"] in index  # the reason is on the index page
    assert index.count('class="failed"') == 3
    # the failed notebook is kept, with papermill's error banner on top
    nb = json.loads((run_dir / "counties" / f"{a}.ipynb").read_text(encoding="utf-8"))
    assert "papermill-error-cell-tag" in nb["cells"][0]["metadata"]["tags"]
    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert man["totals"] == {**man["totals"], "ok": 1, "failed": 3}
    listing = cli("runs", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path).stdout
    assert "完成（有失败）" in listing  # finished, but not a success
    assert_no_partial_files(run_dir)
    # the injected error quotes an ID number: masked wherever the error travels
    leaked = "330402199001011234"
    assert "3304**********1234" in st[a]["error"] and leaked not in res.stderr
    for f in run_dir.rglob("*"):
        if f.is_file() and f.suffix in {".html", ".json", ".ipynb"}:
            assert leaked not in f.read_text(encoding="utf-8"), f


def test_reset_clears_the_namespace_and_restarts_the_numbering() -> None:
    """Between counties a reused kernel forgets the last county's names and numbers cells
    from 1 again, on a fresh kernel (nothing to delete) as on a used one."""
    slot = batch.KernelSlot("reset-test", env={"WORKBENCH_BATCH": "1"}, start_retries=0)
    try:
        slot.start()
        deadline = time.monotonic() + 60
        assert slot._execute(batch.RESET_CODE, deadline, silent=True)["status"] == "ok"
        for _ in range(3):
            slot._execute("county = '990101'", deadline)
        slot.reset()
        out: list = []
        reply = slot._execute("print(sorted(dir()))", deadline, outputs=out)
        assert reply["status"] == "ok" and reply["execution_count"] == 1
        names = out[0]["text"]
        assert "'county'" not in names and "_wb_k" not in names and "_wb_ip" not in names
    finally:
        slot.close()


def test_kernel_start_failure_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    slot = batch.KernelSlot("retry", start_retries=2)
    real = slot._start_once
    calls = {"n": 0}

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("端口被占用（模拟的内核启动竞争）")
        real()

    monkeypatch.setattr(slot, "_start_once", flaky)
    try:
        slot.ensure()
        assert slot.alive() and calls["n"] == 2
        out: list = []
        slot._execute("40 + 2", time.monotonic() + 30, outputs=out)
        assert out[0]["data"]["text/plain"] == "42"
    finally:
        slot.close()


def test_kernel_that_never_starts_fails_only_its_units() -> None:
    slot = batch.KernelSlot("bogus", kernel_name="no-such-kernel-xyz", start_retries=1)
    job = batch.Job("990101", "x", str(FAULTS_NB), {"county": "990101"}, "counties/990101", 5)
    try:
        out = batch.execute_job(slot, job)
    finally:
        slot.close()
    assert out.status == "failed" and out.error_kind == batch.E_START
    assert "内核启动失败" in out.error


# ----------------------------------------------------------------------------- resume
def test_resume_after_runner_is_killed(city: dict, tmp_path: Path) -> None:
    codes = city["codes"][:4]
    runs = tmp_path / "runs"
    run_dir = runs / "killed"
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli",
        "run",
        "--period",
        PERIOD,
        "--warehouse",
        str(city["warehouse"]),
        "--runs-dir",
        str(runs),
        "--run-id",
        "killed",
        "--jobs",
        "1",
        "--no-progress",
        "--no-city",
        "--notebook",
        str(FAULTS_NB),
        "-p",
        "delay",
        "1.5",
        "--counties",
        *codes,
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            done = [s for s in states(run_dir).values() if s.get("status") == "ok"]
            if len(done) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "runner finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {u: s for u, s in states(run_dir).items() if s["status"] == "ok"}
    assert 2 <= len(before) < len(codes)
    mtimes = {u: (run_dir / s["html"]).stat().st_mtime_ns for u, s in before.items()}
    for html in run_dir.rglob("*.html"):  # whatever exists under a final name is whole
        assert html.read_text(encoding="utf-8").rstrip().endswith("</html>")
    listed = json.loads(cli("runs", "--runs-dir", str(runs), "--json", cwd=tmp_path).stdout)
    assert listed[0]["status"] == "interrupted"
    assert batch.find_resumable(runs, PERIOD) == "killed"
    # `latest` names the same month the run planned, without planning a run
    assert (
        batch.run_period("latest", str(city["warehouse"]))
        == batch.plan_run("latest", str(city["warehouse"]), codes, str(runs)).period
    )
    assert batch.run_period("2025-06") == "2025-06"

    res = cli(
        "run",
        "--resume",
        "auto",
        "--period",
        PERIOD,
        "--warehouse",
        str(city["warehouse"]),
        "--runs-dir",
        str(runs),
        "--jobs",
        "2",
        "--no-progress",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "发现同一月份被中断的运行 killed" in res.stderr
    assert f"续跑跳过已完成 {len(before)} 个" in res.stderr
    after = states(run_dir)
    assert all(after[c]["status"] == "ok" for c in codes)
    for unit, s in before.items():  # finished counties were not redone
        assert after[unit]["finished"] == s["finished"]
        assert (run_dir / s["html"]).stat().st_mtime_ns == mtimes[unit]
    assert_no_partial_files(run_dir)
    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert man["status"] == "complete" and man["totals"]["ok"] == len(codes)


# ----------------------------------------------------------------------------- dask
def test_dask_executor_local_cluster(city: dict, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    codes = city["codes"][:2]
    cfg = batch.plan_run(
        PERIOD,
        str(city["warehouse"]),
        codes,
        str(tmp_path / "runs"),
        run_id="dask",
        jobs=2,
        executor="dask",
        city_notebook=None,
        docx=False,
        pdf="none",
        progress=False,
    )
    result = batch.Runner(cfg, echo=lambda _m: None).run()
    assert result.exit_code == 0 and sorted(result.ok) == sorted(codes)
    st = states(tmp_path / "runs" / "dask")
    assert all(st[c]["status"] == "ok" and st[c]["html"] for c in codes)
    assert len({st[c]["worker"] for c in codes}) >= 1
    assert not batch._WORKER_SLOTS  # worker kernels shut down with the cluster


# ----------------------------------------------------------------------------- notebooks
def test_report_trend_is_the_engines_series(city: dict) -> None:
    """The report's trend (all counties computed once per indicator) is, county by county and
    for the city, the evaluation's own series over the same months and span — not the
    fallback, which would hide a broken matrix."""
    from workbench import report

    data = report.city_data(str(city["warehouse"]), PERIOD)
    ev = data.evaluation
    start = f"{int(PERIOD[:4]) - 1}-01"
    for code in (city["codes"][1], None):
        got = data.trend("case_detection_rate", county=code)
        want = ev.trend("case_detection_rate", code, span=ev.span, start=start, end=PERIOD)
        assert got["period"].tolist() == want["period"].tolist()
        np.testing.assert_array_equal(got["value"].to_numpy(float), want["value"].to_numpy(float))
        np.testing.assert_array_equal(got["target"].to_numpy(float), want["target"].to_numpy(float))
    assert data._trends["case_detection_rate"] is not None  # the matrix, not the fallback


def test_report_chart_legends_sit_above_the_plot(city: dict) -> None:
    """A report's trend chart draws two years of months whose tick labels stand on end below
    the plot; a legend there (it was at y=-0.18) covered the first months (2024年1月…5月 read
    202…) in the county PDF. Every chart with a legend keeps it above the plot area."""
    from workbench import report

    rep = report.county_report(city["codes"][1], PERIOD, str(city["warehouse"]))
    charts = [c for c in rep.trend_charts(limit=2) if isinstance(c, report.Chart)]
    charts.append(report.sensitivity(PERIOD, str(city["warehouse"]), samples=10).interval_chart())
    assert len(charts) == 3
    for chart in charts:
        legend = chart.spec["layout"]["legend"]
        assert legend["yanchor"] == "bottom" and legend["y"] >= 1, legend


def test_sensitivity_header_names_the_index_not_its_code(city: dict) -> None:
    """The notebook's subtitle read 指标体系层级：campaign_progress."""
    from workbench import report

    s = report.sensitivity(PERIOD, str(city["warehouse"]), samples=10)
    name = s.data.evaluation.indicator_set.hierarchies[s.hierarchy].name
    head = s.header().markup
    assert name and name in head and s.hierarchy not in head


def test_sensitivity_notebook_runs_and_reweighting_moves_ranks(city: dict) -> None:
    from workbench import report

    base = report.sensitivity(PERIOD, str(city["warehouse"]), samples=30)
    leaf = next(n.code for n in base.nominal.result.hierarchy.nodes if n.level == 1)
    heavy = report.sensitivity(
        PERIOD, str(city["warehouse"]), samples=30, weights={leaf: 50.0}, normalise="rank"
    )
    frame = heavy.compare_frame()
    assert len(frame) == len(city["codes"]) and "调整后排名" in frame
    assert (base.compare_frame()["名次变化"] == "+0").all()
    assert "normalise=rank" in heavy.header().markup

    slot = batch.KernelSlot("sens", env={"WORKBENCH_BATCH": "1"})
    job = batch.Job(
        "sens",
        "sens",
        str(ROOT / "notebooks" / "sensitivity.ipynb"),
        {
            "period": PERIOD,
            "warehouse": str(city["warehouse"]),
            "samples": 20,
            "aggregate": "geometric",
        },
        "sens",
        240,
    )
    try:
        out = batch.execute_job(slot, job)
    finally:
        slot.close()
    assert out.status == "ok", out.error
    html = "".join(
        o.get("data", {}).get("text/html", "")
        for c in out.notebook.cells
        for o in c.get("outputs", [])
    )
    assert "调整后排名" in html and "Plotly.newPlot" in html


# ----------------------------------------------------------------------------- small units
def test_atomic_write_never_leaves_a_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a" / "report.html"
    batch.atomic_write(target, "<html>一</html>")
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # readable by a web server

    def crash(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(batch.os, "replace", crash)
    with pytest.raises(OSError):
        batch.atomic_write(target, "<html>二</html>")
    assert target.read_text(encoding="utf-8") == "<html>一</html>"
    assert not list(target.parent.glob(".*.tmp"))


def test_pdf_without_chromium_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench import publish

    monkeypatch.setattr(publish, "chromium_path", lambda: None)
    page = tmp_path / "r.html"
    page.write_text("<html></html>", encoding="utf-8")
    with pytest.raises(publish.PdfUnavailable, match="apt-get install -y chromium"):
        publish.html_to_pdf(page, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_unknown_county_is_a_clear_error(city: dict, tmp_path: Path) -> None:
    res = cli(
        "run",
        "--period",
        PERIOD,
        "--warehouse",
        str(city["warehouse"]),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--counties",
        "不存在县",
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 2 and "不存在县" in res.stderr and "错误" in res.stderr


def test_run_refuses_a_missing_notebook_and_an_existing_run_id(city: dict, tmp_path: Path) -> None:
    """Both used to start a run (a folder, kernels) and fail every county, or overwrite a
    finished run; now refused before anything happens."""
    runs = tmp_path / "runs"
    base = [
        "run",
        "--period",
        PERIOD,
        "--warehouse",
        str(city["warehouse"]),
        "--runs-dir",
        str(runs),
        "--no-progress",
        "--counties",
        city["codes"][0],
    ]
    res = cli(*base, "--notebook", str(tmp_path / "nope.ipynb"), cwd=tmp_path)
    assert res.returncode == 2 and "nope.ipynb" in res.stderr and not runs.exists()
    (runs / "done").mkdir(parents=True)
    res = cli(*base, "--run-id", "done", cwd=tmp_path)
    assert res.returncode == 2 and "--resume done" in res.stderr


# ----------------------------------------------------------------------------- a pinned state
def _late_cases(codes: list[str], county: str) -> pd.DataFrame:
    """Cases of another demo city for `county`, with ids of their own: what a late ingest for
    that county adds."""
    from workbench.demo import generate_city

    other = generate_city(len(codes), seed=7).frames["cases"]
    late = other[other["county_code"].astype(str) == county].copy()
    for col in ("case_id", "institution_id"):
        late[col] = "L" + late[col].astype(str)
    assert len(late) > 0
    return late


def test_an_ingest_landing_mid_run_changes_neither_reports_nor_manifest(
    city: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run pins the warehouse when it is planned: an ingest committed between two counties
    changes the live file, not what the second county's report or the manifest say."""
    import shutil

    from workbench import report
    from workbench.presentation import cache as pcache

    live = tmp_path / "live.duckdb"
    shutil.copyfile(city["warehouse"], live)
    pristine = tmp_path / "pristine" / "wh.duckdb"
    pristine.parent.mkdir()
    shutil.copyfile(city["warehouse"], pristine)
    first, second = city["codes"][:2]
    fp_before = pcache.warehouse_fingerprint(live)

    cfg = batch.plan_run(
        PERIOD,
        str(live),
        [first, second],
        str(tmp_path / "runs"),
        run_id="pinned",
        jobs=1,
        city_notebook=None,
        docx=False,
        pdf="none",
        progress=False,
        reuse_kernels=False,
        pin_wait=5,
    )
    assert cfg.snapshot and Path(cfg.snapshot).is_file() and cfg.source == cfg.snapshot
    assert not Path(cfg.snapshot).is_relative_to(tmp_path / "runs")  # never published

    landed = []
    execute = batch.execute_job

    def ingest_before_second(slot: batch.KernelSlot, job: batch.Job) -> batch.Outcome:
        if job.unit == second:  # the first county is done, the second has not read yet
            with Warehouse(live) as wh:
                wh.load_frames({"cases": _late_cases(city["codes"], second)}, "late")
            landed.append(job.unit)
        return execute(slot, job)

    monkeypatch.setattr(batch, "execute_job", ingest_before_second)
    result = batch.Runner(cfg, echo=lambda _m: None).run()
    assert landed == [second] and result.ok == [first, second] and not result.failed

    # the ingest did land, and would have moved the second county's score
    assert pcache.warehouse_fingerprint(live) != fp_before
    before = report.county_report(second, PERIOD, str(pristine), cfg.indicator_set).summary()
    after = report.county_report(second, PERIOD, str(live), cfg.indicator_set).summary()
    assert after["score"] != pytest.approx(before["score"])

    st = states(cfg.run_dir)
    assert st[second]["score"] == pytest.approx(before["score"])  # a peer on the old state
    man = json.loads((cfg.run_dir / "manifest.json").read_text(encoding="utf-8"))
    pinned = man["inputs"]["warehouse"]
    assert pinned["path"] == str(live.resolve()) and pinned["snapshot"] == cfg.snapshot
    assert pinned["live_fingerprint"] == fp_before and len(pinned["sha256"]) == 64
    assert pinned["pinned_at"] <= man["finished"]
    assert man["inputs"]["submissions"]["count"] == 1  # the fixture's one; live now has 2
    assert "error" not in man["inputs"]["submissions"]
    assert batch._submission_digest(live)["count"] == 2
    assert not Path(cfg.snapshot).exists()  # released: nothing left to resume


def test_resume_refuses_when_its_pinned_state_is_gone(city: dict, tmp_path: Path) -> None:
    cfg = batch.plan_run(
        PERIOD, str(city["warehouse"]), [city["codes"][0]], str(tmp_path / "runs"), run_id="r1"
    )
    batch.write_json(cfg.run_dir / "run.json", cfg.to_json())
    Path(cfg.snapshot).unlink()
    with pytest.raises(FileNotFoundError, match="已不存在"):
        batch.Runner(batch.load_run(tmp_path / "runs", "r1"), resume=True).run()


def test_planning_waits_for_an_ingest_then_says_so(city: dict, tmp_path: Path) -> None:
    """A writer holding the file (another process, as an ingest would) is waited for, and
    a run that cannot pin within the wait is refused in Chinese — never a DuckDB lock error."""
    import shutil

    live = tmp_path / "live.duckdb"
    shutil.copyfile(city["warehouse"], live)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(60)",
            str(live),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        said: list[str] = []
        with pytest.raises(ValueError, match="一直被写入"):
            batch.pin_warehouse(live, "w", wait=1.5, echo=said.append)
        assert said and "正在写入" in said[0]
        said.clear()  # `--resume auto` resolves `latest` the same way
        with pytest.raises(ValueError, match="一直被写入"):
            batch.run_period("latest", str(live), wait=1.5, echo=said.append)
        assert said and "正在写入" in said[0]
    finally:
        holder.kill()
        holder.wait()
    folder = batch.pin_folder(live)
    assert not [p for p in folder.iterdir() if p.name.startswith((".w", "w."))]
    assert batch.run_period("latest", str(live), wait=5) == "2025-12"  # the fixture's month


def test_report_rank_intervals_read_as_every_face_writes_them(city: dict) -> None:
    """The city report's and the sensitivity comparison's interval cells: 第a–b名 (第a名 when
    the bounds meet) under the one header, and the nominal rank inside the interval."""
    from workbench import report

    frame = report.city_report(PERIOD, str(city["warehouse"]), "campaign_2025").ranking_frame()
    cells = frame["排名区间（5%–95%）"]
    assert len(cells) == len(city["codes"])
    for rank, cell in zip(frame["排名"], cells):
        m = re.fullmatch(r"第(\d+)(?:–(\d+))?名", cell)
        assert m, cell
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        assert lo < hi or m.group(2) is None  # never 第3–3名
        assert lo <= rank <= hi
    compare = report.sensitivity(PERIOD, str(city["warehouse"]), samples=20).compare_frame()
    assert all(re.fullmatch(r"第\d+(–\d+)?名|—", c) for c in compare["排名区间（5%–95%）"])


def test_pinned_copies_nobody_will_resume_are_pruned(tmp_path: Path) -> None:
    """Each pinned copy is a whole warehouse: a run unfinished for over PIN_KEEP_DAYS and a
    planner's orphan `.pending-*` older than PENDING_KEEP_S go; recent ones stay."""
    import os

    now = 1_800_000_000.0
    day = 86400.0
    ages = {
        "2025-09-a.duckdb": 46 * day,  # abandoned run: pruned
        "2025-10-b.duckdb": 44 * day,  # could still be resumed: kept
        ".pending-old.duckdb": 7 * 3600,  # a planner that died: pruned
        ".pending-new.duckdb": 5 * 3600,  # a planner at work: kept
    }
    for name, age in ages.items():
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (now - age, now - age))
    (tmp_path / "2025-09-a.duckdb.wal").write_bytes(b"w")
    gone = batch.prune_pins(tmp_path, now=now)
    assert sorted(p.name for p in gone) == [".pending-old.duckdb", "2025-09-a.duckdb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".pending-new.duckdb",
        "2025-10-b.duckdb",
    ]


# ----------------------------------------------------------------------------- table markup
def _pandas_table(df: pd.DataFrame, max_rows: int = 200) -> str:
    """The county tables' markup as pandas' `to_html` writes it (the writer the reports used
    before `report._table_markup`): the peer the direct writer must match byte for byte."""
    import html as h

    from workbench import report

    shown = df.head(max_rows)
    cells = {}
    for col in shown.columns:
        texts = ["—" if report._missing(v) else str(v) for v in shown[col]]
        short = max((len(x) for x in texts), default=0) <= report.NOWRAP_CHARS
        cells[col] = [
            f'<span class="wb-nw">{h.escape(x)}</span>' if short else h.escape(x) for x in texts
        ]
    heads = [h.escape(str(c)) for c in shown.columns]
    return pd.DataFrame(list(zip(*cells.values())), columns=heads).to_html(
        index=False, escape=False, classes="wb-table", border=0
    )


_CELL_TEXT = "甲乙 县\t\n\r\u3000\xa0<>&'\"a1．—"
_CHUNKS = ["  ", " ", "\n", "\t", "\r\n", "\u3000", "甲乙县医保", "<b>", "&amp;", "2025-09-30"]


def test_table_markup_is_pandas_markup() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from workbench import report

    value = st.one_of(
        st.text(alphabet=_CELL_TEXT, max_size=12),  # a no-wrap column's cells
        st.text(alphabet=_CELL_TEXT, min_size=15, max_size=40),  # a long column's
        st.lists(st.sampled_from(_CHUNKS), max_size=8).map("".join),  # runs of blanks, breaks
        st.none(),
        st.just(float("nan")),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
    )
    header = st.text(alphabet="指标名称 ab&<", min_size=1, max_size=6)

    @settings(max_examples=200, deadline=None, database=None)
    @given(
        heads=st.lists(header, min_size=1, max_size=4),
        n=st.integers(1, 6),
        data=st.data(),
    )
    def check(heads: list[str], n: int, data: st.DataObject) -> None:
        cols = {h: data.draw(st.lists(value, min_size=n, max_size=n)) for h in heads}
        df = pd.DataFrame(cols)
        got = report.table_html(df, "无", max_rows=4).markup
        want = _pandas_table(df, max_rows=4)
        if len(df) > 4:
            want += got[got.index("</table>") + len("</table>") :]  # the "more rows" note
        assert got == want

    check()


def test_table_markup_keeps_pandas_quirks() -> None:
    """Hand-written: what pandas' writer does to a cell stays (tabs and line breaks shown
    escaped, ends stripped, double spaces as &nbsp;&nbsp;); a header HTML escaping changes
    goes through pandas itself."""
    from workbench import report

    long = "问题描述  第一行\n第二行\t完 "  # longer than a no-wrap cell
    html = report.table_html(pd.DataFrame({"问题描述": [long]}), "无").markup
    assert "<td>问题描述&nbsp;&nbsp;第一行\\n第二行\\t完</td>" in html
    odd = pd.DataFrame({"a&b": ["x"], "金额<元>": ["12元"]})
    markup = report.table_html(odd, "无").markup
    assert markup == _pandas_table(odd)
    # its cells stay (pandas keyed them by the unescaped header and showed a column of NaN)
    assert "<th>a&amp;b</th>" in markup and "<th>金额&lt;元&gt;</th>" in markup
    assert ">x</span>" in markup and ">12元</span>" in markup and "NaN" not in markup


def test_the_index_links_say_what_a_person_opens() -> None:
    """The index page's links are for people: no file names or English (the manifest's link
    said 「运行清单（manifest.json）」); Word and PDF are the formats' own names."""
    from workbench.publish import index_html

    meta = {"city_html": "city/city_overview.html", "docx": "city/通报.docx", "documents": []}
    page = index_html(Path("."), meta, [{"unit": "990101", "label": "东湖区", "status": "ok"}])
    texts = re.findall(r"<a [^>]*>([^<]*)</a>", page)
    assert any("运行记录" in x for x in texts), texts
    for x in texts:
        words = set(re.findall(r"[A-Za-z][A-Za-z.]*", x)) - {"Word", "PDF"}
        assert not words, x
