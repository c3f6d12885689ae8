"""The monthly batch: run the county notebook for every county, fast and fault-tolerant.

One long-lived runner process keeps a pool of persistent Jupyter kernels (`KernelSlot`), started
ahead of need and warmed (libraries imported, warehouse evaluated) before the first county. Each
county gets papermill's parameter injection and papermill's notebook metadata, executes cell by
cell in a fresh user namespace of a reused kernel, and is published by the runner (executed
.ipynb, offline HTML) with atomic writes. A county whose notebook raises, whose kernel dies or
whose cells hang past the timeout is marked failed with its reason; the others carry on.

Run folder `runs/<run-id>/`:
    run.json            parameters (what `--resume` reads)
    state/<unit>.json   one per finished unit, written last: the resume checkpoint
    counties/<code>.ipynb|.html|.pdf, city/…, assets/plotly.min.js, index.html, manifest.json
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from workbench import __version__, publish, report, snapshots
from workbench.config import indicators_dir, project_root, warehouse_path
from workbench.files import atomic_write, sha256_file, write_json
from workbench.messages import t
from workbench.presentation import cache as pcache
from workbench.presentation.product import colophon
from workbench.privacy import mask_id_card
from workbench.results import resolve_period

log = logging.getLogger(__name__)

COUNTY_NOTEBOOK = "notebooks/county_assessment.ipynb"
CITY_NOTEBOOK = "notebooks/city_overview.ipynb"
CITY_UNIT = "_city"
SUMMARY_MIME = "application/vnd.workbench.summary+json"
KERNEL_ARGS = ["--HistoryManager.enabled=False"]
RESET_CODE = (
    "_wb_ip = get_ipython()\n"
    "for _wb_k in [k for k in _wb_ip.user_ns if not k.startswith('_')"
    " and k not in _wb_ip.user_ns_hidden]:\n"
    "    del _wb_ip.user_ns[_wb_k]\n"
    "_wb_ip.user_ns['_oh'].clear()\n"
    "_wb_ip.execution_count = 1\n"  # the prompt count follows it (read-only in IPython 8+)
    "_wb_ip.user_ns.pop('_wb_k', None)\n"  # unset when there was nothing to delete
    "del _wb_ip\n"
)

# Failure kinds (stable codes; the Chinese wording lives in the catalogue).
E_CELL = "cell_error"
E_DEAD = "kernel_died"
E_TIMEOUT = "timeout"
E_START = "kernel_start"
E_PUBLISH = "publish_error"
E_INTERNAL = "internal_error"


class KernelStartError(RuntimeError):
    pass


class KernelDied(RuntimeError):
    pass


class CountyTimeout(RuntimeError):
    pass


# ----------------------------------------------------------------------------- small utilities
def git_commit(root: Path | None = None) -> str | None:
    root = root or project_root()
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def batch_footer(run_id: str, period_label: str) -> str:
    """The line under every page of a run (each report and the index): the run, the period and
    the product's colophon, the same one the cockpit shows."""
    return t("batch.footer", run_id=run_id, period=period_label, colophon=colophon())


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def new_run_id(period: str) -> str:
    return f"{period}_{dt.datetime.now():%Y%m%d-%H%M%S}"


# ----------------------------------------------------------------------------- configuration
@dataclass
class RunConfig:
    """Everything a run needs; saved as run.json so `--resume` continues with the same inputs."""

    run_id: str
    period: str
    period_requested: str
    warehouse: str
    runs_dir: str
    counties: list[str]
    county_names: dict[str, str] = field(default_factory=dict)
    notebook: str = COUNTY_NOTEBOOK
    city_notebook: str | None = CITY_NOTEBOOK
    indicator_set: str = "campaign_2025"
    jobs: int = 2
    timeout: float = 600.0
    executor: str = "local"
    scheduler: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    pdf: str = "city"
    docx: bool = True
    documents: dict[str, Any] = field(default_factory=dict)  # DocOptions.to_json()
    kernel_name: str = "python3"
    start_retries: int = 2
    death_retries: int = 1
    recycle_after: int = 1000
    reuse_kernels: bool = True
    fast_export: bool = True
    progress: bool = True
    created: str = field(default_factory=now_iso)
    snapshot: str | None = None  # the pinned copy every step of the run reads
    pinned: dict[str, Any] = field(default_factory=dict)  # the version it holds (manifest)

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.run_id

    @property
    def source(self) -> str:
        """The warehouse file the run reads: its pinned copy (the live file before pinning)."""
        return self.snapshot or self.warehouse

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Job:
    """One unit of work: a notebook with its parameters."""

    unit: str
    label: str
    notebook: str
    parameters: dict[str, Any]
    out_stem: str  # relative path without suffix, e.g. counties/330401
    timeout: float
    death_retries: int = 1


@dataclass
class Outcome:
    unit: str
    label: str
    status: str  # ok | failed
    notebook: Any = None  # the executed notebook (nbformat node)
    summary: dict[str, Any] = field(default_factory=dict)
    error_kind: str | None = None
    error: str | None = None
    attempts: int = 1
    seconds: float = 0.0
    kernel_seconds: float = 0.0
    started: str = ""
    worker: str = ""


