"""Preprocessing a registered dataset: every video through `process_clip`, cached,
resumable, in parallel processes and in shards for a cluster.

A shard takes every N-th video of the dataset sorted by video_id (`--shard I/N`, or
SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT), so shards are disjoint and together
cover the dataset. Each finished video is cached at once; a rerun (after kill -9, or
by another shard) skips what is finished and redoes what was half done. One bad
video never stops the batch: it gets a status and a reason. The report merges every
shard's entries.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from fer_audit import atomic
from fer_audit.data.index import first_problems
from fer_audit.data.registry import load_dataset
from fer_audit.errors import DamagedFile
from fer_audit.procs import die_with_parent
from fer_audit.safe_csv import to_people_csv
from fer_audit.video.cache import ClipCache, content_hash
from fer_audit.video.clip import ClipResult, make_detector, process_clip
from fer_audit.video.settings import PreprocessSettings

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str, str], None]  # done, total, video_id, status
REPORT_COLUMNS = [
    "video_id",
    "path",
    "subject",
    "gender",
    "emotion",
    "status",
    "reason",
    "n_frames",
    "keyframes",
    "faces_found",
    "content_sha256",
]


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """`I/N` (0-based I), else the SLURM array variables, else the whole dataset."""
        if text:
            try:
                index, count = (int(x) for x in text.split("/"))
            except ValueError:
                raise ValueError(f"shard {text!r} is not I/N, e.g. 0/4") from None
        elif "SLURM_ARRAY_TASK_ID" in os.environ and "SLURM_ARRAY_TASK_COUNT" in os.environ:
            first = int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0"))
            step = int(os.environ.get("SLURM_ARRAY_TASK_STEP", "1") or 1)
            index = (int(os.environ["SLURM_ARRAY_TASK_ID"]) - first) // step
            count = int(os.environ["SLURM_ARRAY_TASK_COUNT"])
        else:
            return cls()
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard {index}/{count}: need 0 <= I < N")
        return cls(index, count)

    def take(self, index: pd.DataFrame) -> pd.DataFrame:
        ordered = index.sort_values("video_id", kind="stable").reset_index(drop=True)
        return ordered.iloc[self.index :: self.count]


@dataclass
class PreprocessSummary:
    statuses: Counter
    processed: int
    skipped: int
    report_path: Path
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # id, status, reason

    def lines(self) -> list[str]:
        """The counts, a line per video that is not ok (with its reason; the first
        MAX_PROBLEMS_SHOWN, then a count), the report, which lists every one."""
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        lines = [f"{self.processed} processed, {self.skipped} already cached; {counts}"]
        problems = [f"{video}: {status}: {reason}" for video, status, reason in self.problems]
        lines += [f"  {line}" for line in first_problems(problems)]
        return [*lines, f"report: {self.report_path}"]


def report_path(workspace, dataset: str, settings: PreprocessSettings) -> Path:
    return workspace.cache_dir / "reports" / dataset / f"{settings.key()}.csv"


# Worker processes build their detector once.
_WORKER: dict = {}


def _init_worker(settings: PreprocessSettings, device: str, cache_dir: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["settings"] = settings
    _WORKER["detector"] = make_detector(settings, device)
    _WORKER["cache"] = ClipCache(Path(cache_dir), settings)


def _init_pool_worker(parent_pid: int, *init_args) -> None:
    """A pool worker's start: it dies with the process that started it (a kill -9 of
    `fer-audit preprocess` or of its job leaves no worker), then builds its detector."""
    die_with_parent(parent_pid)
    _init_worker(*init_args)


def _work(item: tuple[str, str, str]) -> tuple[str, str, str]:
    video_id, path, digest = item
    result = process_clip(path, _WORKER["settings"], detector=_WORKER["detector"])
    _WORKER["cache"].store(digest, result, source=video_id)
    return video_id, result.status, result.reason


def preprocess_dataset(
    workspace,
    dataset: str,
    settings: PreprocessSettings | None = None,
    *,
    workers: int = 1,
    shard: Shard = Shard(),
    device: str = "auto",
    progress: Progress | None = None,
) -> PreprocessSummary:
    """Preprocess this shard's videos of `dataset`; returns the counts and the report."""
    settings = settings or PreprocessSettings()
    data = load_dataset(workspace, dataset)
    mine = shard.take(data.index)
    cache = ClipCache(workspace.cache_dir, settings)
    hashes = HashMemo(workspace, dataset)
    todo, statuses, problems, skipped = [], Counter(), [], 0
    for row in mine.itertuples(index=False):
        path = data.video_path(row.path)
        digest = hashes.get(path)
        done = (
            cache.status(digest)
            if digest
            else {"status": "unreadable", "reason": "file not found or unreadable"}
        )
        if done is None:
            todo.append((row.video_id, str(path), digest))
            continue
        skipped += digest is not None
        statuses[done["status"]] += 1
        if done["status"] != "ok":
            problems.append((row.video_id, done["status"], done["reason"]))
    hashes.save()
    total = len(todo)
    # closed at once on any exception (SIGTERM, Ctrl-C), so its pool drops the queued
    # videos; left to the garbage collector, the pool would run them all first
    with contextlib.closing(_run(todo, settings, workers, device, workspace.cache_dir)) as runner:
        for done_count, (video_id, status, reason) in enumerate(runner, start=1):
            statuses[status] += 1
            if status != "ok":
                problems.append((video_id, status, reason))
            if progress:
                progress(done_count, total, video_id, status)
    path = write_report(workspace, dataset, settings)
    return PreprocessSummary(statuses, total, skipped, path, sorted(problems))


