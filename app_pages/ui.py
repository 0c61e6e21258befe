"""Streamlit pieces the dashboard pages share (imported by the pages only; the rest of
the library never imports Streamlit).

Widgets keep their values across pages: a keyed widget's state is dropped when a page
without it runs, so `keep` writes each key back at the top of every page using it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.errors import DamagedFile, one_line
from fer_audit.fairness import AuditResult
from fer_audit.jobs import Job, JobRegistry, move_registry_aside
from fer_audit.labels import train_set_order
from fer_audit.report import live_figures
from fer_audit.report.sources import (
    CORRECTION_WORDS,
    FAMILY_WORDS,
    PREDICTIONS,
    SAVED,
    AuditSource,
    SavedAudit,
    filter_result,
    list_sources,
    open_source,
    seed_label,
    table_problem,
)
from fer_audit.train.runs import read_run
from fer_audit.workspace import Workspace

#: the audit selection's widget keys, kept across pages
_SELECTION_PREFIX = "audit_"
_log = logging.getLogger("fer_audit")
#: errors whose message is written for people; others also show their type
_PLAIN_ERRORS = (ValueError, OSError)
_MOVED = "_fer_audit_registry_moved"


@contextlib.contextmanager
def page_guard() -> Iterator[None]:
    """Run a page (app.py wraps `st.navigation(...).run()`) or a fragment (as a
    decorator, `@page_guard()` under `@st.fragment`) so that no user sees a traceback:
    any exception is logged with its traceback to the server log (logger "fer_audit")
    and shown as `st.error`, a DamagedFile's message as it is. Streamlit's own control
    flow (st.rerun, st.stop, st.switch_page) passes through."""
    try:
        yield
    except (ScriptControlException, FragmentHandledException):
        raise  # a rerun or stop, or a fragment's error Streamlit has shown already
    except Exception as exc:  # noqa: BLE001 - the last stop before the user's screen
        _log.exception("error on a dashboard page")
        show_error(exc)


def show_error(exc: Exception, *, key: str = "guard") -> None:
    """A damaged file's message as it is (with the offer to move a damaged job registry
    aside); any other error in one line, pointing at the server log."""
    if isinstance(exc, DamagedFile):
        show_damaged(exc, key=key)
        return
    text = one_line(exc)
    if not isinstance(exc, _PLAIN_ERRORS):
        text = f"{type(exc).__name__}: {text}"
    st.error(
        f"Something went wrong on this page: {plain_markdown(text.rstrip('.'))}. "
        "The details are in the server log.",
        icon=":material/error:",
    )


def show_damaged(exc: DamagedFile, *, key: str) -> None:
    """`exc`'s message; for the job registry, a confirmed offer to move it aside."""
    st.error(plain_markdown(exc), icon=":material/broken_image:")
    if exc.path.name != "jobs.sqlite":
        return
    confirmed = st.checkbox(
        f"Move {exc.path.name} aside: the job list starts again from scratch (the damaged "
        "file is kept, renamed)",
        key=f"{key}-move-confirm",
    )
    if st.button("Move it aside", key=f"{key}-move", disabled=not confirmed):
        moved = move_registry_aside(Workspace(exc.path.parent))
        st.session_state[_MOVED] = str(moved) if moved else ""
        st.rerun()


def job_registry(workspace: Workspace) -> JobRegistry | None:
    """The workspace's job registry, or None (with the message and the offer to move it
    aside on the page) when it is damaged."""
    if _MOVED in st.session_state:
        moved = st.session_state.pop(_MOVED)
        if moved:
            st.success(f"The damaged job registry was moved to {moved}; a new one starts empty.")
        else:
            st.info("The job registry reads fine now: nothing was moved.")
    try:
        return JobRegistry(workspace)
    except DamagedFile as exc:
        show_damaged(exc, key="job-registry")
        return None


def show_damaged_list(problems: list[DamagedFile], *, key: str) -> None:
    """Each damaged item of a listing, as its own error."""
    for i, exc in enumerate(problems):
        show_damaged(exc, key=f"{key}-{i}")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|~$!])")