# ----------------------------------------------------------------------------- kernels
class KernelSlot:
    """One persistent kernel reused across counties; restarted after death, timeout or recycle."""

    def __init__(
        self,
        name: str,
        kernel_name: str = "python3",
        env: dict[str, str] | None = None,
        warm_code: str | None = None,
        log_path: Path | None = None,
        start_retries: int = 2,
        reuse: bool = True,
        recycle_after: int = 1000,
    ) -> None:
        self.name = name
        self.kernel_name = kernel_name
        self.env = {**os.environ, **(env or {})}
        self.warm_code = warm_code
        self.log_path = log_path
        self.start_retries = start_retries
        self.reuse = reuse
        self.recycle_after = recycle_after
        self.km: Any = None
        self.kc: Any = None
        self.used = 0
        self.starts = 0
        self.closed = False
        self._ipc_dir = Path(tempfile.mkdtemp(prefix="wb-kernel-"))
        self._log_fh: Any = None

    # -- life cycle
    def start(self) -> float:
        """Start (with retries) and warm the kernel; returns seconds spent."""
        if self.closed:
            raise KernelStartError(t("batch.err.slot_closed"))
        t0 = time.perf_counter()
        last: BaseException | None = None
        for attempt in range(self.start_retries + 1):
            try:
                self._start_once()
                break
            except Exception as exc:  # noqa: BLE001 - any start failure is retried
                last = exc
                log.warning(
                    t(
                        "batch.log.start_retry",
                        slot=self.name,
                        attempt=attempt + 1,
                        error=str(exc)[:200],
                    )
                )
                self.shutdown()
                time.sleep(0.3 * (attempt + 1))
        else:
            raise KernelStartError(str(last))
        if self.warm_code:
            try:
                self._execute(self.warm_code, time.monotonic() + 600, silent=True)
            except (KernelDied, CountyTimeout) as exc:
                self.shutdown()
                raise KernelStartError(
                    t("batch.err.warm_failed", error=type(exc).__name__)
                ) from exc
            except Exception as exc:  # noqa: BLE001 - a failed warm-up shows up in the county
                log.debug("warm-up on %s failed: %s", self.name, exc)
        return time.perf_counter() - t0

    def _start_once(self) -> None:
        from jupyter_client.manager import KernelManager

        self.starts += 1
        km = KernelManager(
            kernel_name=self.kernel_name, transport="ipc", ip=str(self._ipc_dir / f"k{self.starts}")
        )
        km.connection_file = str(self._ipc_dir / f"kernel-{self.starts}.json")
        if self.log_path is not None and self._log_fh is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_fh = self.log_path.open("ab")
        out = self._log_fh if self._log_fh is not None else subprocess.DEVNULL
        km.start_kernel(
            extra_arguments=KERNEL_ARGS,
            env=self.env,
            stdout=out,
            stderr=out,
            cwd=self.env.get("WORKBENCH_KERNEL_CWD") or None,
        )
        self.km = km
        kc = km.client()
        kc.start_channels()
        self.kc = kc
        try:
            kc.wait_for_ready(timeout=60)
        except RuntimeError as exc:
            raise KernelStartError(str(exc)) from exc
        self.used = 0

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    def ensure(self) -> float:
        """A ready kernel: starts one if there is none, recycles one used too often."""
        if self.km is not None and (not self.reuse or self.used >= self.recycle_after):
            self.shutdown()
        if self.km is None or not self.alive():
            self.shutdown()
            return self.start()
        return 0.0

    def shutdown(self) -> None:
        kc, km = self.kc, self.km
        self.kc = self.km = None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
            with contextlib.suppress(Exception):
                km.cleanup_resources()

    def close(self) -> None:
        self.closed = True
        self.shutdown()
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        import shutil

        shutil.rmtree(self._ipc_dir, ignore_errors=True)

    # -- execution
    def reset(self) -> None:
        """A fresh user namespace; imported modules (and their caches) stay loaded."""
        reply = self._execute(RESET_CODE, time.monotonic() + 30, silent=True)
        if reply.get("status") == "error":  # never seen since prompt_count; say so if it is
            log.debug("reset on %s failed: %s", self.name, reply.get("evalue"))

    def interrupt_or_restart(self) -> None:
        """After a timeout: interrupt; if the kernel does not come back to idle, restart it."""
        if not self.alive():
            self.shutdown()
            return
        try:
            self.km.interrupt_kernel()
            self._drain_until_idle(time.monotonic() + 5)
            self._execute("pass", time.monotonic() + 5, silent=True)
        except Exception:  # noqa: BLE001 - anything but a clean idle means restart
            self.shutdown()

    def _drain_until_idle(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return
        raise CountyTimeout("kernel did not return to idle")

    def _execute(
        self, code: str, deadline: float, silent: bool = False, outputs: list | None = None
    ) -> dict:
        """Run `code`; collect outputs (nbformat dicts) until idle; return the execute_reply."""
        kc = self.kc
        if kc is None:
            raise KernelDied("no kernel")
        msg_id = kc.execute(
            code, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False
        )
        display_index: dict[str, list[int]] = {}
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CountyTimeout
            try:
                msg = kc.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.km.is_alive():
                    raise KernelDied(t("batch.err.kernel_died_detail")) from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            mtype, content = msg["msg_type"], msg["content"]
            if mtype == "status":
                idle = content["execution_state"] == "idle"
            elif outputs is None:
                continue
            elif mtype == "stream":
                if (
                    outputs
                    and outputs[-1].get("output_type") == "stream"
                    and outputs[-1]["name"] == content["name"]
                ):
                    outputs[-1]["text"] += content["text"]
                else:
                    outputs.append(
                        nbformat.v4.new_output("stream", name=content["name"], text=content["text"])
                    )
            elif mtype in ("display_data", "execute_result", "error"):
                out = nbformat.v4.output_from_msg(msg)
                did = content.get("transient", {}).get("display_id")
                if did:
                    display_index.setdefault(did, []).append(len(outputs))
                outputs.append(out)
            elif mtype == "update_display_data":
                did = content.get("transient", {}).get("display_id")
                for i in display_index.get(did, []):
                    outputs[i]["data"] = content["data"]
                    outputs[i]["metadata"] = content.get("metadata", {})
            elif mtype == "clear_output":
                outputs.clear()
                display_index.clear()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CountyTimeout
            try:
                reply = kc.get_shell_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.km.is_alive():
                    raise KernelDied(t("batch.err.kernel_died_detail")) from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]

    def run_notebook(self, nb: Any, deadline: float) -> dict | None:
        """Execute code cells in order (papermill semantics: stop at the first error).

        Returns None on success or the error output of the failing cell.
        """
        from papermill.engines import NotebookExecutionManager

        nb_man = NotebookExecutionManager(
            nb, output_path=None, progress_bar=False, autosave_cell_every=0
        )
        nb_man.notebook_start()
        error = None
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            nb_man.cell_start(cell, index)
            cell.outputs = []
            try:
                reply = self._execute(cell.source, deadline, outputs=cell.outputs)
            except BaseException as exc:
                nb_man.cell_exception(cell, cell_index=index, exception=exc)
                nb_man.cell_complete(cell, cell_index=index)
                nb_man.notebook_complete()
                raise
            cell.execution_count = reply.get("execution_count")
            if reply.get("status") == "error":
                error = next(
                    (o for o in cell.outputs if o.get("output_type") == "error"),
                    {
                        "ename": reply.get("ename"),
                        "evalue": reply.get("evalue"),
                        "traceback": reply.get("traceback", []),
                    },
                )
                _mask_error(error)  # in place: the notebook's output is what gets reported
                nb_man.cell_exception(cell, cell_index=index)
                nb_man.cell_complete(cell, cell_index=index)
                break
            nb_man.cell_complete(cell, cell_index=index)
        nb_man.notebook_complete()
        return error