def _run(todo, settings, workers, device, cache_dir: Path):
    """Results as videos finish. When a worker process dies (e.g. killed for memory),
    the unfinished videos run again in a fresh pool; if that breaks too, they run one
    at a time, and a video that kills its worker is reported unreadable."""
    if not todo:
        return
    cache_dir = str(cache_dir)
    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    if workers <= 1:
        _init_worker(settings, device, cache_dir, threads)
        yield from map(_work, todo)
        return
    args = (settings, device, cache_dir, threads)
    unfinished = yield from _pool_pass(todo, workers, args)
    if unfinished:  # a worker died: once more in a fresh pool ...
        unfinished = yield from _pool_pass(unfinished, workers, args)
    for item in unfinished:  # ... then one at a time, so a second crash names its video
        retried = yield from _pool_pass([item], 1, args)
        if retried:
            result = ClipResult(
                "unreadable", "the worker process died on this video (out of memory?)"
            )
            ClipCache(Path(cache_dir), settings).store(item[2], result, source=item[0])
            yield item[0], result.status, result.reason


def _pool_pass(items, workers, init_args):
    """Run `items` in a process pool; yields results, returns the items left unfinished
    when a worker died."""
    context = multiprocessing.get_context("spawn")
    pending = {}
    # The workers are spawned by this (the submitting) thread, which outlives them.
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_pool_worker,
        initargs=(os.getpid(), *init_args),
    ) as pool:
        try:
            pending = {pool.submit(_work, item): item for item in items}
            for future in as_completed(pending):
                yield future.result()
                del pending[future]
        except BrokenProcessPool:
            return [
                item
                for future, item in pending.items()
                if not future.done() or future.exception() is not None
            ]
        except BaseException:  # SIGTERM (Terminated), Ctrl-C, a closed generator
            # stop now: the pool's exit would otherwise wait for the videos queued (and
            # cancelling them alone did not always stop it); cache entries are written
            # atomically, so a worker ended mid-video leaves none of its video
            workers_now = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in workers_now:
                process.terminate()
            raise
    return []


class HashMemo:
    """Content hashes remembered by (path, size, modification time), so reports and
    reruns do not re-read every video."""

    def __init__(self, workspace, dataset: str):
        self.workspace, self.dataset = workspace, dataset
        self.path = workspace.cache_dir / "hashes" / f"{dataset}.json"
        self.memo = self._read()

    def _read(self) -> dict:
        """The remembered hashes; a damaged memo is only a cache, so it starts afresh."""
        try:
            return atomic.read_json(self.path) if self.path.exists() else {}
        except DamagedFile as exc:
            logger.warning("%s; the hashes are computed again", exc)
            return {}

    def get(self, path: Path) -> str | None:
        try:
            stat = path.stat()
            key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
            if key not in self.memo:
                self.memo[key] = content_hash(path)
            return self.memo[key]
        except OSError:
            return None

    def save(self) -> None:
        """Merge into the memo on disk under its lock: shards saving at once lose nothing."""
        with self.workspace.lock(f"hashes-{self.dataset}"):
            atomic.write_json(self.path, {**self._read(), **self.memo})


def build_report(workspace, dataset: str, settings: PreprocessSettings) -> pd.DataFrame:
    """One row per video of the dataset: its status and reason under `settings`
    (`pending` when no shard has finished it yet)."""
    data = load_dataset(workspace, dataset)
    cache = ClipCache(workspace.cache_dir, settings)
    hashes = HashMemo(workspace, dataset)
    rows = []
    for row in data.index.sort_values("video_id").itertuples(index=False):
        entry = {
            "video_id": row.video_id,
            "path": row.path,
            "subject": row.subject,
            "gender": row.gender,
            "emotion": row.emotion,
        }
        digest = hashes.get(data.video_path(row.path))
        if digest is None:
            rows.append(entry | {"status": "unreadable", "reason": "file not found"})
            continue
        status = cache.status(digest) or {"status": "pending", "reason": "not processed yet"}
        details = {k: status.get(k) for k in REPORT_COLUMNS if k in status}
        rows.append(entry | details | {"content_sha256": digest})
    hashes.save()
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def write_report(workspace, dataset: str, settings: PreprocessSettings) -> Path:
    path = report_path(workspace, dataset, settings)
    frame = build_report(workspace, dataset, settings)
    with atomic.atomic_path(path) as tmp:
        to_people_csv(frame, tmp, index=False)  # read by people, in spreadsheets
    atomic.write_json(path.with_suffix(".json"), asdict(settings))
    return path


def load_clip(workspace, path: Path, settings: PreprocessSettings) -> ClipResult | None:
    """The cached result of one video (None when it was not processed)."""
    cache = ClipCache(workspace.cache_dir, settings)
    digest = content_hash(path)
    status = cache.status(digest)
    if status is None:
        return None
    result = ClipResult(status["status"], status["reason"], n_frames=status["n_frames"])
    if status["status"] == "ok":
        for name, value in cache.load(digest).items():
            setattr(result, name, value)
    return result