_LINE_START = re.compile(r"^(\s*)([-+=])", re.MULTILINE)  # lists, headings
_ORDERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)  # numbered lists
#: Streamlit reads these after escapes are gone, so escaping cannot stop them; an
#: invisible word joiner inside the marker can: GFM's bare links ("http://", "www.",
#: an e-mail address), emoji shortcodes (:smile:, :100:), colour and icon directives
#: (:red[...], :material/x:). Times such as 11:00 are left alone.
_ACTIVE = re.compile(
    r"(?<=[A-Za-z]):(?=//)|(?<![^\s*_~(])(?P<www>w)ww\.|(?<=[\w.+-])(?P<at>@)(?=[\w-]+\.)"
    r"|:(?=[A-Za-z+/-]|\d+:)",
    re.IGNORECASE,
)
WORD_JOINER = "\u2060"


def plain_markdown(text: object) -> str:
    """`text` with Markdown's active characters escaped, so a label from the data (a
    group, a class, a training set) shows as typed: never a link, an image, a heading,
    a list, an emoji or icon shortcode or a formula."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    escaped = _LINE_START.sub(r"\1\\\2", escaped)
    escaped = _ORDERED.sub(r"\1\\\2", escaped)
    return _ACTIVE.sub(_break, escaped)


def _break(match: re.Match) -> str:
    """The marker with a word joiner where it stops Streamlit's reading: after the
    first w of www., before an @, after a colon."""
    text = match.group(0)
    if match.group("www"):
        return text[0] + WORD_JOINER + text[1:]
    if match.group("at"):
        return WORD_JOINER + text
    return text + WORD_JOINER


def plain_markdown_list(lines: list[str]) -> str:
    """Lines as Markdown, each escaped with `plain_markdown`, keeping a leading "- " as
    a list item."""
    shown = [
        f"- {plain_markdown(line[2:])}" if line.startswith("- ") else plain_markdown(line)
        for line in lines
    ]
    return "\n".join(shown)


def keep(*keys: str) -> None:
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


#: where `remember` keeps a widget's last value, out of Streamlit's widget clean-up
_REMEMBERED = "_remembered:"


def recall(key: str) -> None:
    """Before the keyed widget `key` on a page only it uses: its value as `remember`
    kept it, when another page ran meanwhile (Streamlit then drops a widget's state)."""
    if key in st.session_state or _REMEMBERED + key not in st.session_state:
        return
    st.session_state[key] = st.session_state[_REMEMBERED + key]


def remember(key: str, value) -> None:
    """After the keyed widget `key`: keep its value for `recall`."""
    st.session_state[_REMEMBERED + key] = value


def synthetic_banner() -> None:
    st.warning(SYNTHETIC_NOTE + ".", icon=":material/science:")


@st.cache_data(show_spinner="Opening the audit...", max_entries=8)
def cached_audit(label: str, kind: str, path: str | None, stamp: float) -> AuditResult:
    """The source's audit (`stamp`, its audit.json's mtime, keys the cache)."""
    return open_source(AuditSource(label, kind, path))


def audit_selection(
    workspace: Workspace, *, not_audited: Callable[[AuditSource], None] | None = None
) -> tuple[AuditResult, AuditResult] | None:
    """Source (the published results, a saved audit, or a predictions table not audited
    yet, which `not_audited` offers to audit), then architectures, training sets and
    seeds; returns the whole audit and the chosen part (ranked again), or None (with the
    reason on the page) when there is nothing to show."""
    keep(*[k for k in st.session_state if str(k).startswith(_SELECTION_PREFIX)])
    damaged: list[DamagedFile] = []
    sources = list_sources(workspace, damaged=damaged)
    show_damaged_list(damaged, key="audit-saved")
    if st.session_state.get("audit_source") not in sources:  # none yet, or deleted
        # set, not dropped: a browser keeps showing a keyed widget's old choice otherwise
        st.session_state["audit_source"] = sources[0]
    source = st.selectbox("Source", sources, format_func=lambda s: s.label, key="audit_source")
    if source.kind == PREDICTIONS:
        problem = table_problem(source.path)
        if problem:
            show_damaged(problem, key="audit-source")
            return None
        st.info(
            f"{plain_markdown(Path(source.path).name)} has no saved audit yet (or changed "
            "since its audit was made): audit it as a background job first.",
            icon=":material/pending:",
        )
        if not_audited:
            not_audited(source)
        return None
    stamp = (Path(source.path) / "audit.json").stat().st_mtime if source.path else 0.0
    try:
        result = cached_audit(source.label, source.kind, source.path, stamp)
    except DamagedFile as exc:
        show_damaged(exc, key="audit-source")
        return None
    except ValueError as exc:
        st.error(f"This audit cannot be opened: {plain_markdown(exc)}")
        return None
    _describe_source(source, result)
    chosen = _filtered(result, source)
    return None if chosen is None else (result, chosen)


def _describe_source(source: AuditSource, result: AuditResult) -> None:
    if source.kind == SAVED:
        saved = SavedAudit(Path(source.path), result.settings)
        st.caption(plain_markdown(saved.describe()))
        why = saved.stale()
        if why:
            st.warning(
                f"This audit may be out of date: {plain_markdown(why)}. Audit the table "
                "again to see its current predictions.",
                icon=":material/update:",
            )
    else:
        st.caption(
            "Computed here from the paper's published counts with the default settings "
            f"({result.settings.get('n_boot')} bootstrap resamples, "
            f"{CORRECTION_WORDS[result.settings.get('correction')]} over "
            f"{FAMILY_WORDS[result.settings.get('family')]}). Other settings: queue a new "
            "audit of the published results."
        )
    if result.synthetic:
        synthetic_banner()


def _filtered(result: AuditResult, source: AuditSource) -> AuditResult | None:
    runs = result.settings.get("runs", [])
    options = {
        "archs": sorted({r["arch"] for r in runs}),
        "sets": train_set_order(r["train_set"] for r in runs),
        "seeds": sorted({seed_label(r.get("seed")) for r in runs}, key=_seed_order),
    }
    # one set of filters per source: a browser keeps a keyed widget's choices when only
    # its options change, so shared keys would show one source's choices on another
    keys = {name: f"audit_{name}:{source.label}" for name in options}
    for name, key in keys.items():
        chosen = st.session_state.get(key)
        if chosen is not None and not set(chosen) <= set(options[name]):
            st.session_state.pop(key)  # the audit changed since the choice was made
    labels = {"archs": "Architectures", "sets": "Training sets", "seeds": "Training seeds"}
    shown = [name for name in options if name != "seeds" or len(options["seeds"]) > 1]
    chosen = {name: options[name] for name in options}
    for column, name in zip(st.columns(len(shown)), shown, strict=True):
        chosen[name] = column.multiselect(
            labels[name],
            options[name],
            key=keys[name],
            default=options[name],
        )
    if not all(chosen.values()):
        st.info("Choose at least one architecture, training set and seed.")
        return None
    return filter_result(
        result, archs=chosen["archs"], train_sets=chosen["sets"], seeds=chosen["seeds"]
    )


def _seed_order(label: str) -> tuple[int, str]:
    return (0, f"{int(label):012d}") if label.isdigit() else (1, label)


def job_list(registry: JobRegistry, jobs: list[Job], **options) -> None:
    """The jobs, running and queued first, then finished ones, newest first, in pages
    of ten; each active one whole (status, progress, message, cancel, `details(job)`,
    log), each finished one in one line that opens (resume, delete where `deletable`).
    Options: see `ui_jobs.paged_job_list`."""
    from app_pages.ui_jobs import paged_job_list  # it builds on this module

    paged_job_list(registry, jobs, **options)


def run_curves(workspace: Workspace, run_id: str, *, key: str) -> None:
    """A run's training curves (nothing before its first epoch); a damaged run file is
    named, and the page goes on."""
    try:
        meta, records = read_run(workspace, run_id)
    except DamagedFile as exc:
        st.error(str(exc), icon=":material/broken_image:")
        return
    if records:
        title = f"{run_id} (best val accuracy {meta.get('best_val_accuracy') or 0:.3f})"
        st.plotly_chart(
            live_figures.training_curves(
                records, title=title, synthetic=bool(meta.get("synthetic"))
            ),
            key=key,
        )