def _mask_error(error: dict) -> None:
    """ID numbers in an error output and its traceback masked, in place (an error message or
    a traceback may quote data) — once, where the error is caught, so the notebook, the
    banner, the run's state and the console all carry the masked text."""

    error["evalue"] = mask_id_card(str(error.get("evalue") or ""))
    error["traceback"] = [mask_id_card(str(x)) for x in error.get("traceback") or []]


def _mark_error(nb: Any, error: dict) -> None:
    """Papermill's error banner at the top of a failed notebook."""
    from papermill.execute import ERROR_MARKER_TAG

    banner = nbformat.v4.new_markdown_cell(
        t(
            "batch.nb.error_banner",
            cell=_cell_number(nb),
            ename=error.get("ename", ""),
            evalue=str(error.get("evalue", ""))[:300],
        )
    )
    banner.metadata["tags"] = [ERROR_MARKER_TAG]
    nb.cells.insert(0, banner)


# ----------------------------------------------------------------------------- one unit of work
_TEMPLATES: dict[tuple[str, int], str] = {}


def load_template(path: str) -> str:
    p = Path(path)
    key = (str(p.resolve()), p.stat().st_mtime_ns)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = p.read_text(encoding="utf-8")
    return _TEMPLATES[key]


def prepare_notebook(job: Job) -> Any:
    """Papermill's own parameter injection and metadata on a fresh copy of the template."""
    from papermill.execute import prepare_notebook_metadata
    from papermill.parameterize import parameterize_notebook

    nb = nbformat.reads(load_template(job.notebook), as_version=4)
    nb.metadata.setdefault(
        "papermill",
        {
            "default_parameters": {},
            "parameters": {},
            "environment_variables": {},
            "version": _papermill_version(),
        },
    )
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    nb = parameterize_notebook(nb, job.parameters, kernel_name="python3", language="python")
    nb = prepare_notebook_metadata(nb, job.notebook, job.out_stem + ".ipynb")
    nb.metadata.papermill["environment_variables"] = {}
    nb.metadata.papermill["version"] = _papermill_version()
    return nb


@functools.cache
def _papermill_version() -> str:
    import papermill

    return papermill.__version__


def _summary_from(nb: Any) -> dict:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if SUMMARY_MIME in data:
                value = data[SUMMARY_MIME]
                return dict(value) if isinstance(value, dict) else {}
    return {}


def _failing_cell(nb: Any) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):
            return i
    return None


def _error_text(err: dict) -> str:
    ename, evalue = err.get("ename", ""), str(err.get("evalue", "")).strip()
    return (f"{ename}: {evalue}" if evalue else str(ename))[:500]


def execute_job(slot: KernelSlot, job: Job) -> Outcome:
    """Run one unit on `slot`, with retries for kernel start failures and kernel deaths."""
    started = now_iso()
    t0 = time.perf_counter()
    attempts = 0
    kernel_seconds = 0.0
    deaths = 0
    while True:
        attempts += 1
        nb = prepare_notebook(job)
        try:
            kernel_seconds += slot.ensure()
        except KernelStartError as exc:
            return Outcome(
                job.unit,
                job.label,
                "failed",
                error_kind=E_START,
                error=t("batch.err.kernel_start", detail=str(exc)[:300]),
                attempts=attempts,
                seconds=time.perf_counter() - t0,
                kernel_seconds=kernel_seconds,
                started=started,
                worker=slot.name,
            )
        deadline = time.monotonic() + job.timeout
        kind = detail = None
        try:
            slot.reset()
            error = slot.run_notebook(nb, deadline)
            slot.used += 1
            if error is not None:
                kind, detail = (
                    E_CELL,
                    t("batch.err.cell", cell=_cell_number(nb), error=_error_text(error)),
                )
                _mark_error(nb, error)
        except KernelDied:
            deaths += 1
            slot.shutdown()
            if deaths <= job.death_retries:
                log.warning(t("batch.log.kernel_retry", unit=job.unit))
                continue
            kind, detail = E_DEAD, t("batch.err.kernel_died", cell=_cell_number(nb))
            _mark_error(nb, {"ename": "DeadKernelError", "evalue": detail})
        except CountyTimeout:
            kind = E_TIMEOUT
            detail = t("batch.err.timeout", seconds=f"{job.timeout:g}", cell=_cell_number(nb))
            _mark_error(nb, {"ename": "TimeoutError", "evalue": detail})
            slot.interrupt_or_restart()
        seconds = time.perf_counter() - t0
        return Outcome(
            job.unit,
            job.label,
            "failed" if kind else "ok",
            notebook=nb,
            summary=_summary_from(nb),
            error_kind=kind,
            error=detail,
            attempts=attempts,
            seconds=seconds,
            kernel_seconds=kernel_seconds,
            started=started,
            worker=slot.name,
        )


def _cell_number(nb: Any) -> str:
    """The failing cell as the user counts it: the n-th code cell (injected parameters included)."""
    i = _failing_cell(nb)
    if i is None:
        return "?"
    return str(sum(1 for c in nb.cells[: i + 1] if c.get("cell_type") == "code"))


def _dumps_nb(nb: Any) -> str:
    from nbformat.v4.nbjson import JSONWriter

    return JSONWriter().writes(nb)


# ----------------------------------------------------------------------------- executors
@dataclass
class SlotSpec:
    """How to build a kernel slot (picklable, so Dask workers can build their own)."""

    kernel_name: str
    env: dict[str, str]
    warm_code: str
    log_dir: str | None
    start_retries: int
    reuse: bool
    recycle_after: int

    def build(self, name: str) -> KernelSlot:
        log_path = Path(self.log_dir) / f"kernel-{name}.log" if self.log_dir else None
        return KernelSlot(
            name,
            self.kernel_name,
            self.env,
            self.warm_code,
            log_path,
            self.start_retries,
            self.reuse,
            self.recycle_after,
        )


def _safe_execute(slot: KernelSlot, job: Job) -> Outcome:
    try:
        return execute_job(slot, job)
    except Exception as exc:  # noqa: BLE001 - a runner bug must not stop the other counties
        if slot.closed:  # the run is stopping and the kernel was shut under this county
            log.debug("%s stopped with the run: %s", job.unit, exc)
        else:
            log.exception("internal error on %s", job.unit)
        with contextlib.suppress(Exception):
            slot.shutdown()
        return Outcome(
            job.unit,
            job.label,
            "failed",
            error_kind=E_INTERNAL,
            error=t("batch.err.internal", detail=f"{type(exc).__name__}: {exc}"),
            worker=slot.name,
        )


