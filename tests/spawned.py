"""Code that tests run in spawned processes (multiprocessing "spawn" imports the module
of the target): a module of its own, light to import, so each child starts quickly."""

from fer_audit.data.registry import load_dataset, register_dataset
from fer_audit.workspace import Busy, Workspace


def register_when_told(root: str, data: str, name: str, replace: bool, barrier, results) -> None:
    barrier.wait()
    try:
        register_dataset(Workspace(root), name, data, kind="sasefe", replace=replace)
        results.put(("ok", data))
    except Exception as exc:  # the test reports whatever happened
        results.put((type(exc).__name__, str(exc)))


def load_when_told(root: str, results) -> None:
    results.put(("reading", ""))
    try:
        results.put(("ok", len(load_dataset(Workspace(root), "sase").index)))
    except Exception as exc:  # the test reports whatever happened
        results.put((type(exc).__name__, str(exc)))


def save_under_the_lock(root: str, results) -> None:
    try:
        with Workspace(root).lock("dataset-sase", timeout=0.5):
            results.put(("ok", ""))
    except Busy as exc:
        results.put(("Busy", str(exc)))