class LocalExecutor:
    """N worker threads on this machine, each owning one persistent kernel.

    Kernels start (and warm up) as soon as the executor exists, before the first county is
    handed out, so their start-up overlaps the runner's own preparation.
    """

    def __init__(self, spec: SlotSpec, jobs: int) -> None:
        self.slots = [spec.build(str(i + 1)) for i in range(max(1, jobs))]
        self._prestart = [
            threading.Thread(target=self._start, args=(s,), daemon=True) for s in self.slots
        ]
        for th in self._prestart:
            th.start()

    @staticmethod
    def _start(slot: KernelSlot) -> None:
        with contextlib.suppress(KernelStartError):
            slot.ensure()

    def run(
        self, jobs: list[Job], on_done: Callable[[Outcome], None], stop: threading.Event
    ) -> None:
        todo: queue.Queue[Job | None] = queue.Queue()
        for job in jobs:
            todo.put(job)
        done: queue.Queue[Outcome] = queue.Queue()

        def work(slot: KernelSlot, starter: threading.Thread) -> None:
            starter.join()
            while not stop.is_set():
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                done.put(_safe_execute(slot, job))

        workers = [
            threading.Thread(target=work, args=(s, p), daemon=True, name=f"wb-slot-{s.name}")
            for s, p in zip(self.slots, self._prestart)
        ]
        for w in workers:
            w.start()
        remaining = len(jobs)
        while remaining:
            try:
                outcome = done.get(timeout=0.5)
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and done.empty():
                    break
                continue
            remaining -= 1
            on_done(outcome)
        for w in workers:
            w.join(timeout=0 if stop.is_set() else None)

    def close(self) -> None:
        for slot in self.slots:
            slot.close()


class SlotThread:
    """A kernel slot driven from its own plain thread.

    Dask runs tasks on threads that may carry an asyncio loop; jupyter_client's synchronous
    API must not run there. Each worker thread hands its jobs to one of these instead.
    """

    def __init__(self, slot: KernelSlot) -> None:
        self.slot = slot
        self.jobs: queue.Queue[tuple[Job, queue.Queue] | None] = queue.Queue()
        self.thread = threading.Thread(
            target=self._loop, daemon=True, name=f"wb-dask-slot-{slot.name}"
        )
        self.thread.start()

    def _loop(self) -> None:
        while (item := self.jobs.get()) is not None:
            job, reply = item
            reply.put(_safe_execute(self.slot, job))
        self.slot.close()

    def call(self, job: Job) -> Outcome:
        reply: queue.Queue[Outcome] = queue.Queue()
        self.jobs.put((job, reply))
        return reply.get()

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=30)


_WORKER_SLOTS: dict[int, SlotThread] = {}
_WORKER_LOCK = threading.Lock()


def _dask_execute(spec: SlotSpec, job: Job) -> Outcome:
    """Runs on a Dask worker: one persistent kernel per worker thread, reused across tasks."""
    ident = threading.get_ident()
    with _WORKER_LOCK:
        st = _WORKER_SLOTS.get(ident)
        if st is None:
            name = f"{socket.gethostname()}-{len(_WORKER_SLOTS) + 1}"
            st = _WORKER_SLOTS[ident] = SlotThread(spec.build(name))
    return st.call(job)


def _dask_close_slots() -> int:
    with _WORKER_LOCK:
        slots = list(_WORKER_SLOTS.values())
        _WORKER_SLOTS.clear()
    for st in slots:
        st.close()
    return len(slots)


class DaskExecutor:
    """County runs sent to a Dask distributed cluster (`--scheduler ADDR`, or a LocalCluster).

    Workers execute notebooks with their own persistent kernels and return the executed
    notebook; this process publishes, so the run folder has a single writer. Workers need the
    workbench package and the warehouse at the same path (a shared or copied file).
    """

    def __init__(self, spec: SlotSpec, jobs: int, scheduler: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self.spec = spec
        self.cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            self.cluster = LocalCluster(
                n_workers=1,
                threads_per_worker=max(1, jobs),
                processes=False,
                dashboard_address=None,
            )
            self.client = Client(self.cluster)

    def run(
        self, jobs: list[Job], on_done: Callable[[Outcome], None], stop: threading.Event
    ) -> None:
        from distributed import as_completed

        futures = [
            self.client.submit(
                _dask_execute,
                self.spec,
                job,
                pure=False,
                key=f"wb-{job.unit}-{uuid.uuid4().hex[:8]}",
            )
            for job in jobs
        ]
        by_key = {f.key: job for f, job in zip(futures, jobs)}
        for fut in as_completed(futures):
            if stop.is_set():
                for f in futures:
                    f.cancel()
                break
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker fails only its counties
                job = by_key[fut.key]
                detail = f"{type(exc).__name__}: {exc}"
                outcome = Outcome(
                    job.unit,
                    job.label,
                    "failed",
                    error_kind=E_INTERNAL,
                    error=t("batch.err.worker", detail=detail),
                )
            on_done(outcome)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.run(_dask_close_slots)
        with contextlib.suppress(Exception):
            _dask_close_slots()
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


# ----------------------------------------------------------------------------- the runner
@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    ok: list[str]
    failed: dict[str, str]
    skipped: list[str]
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


class RunLocked(RuntimeError):
    pass


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One runner per run folder; the OS releases the lock if the runner is killed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fh = (run_dir / ".lock").open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise RunLocked(t("batch.err.locked", run_dir=str(run_dir))) from exc
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def remove_partial_files(run_dir: Path) -> int:
    """Temp files a killed runner left behind (never visible under a final name)."""
    n = 0
    for tmp in run_dir.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            n += 1
    return n


def load_states(run_dir: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in sorted((run_dir / "state").glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out[str(data.get("unit", p.stem))] = data
    return out


def _warm_code(cfg: RunConfig) -> str:
    return (
        "import workbench.report as _wb_report\n"
        f"_wb_report.warm(warehouse={cfg.source!r}, period={cfg.period!r}, "
        f"indicator_set={cfg.indicator_set!r})\n"
        "del _wb_report\n"
    )


def _jobs(cfg: RunConfig, skip: set[str]) -> list[Job]:
    base = {"period": cfg.period, "warehouse": cfg.source, "indicator_set": cfg.indicator_set}
    jobs = []
    if cfg.city_notebook and CITY_UNIT not in skip:
        jobs.append(
            Job(
                CITY_UNIT,
                t(
                    "batch.city_label",
                    whole=report.set_labels(cfg.indicator_set, cfg.period)[0].whole,
                ),
                str(_abs_nb(cfg.city_notebook)),
                {**base},
                "city/city_overview",
                cfg.timeout * 3,
                cfg.death_retries,
            )
        )
    for code in cfg.counties:
        if code in skip:
            continue
        jobs.append(
            Job(
                code,
                cfg.county_names.get(code, code),
                str(_abs_nb(cfg.notebook)),
                {"county": code, **base, **cfg.parameters},
                f"counties/{code}",
                cfg.timeout,
                cfg.death_retries,
            )
        )
    return jobs


def _abs_nb(path: str) -> Path:
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = project_root() / p
    return p.resolve()


class Runner:
    """Orchestrates one run: executes units, publishes them, writes index and manifest."""

    def __init__(
        self, cfg: RunConfig, resume: bool = False, echo: Callable[[str], None] | None = None
    ) -> None:
        self.cfg = cfg
        self.resume = resume
        self.run_dir = cfg.run_dir.resolve()
        self.echo = echo or (lambda msg: print(msg, file=sys.stderr))
        self.states: dict[str, dict] = {}
        self.stop = threading.Event()
        self.t_start = time.perf_counter()
        self.started = now_iso()

    @functools.cached_property
    def _labels(self) -> tuple[Any, str]:
        """The set's words (its reports' title) and its period's label (2023财年)."""
        return report.set_labels(self.cfg.indicator_set, self.cfg.period)

    # -- public
    def run(self) -> RunResult:
        with run_lock(self.run_dir):
            return self._run()

    def _run(self) -> RunResult:

        cfg = self.cfg
        check_pin(cfg)
        remove_partial_files(self.run_dir)
        if not (self.run_dir / "run.json").exists():
            write_json(self.run_dir / "run.json", cfg.to_json())
        previous = load_states(self.run_dir) if self.resume else {}
        self.states = {u: s for u, s in previous.items() if s.get("status") == "ok"}
        skip = set(self.states)
        jobs = _jobs(cfg, skip)
        spec = SlotSpec(
            cfg.kernel_name,
            self._kernel_env(),
            _warm_code(cfg),
            str(self.run_dir / "logs"),
            cfg.start_retries,
            cfg.reuse_kernels,
            cfg.recycle_after,
        )
        executor: Any = None
        if jobs:
            executor = (
                DaskExecutor(spec, cfg.jobs, cfg.scheduler)
                if cfg.executor == "dask"
                else LocalExecutor(spec, cfg.jobs)
            )
        publish.write_assets(self.run_dir)
        inputs = self._inputs()
        self._write_outputs(inputs, state="running")
        if skip:
            self.echo(t("batch.resume_skip", n=len(skip)))
        bar = self._progress(sum(1 for j in jobs if j.unit != CITY_UNIT))
        interrupted = False
        old_term = (
            signal.getsignal(signal.SIGTERM)
            if threading.current_thread() is threading.main_thread()
            else None
        )
        if old_term is not None:
            signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            if executor is not None:
                executor.run(jobs, lambda o: self._on_done(o, bar), self.stop)
        except KeyboardInterrupt:
            interrupted = True
            self.stop.set()
        finally:
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
            if bar is not None:
                bar.close()
            if executor is not None:
                executor.close()
        if not interrupted:
            self._city_documents()
            self._pdfs()
        self._write_outputs(inputs, state="interrupted" if interrupted else "complete")
        ok = [u for u, s in self.states.items() if s.get("status") == "ok" and u != CITY_UNIT]
        failed = {
            u: s.get("error", "") for u, s in self.states.items() if s.get("status") == "failed"
        }
        if not interrupted and not failed:
            release_pin(cfg)  # nothing left to resume; the manifest keeps its version
        return RunResult(
            cfg.run_id, self.run_dir, ok, failed, sorted(skip), interrupted=interrupted
        )

    # -- pieces
    def _kernel_env(self) -> dict[str, str]:
        cwd = self.run_dir / "counties"
        cwd.mkdir(parents=True, exist_ok=True)
        return {
            "WORKBENCH_BATCH": "1",
            "WORKBENCH_WAREHOUSE": self.cfg.source,
            "WORKBENCH_KERNEL_CWD": str(cwd),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def _progress(self, total: int) -> Any:
        if not self.cfg.progress or total == 0:
            return None
        from tqdm import tqdm

        tty = sys.stderr.isatty()
        return tqdm(
            total=total,
            desc=t("batch.progress.desc", noun=self._labels[0].unit_noun),
            unit=t("batch.progress.unit"),
            file=sys.stderr,
            mininterval=0.5 if tty else 30,
            dynamic_ncols=True,
            ascii=not tty,
        )

    def _on_done(self, outcome: Outcome, bar: Any) -> None:

        files: dict[str, str] = {}
        t_pub = time.perf_counter()
        try:
            files = self._publish(outcome)
        except Exception as exc:  # noqa: BLE001 - a publish failure fails this unit only
            log.exception("publishing %s failed", outcome.unit)
            outcome.status, outcome.error_kind = "failed", E_PUBLISH
            outcome.error = t("batch.err.publish", detail=f"{type(exc).__name__}: {exc}")
        state = {
            "unit": outcome.unit,
            "label": outcome.label,
            "status": outcome.status,
            "error_kind": outcome.error_kind,
            "error": outcome.error,
            "attempts": outcome.attempts,
            "seconds": round(outcome.seconds, 3),
            "kernel_start_seconds": round(outcome.kernel_seconds, 3),
            "publish_seconds": round(time.perf_counter() - t_pub, 3),
            "started": outcome.started,
            "finished": now_iso(),
            "worker": outcome.worker,
            **{k: outcome.summary.get(k) for k in ("score", "rank", "grade", "lagging")},
            **files,
        }
        write_json(self.run_dir / "state" / f"{outcome.unit}.json", state, durable=False)
        self.states[outcome.unit] = state
        if bar is not None and outcome.unit != CITY_UNIT:
            failed = sum(1 for s in self.states.values() if s.get("status") == "failed")
            bar.set_postfix_str(t("batch.progress.failed", n=failed), refresh=False)
            bar.update(1)

    def _publish(self, outcome: Outcome) -> dict[str, str]:

        if outcome.notebook is None:
            return {}
        stem = "city/city_overview" if outcome.unit == CITY_UNIT else f"counties/{outcome.unit}"
        ipynb = self.run_dir / f"{stem}.ipynb"
        html_path = self.run_dir / f"{stem}.html"
        nb = outcome.notebook
        atomic_write(ipynb, _dumps_nb(nb), durable=False)
        title = (
            outcome.label
            if outcome.unit == CITY_UNIT
            else outcome.label + self._labels[0].report_title
        )
        footer = batch_footer(self.cfg.run_id, self._labels[1])
        atomic_write(
            html_path,
            publish.notebook_html(
                nb, title, html_path, self.run_dir, footer, fast=self.cfg.fast_export
            ),
            durable=False,
        )
        return {"ipynb": f"{stem}.ipynb", "html": f"{stem}.html"}

    def _pdfs(self) -> None:
        """PDF copies through headless Chromium, after the notebooks (never in their way)."""
        if self.cfg.pdf == "none":
            return
        from concurrent.futures import ThreadPoolExecutor

        wanted = [
            u
            for u, s in self.states.items()
            if s.get("html") and not s.get("pdf") and (self.cfg.pdf == "all" or u == CITY_UNIT)
        ]
        if not wanted:
            return
        if publish.chromium_path() is None:
            self.echo(t("batch.pdf.no_chromium"))
            return

        def one(unit: str) -> tuple[str, str | None]:
            return unit, self._pdf(self.run_dir / self.states[unit]["html"])

        with ThreadPoolExecutor(max_workers=max(1, min(self.cfg.jobs, 4))) as pool:
            for unit, rel in pool.map(one, wanted):
                if rel:
                    self.states[unit]["pdf"] = rel
                    write_json(
                        self.run_dir / "state" / f"{unit}.json", self.states[unit], durable=False
                    )

    def _pdf(self, html_path: Path) -> str | None:

        pdf_path = html_path.with_suffix(".pdf")
        try:
            publish.html_to_pdf(html_path, pdf_path)
        except RuntimeError as exc:
            self.echo(str(exc))
            return None
        return str(pdf_path.relative_to(self.run_dir))

    def _city_documents(self) -> None:
        """The 通报 and whatever else the calendar calls for this month (Word, and PDF when
        LibreOffice is here), from the same evaluation the notebooks used."""
        if not self.cfg.docx:
            return
        state = self.states.get(
            CITY_UNIT,
            {
                "unit": CITY_UNIT,
                "label": t("batch.city_label", whole=self._labels[0].whole),
                "status": "ok",
            },
        )
        if state.get("docx") and (self.run_dir / state["docx"]).exists():
            return
        from workbench.documents import options as dopt
        from workbench.documents import produce

        try:
            city = report.city_report(self.cfg.period, self.cfg.source, self.cfg.indicator_set)
            docs = produce.write_all(
                city,
                dopt.DocOptions.from_json(self.cfg.documents),
                self.run_dir / "city",
                lambda p: report.city_report(p, self.cfg.source, self.cfg.indicator_set),
                run_id=self.cfg.run_id,
                pdf=self.cfg.pdf != "none",
                echo=self.echo,
                submissions=_submissions(self.cfg.source),
                screening=_screening(self.cfg.source),
            )
            state["documents"] = docs
            state["docx"] = docs[0]["docx"]
            if docs[0].get("pdf"):
                state["docx_pdf"] = docs[0]["pdf"]
        except Exception as exc:  # noqa: BLE001 - reported like any failed unit
            log.exception("documents failed")
            state.update(
                status="failed",
                error_kind=E_PUBLISH,
                error=t("batch.err.docx", detail=f"{type(exc).__name__}: {exc}"),
            )
        write_json(self.run_dir / "state" / f"{CITY_UNIT}.json", state)
        self.states[CITY_UNIT] = state

    def _inputs(self) -> dict[str, Any]:
        """What the run read. The warehouse is the pinned copy's version, recorded when it was
        taken: nothing written to the live file since can change it."""
        wh = Path(self.cfg.warehouse)
        ind_dir = indicators_dir()
        pinned = self.cfg.pinned
        if self.cfg.snapshot:
            warehouse = {
                "path": str(wh),
                "snapshot": self.cfg.snapshot,
                **{k: v for k, v in pinned.items() if k != "submissions"},
            }
        else:  # a run planned before runs were pinned
            warehouse = {
                "path": str(wh),
                "sha256": sha256_file(wh) if wh.exists() else None,
                "bytes": wh.stat().st_size if wh.exists() else None,
            }
        out: dict[str, Any] = {"warehouse": warehouse, "notebooks": {}, "indicator_files": {}}
        for nb in (self.cfg.notebook, self.cfg.city_notebook):
            if nb and _abs_nb(nb).exists():
                out["notebooks"][nb] = sha256_file(_abs_nb(nb))
        for p in sorted(ind_dir.rglob("*.y*ml")) if ind_dir.exists() else []:
            out["indicator_files"][str(p.relative_to(ind_dir))] = sha256_file(p)
        out["submissions"] = pinned["submissions"] if self.cfg.snapshot else _submission_digest(wh)
        return out

    def _write_outputs(self, inputs: dict[str, Any], state: str) -> None:

        cfg = self.cfg
        units = []
        for code in cfg.counties:
            st = self.states.get(
                code, {"unit": code, "label": cfg.county_names.get(code, code), "status": "pending"}
            )
            units.append(st)
        n_ok = sum(1 for u in units if u["status"] == "ok")
        n_failed = sum(1 for u in units if u["status"] == "failed")
        city = self.states.get(CITY_UNIT, {})
        final = state == "complete"
        state_label = t(
            {"complete": "batch.state.done", "running": "batch.state.running"}.get(
                state, "batch.state.interrupted"
            )
        )
        meta = {
            "title": t(
                "batch.index.title",
                period=self._labels[1],
                noun=self._labels[0].unit_noun,
                title=self._labels[0].report_title,
            ),
            "words": {
                "noun": self._labels[0].unit_noun,
                "whole": self._labels[0].whole,
                "code_label": self._labels[0].code_label,
            },
            "period_label": self._labels[1],
            "run_id": cfg.run_id,
            "state_label": state_label,
            "total": len(units),
            "ok": n_ok,
            "failed": n_failed,
            "pending": len(units) - n_ok - n_failed,
            "city_html": city.get("html"),
            "docx": city.get("docx"),
            "documents": city.get("documents") or [],
            "city_pdf": city.get("pdf"),
            "footer": batch_footer(cfg.run_id, self._labels[1]),
        }
        atomic_write(self.run_dir / "index.html", publish.index_html(self.run_dir, meta, units))
        seconds = [u.get("seconds") or 0 for u in units if u["status"] != "pending"]
        manifest = {
            "run_id": cfg.run_id,
            "status": state,
            "period": cfg.period,
            "period_requested": cfg.period_requested,
            "created": cfg.created,
            "started": self.started,
            "finished": now_iso() if final else None,
            "wall_seconds": round(time.perf_counter() - self.t_start, 3),
            "package": {"name": "workbench", "version": __version__, "git_commit": git_commit()},
            "python": sys.version.split()[0],
            "host": socket.gethostname(),
            "parameters": {
                k: v for k, v in cfg.to_json().items() if k not in ("county_names", "counties")
            },
            "counties_requested": cfg.counties,
            "inputs": inputs,
            "totals": {
                "counties": len(units),
                "ok": n_ok,
                "failed": n_failed,
                "pending": len(units) - n_ok - n_failed,
                "county_seconds_sum": round(sum(seconds), 3),
            },
            "city": city,
            "units": {u["unit"]: u for u in units},
        }
        write_json(self.run_dir / "manifest.json", manifest)


def _submissions(warehouse: str) -> Any:
    """The warehouse's submissions (for the 通报's not-submitted list); None when unreadable."""
    try:
        from workbench.results import submissions

        return submissions(warehouse)
    except Exception:  # noqa: BLE001 - the list is optional, the document is not
        return None


def _screening(warehouse: str) -> Any:
    """The screening results the 通报's section reads; None before any screening run or when
    unreadable (the section is then left out, the document is not)."""
    try:
        from workbench.screening.summary import digest_inputs
        from workbench.warehouse import Warehouse

        with Warehouse(Path(warehouse), read_only=True) as wh:
            return digest_inputs(wh)
    except Exception:  # noqa: BLE001 - the section is optional, the document is not
        log.warning("screening results unreadable; the 通报 has no screening section")
        return None


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _submission_digest(wh: Path) -> dict[str, Any]:
    """The input files behind the warehouse: a count and a digest of their sha256 ids."""
    if not wh.exists():
        return {}
    try:
        import duckdb

        con = duckdb.connect(str(wh), read_only=True)
        try:
            rows = con.execute(
                "SELECT submission_id FROM submissions "
                "WHERE status IS NULL OR status <> '已被替换' ORDER BY 1"
            ).fetchall()
        finally:
            con.close()
    except Exception as exc:  # noqa: BLE001 - the manifest notes what it could not read
        return {"error": str(exc)[:200]}
    h = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
    return {"count": len(rows), "sha256_of_ids": h}


# ----------------------------------------------------------------------------- planning a run
def plan_run(
    period: str = "latest",
    warehouse: str | None = None,
    counties: list[str] | None = None,
    runs_dir: str = "runs",
    run_id: str | None = None,
    **options: Any,
) -> RunConfig:
    """Resolve the period and the county list from the warehouse; nothing is written yet."""

    wh = warehouse_path(warehouse).resolve()
    if not wh.exists():
        raise FileNotFoundError(t("batch.err.no_warehouse", path=str(wh)))
    pending, pinned = pin_warehouse(
        wh, f".pending-{uuid.uuid4().hex[:12]}", wait=options.pop("pin_wait", PIN_WAIT_S)
    )
    try:
        cfg = _plan_on(pending, pinned, period, wh, counties, runs_dir, run_id, options)
        final = pending.with_name(f"{cfg.run_id}.duckdb")
        os.replace(pending, final)
    except BaseException:
        snapshots.discard(pending)
        raise
    cfg.snapshot = str(final)
    return cfg


def _plan_on(
    snapshot: Path,
    pinned: dict[str, Any],
    period: str,
    wh: Path,
    counties: list[str] | None,
    runs_dir: str,
    run_id: str | None,
    options: dict[str, Any],
) -> RunConfig:
    ledgers = report.load_ledgers(snapshot)
    resolved = report.resolve_period(period, ledgers, snapshot, options.get("indicator_set"))
    table = report.unit_table(snapshot, resolved, options.get("indicator_set"))
    names = dict(zip(table["county"].astype(str), table["county_name"].astype(str)))
    if counties:
        by_name = {v: k for k, v in names.items()}
        chosen, unknown = [], []
        for c in counties:
            code = c if c in names else by_name.get(c)
            (chosen if code else unknown).append(code or c)
        if unknown:
            raise ValueError(t("batch.err.unknown_counties", names="、".join(unknown)))
    else:
        chosen = sorted(names)
    if not chosen:
        raise ValueError(t("batch.err.no_counties"))
    return RunConfig(
        run_id=run_id or new_run_id(resolved),
        period=resolved,
        period_requested=period,
        warehouse=str(wh),
        runs_dir=str(runs_dir),
        counties=chosen,
        county_names={c: names.get(c, c) for c in chosen},
        snapshot=str(snapshot),
        pinned=pinned,
        **options,
    )


# ----------------------------------------------------------------------------- the pinned state
PIN_WAIT_S = 900.0  # how long a run waits for an ingest in progress to finish


def pin_folder(live: Path) -> Path:
    """Where runs keep their pinned copies: the user's private cache folder beside the
    warehouse (a run folder is published and a copy holds personal data)."""
    base = pcache.default_dir(live)
    folder = pcache.private_dir(base / "run-snapshots") if base is not None else None
    if folder is None:
        raise ValueError(t("batch.err.pin_folder", path=str(live)))
    return folder


def pin_warehouse(
    live: Path, name: str, wait: float = PIN_WAIT_S, echo: Callable[[str], None] | None = None
) -> tuple[Path, dict[str, Any]]:
    """A committed copy of the live warehouse (`<pin folder>/<name>.duckdb`) that the whole
    run reads (planning, kernels, documents, manifest), and the version it holds. Waits,
    saying so, while an ingest writes the file: an ingest landing later changes the live file,
    never the run."""
    folder = pin_folder(live)
    prune_pins(folder)
    dest = folder / f"{name}.duckdb"

    def copied() -> str | None:
        try:
            return snapshots.copy_committed(live, dest, quiet=0.5)
        except OSError as exc:
            raise ValueError(t("batch.err.pin_copy", path=str(live), problem=exc)) from exc

    taken = _waiting(live, copied, wait, echo)
    try:
        pinned = _seal(dest)
    except Exception as exc:
        snapshots.discard(dest)
        raise ValueError(t("batch.err.pin_copy", path=str(live), problem=exc)) from exc
    return dest, {"live_fingerprint": taken, "pinned_at": now_iso(), **pinned}


def _seal(copy: Path) -> dict[str, Any]:
    """Fold the copy's WAL into it (one self-contained file whose hash names the state), make
    it read-only, and describe it: hash, size, the submissions it holds."""
    import duckdb

    con = duckdb.connect(str(copy))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    snapshots.discard(snapshots.wal_of(copy))
    os.chmod(copy, 0o400)
    return {
        "sha256": sha256_file(copy),
        "bytes": copy.stat().st_size,
        "submissions": _submission_digest(copy),
    }


PIN_KEEP_DAYS = 45  # a run left unfinished longer than this is redone, not resumed
PENDING_KEEP_S = 6 * 3600  # a planner killed before its run started leaves `.pending-*`


def prune_pins(folder: Path, now: float | None = None) -> list[Path]:
    """Remove pinned copies nobody will resume: those of runs left unfinished for over
    PIN_KEEP_DAYS (each is a whole warehouse), and copies of planners that died before
    naming their run. Returns what was removed."""
    now = time.time() if now is None else now
    gone = []
    for copy in folder.glob("*.duckdb"):
        try:
            age = now - copy.stat().st_mtime
        except OSError:
            continue
        limit = PENDING_KEEP_S if copy.name.startswith(".pending-") else PIN_KEEP_DAYS * 86400
        if age > limit:
            snapshots.discard(copy)
            gone.append(copy)
    return gone


def release_pin(cfg: RunConfig) -> None:
    """Remove the run's pinned copy (once nothing is left to resume)."""
    if cfg.snapshot:
        snapshots.discard(Path(cfg.snapshot))


def check_pin(cfg: RunConfig) -> None:
    """A resumed run reads the very state it started on, or refuses."""
    if not cfg.snapshot:
        return  # planned before runs were pinned: reads the live file as it did
    copy = Path(cfg.snapshot)
    if not copy.is_file() or (
        cfg.pinned.get("bytes") is not None and copy.stat().st_size != cfg.pinned["bytes"]
    ):
        raise FileNotFoundError(t("batch.err.pin_gone", run_id=cfg.run_id, path=str(copy)))


def load_run(runs_dir: str | Path, run_id: str) -> RunConfig:
    path = Path(runs_dir) / run_id / "run.json"
    if not path.exists():
        raise FileNotFoundError(t("batch.err.no_run", run_id=run_id, runs_dir=str(runs_dir)))
    return RunConfig.from_json(json.loads(path.read_text(encoding="utf-8")))


def list_runs(runs_dir: str | Path) -> list[dict[str, Any]]:
    """Run history from the run folders, newest first."""
    out = []
    root = Path(runs_dir)
    for run_json in sorted(root.glob("*/run.json")):
        d = run_json.parent
        try:
            cfg = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        man = {}
        with contextlib.suppress(OSError, ValueError):
            man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        states = load_states(d)
        counties = cfg.get("counties", [])
        ok = sum(1 for c in counties if states.get(c, {}).get("status") == "ok")
        failed = sum(1 for c in counties if states.get(c, {}).get("status") == "failed")
        status = man.get("status", "running")
        if status == "running" and not _locked(d):
            status = "interrupted"
        out.append(
            {
                "run_id": d.name,
                "period": cfg.get("period"),
                "created": cfg.get("created"),
                "finished": man.get("finished"),
                "total": len(counties),
                "ok": ok,
                "failed": failed,
                "status": status,
                "path": str(d),
            }
        )
    out.sort(key=lambda r: r.get("created") or "", reverse=True)
    return out


def run_period(
    period: str | None,
    warehouse: str | None = None,
    wait: float = PIN_WAIT_S,
    echo: Callable[[str], None] | None = None,
) -> str:
    """The month a run of `period` covers, as `plan_run` resolves it, without planning the
    run: a YYYY-MM as given; `latest` from the warehouse's submissions and roster (the
    ledgers' dates only when those do not decide) — read once no ingest is writing it,
    waiting as a run's planning does."""

    wh = warehouse_path(warehouse).resolve()
    latest = not period or str(period).lower() == "latest"
    if latest and not wh.exists():
        raise FileNotFoundError(t("batch.err.no_warehouse", path=str(wh)))
    if latest:
        _wait_for_writer(wh, wait, echo)
    return resolve_period(period, wh if wh.exists() else None)


def _wait_for_writer(live: Path, wait: float, echo: Callable[[str], None] | None) -> None:
    """Return once no other process writes `live`, saying once that it waits; refuse after
    `wait` seconds."""
    _waiting(live, lambda: None if snapshots.writer_active(live) else True, wait, echo)


def _waiting(
    live: Path, attempt: Callable[[], Any], wait: float, echo: Callable[[str], None] | None
) -> Any:
    """`attempt()` until it returns something other than None, once a second while an ingest
    writes `live`, saying once that it waits; refuse after `wait` seconds."""
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    deadline = time.monotonic() + wait
    said = False
    while (got := attempt()) is None:
        if time.monotonic() > deadline:
            raise ValueError(t("batch.err.pin_wait", path=str(live), seconds=int(wait)))
        if not said:
            echo(t("batch.pin.waiting", path=str(live)))
            said = True
        time.sleep(1.0)
    return got


def find_resumable(runs_dir: str | Path, period: str) -> str | None:
    """The newest interrupted run of `period`, if any (for `--resume auto`)."""
    for row in list_runs(runs_dir):
        if row["period"] == period and row["status"] == "interrupted":
            return str(row["run_id"])
    return None


def _locked(run_dir: Path) -> bool:
    lock = run_dir / ".lock"
    if not lock.exists():
        return False
    with lock.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def failure_summary(result: RunResult, cfg: RunConfig) -> str:
    """The Chinese summary printed on stderr at the end of a run."""
    words = report.set_labels(cfg.indicator_set, cfg.period)[0]
    lines = [
        t(
            "batch.summary",
            noun=words.unit_noun,
            total=len(cfg.counties),
            ok=len(result.ok),
            failed=len([u for u in result.failed if u != CITY_UNIT]),
            skipped=len(result.skipped),
            run_dir=str(result.run_dir),
        )
    ]
    for unit, reason in result.failed.items():
        label = (
            t("batch.city_label", whole=words.whole)
            if unit == CITY_UNIT
            else f"{cfg.county_names.get(unit, unit)}（{unit}）"
        )
        lines.append(t("batch.summary_line", label=label, reason=reason))
    return "\n".join(lines)
