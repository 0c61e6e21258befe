"""Fairness audit: per-group metrics, the paper's and the standard gap definitions,
uncertainty, and the published reference.

The audit of a predictions table (`from_predictions.audit`, the table read and checked
in `predictions`) or of one-vs-rest counts only (`from_counts.audit_counts`) returns an
`AuditResult` (`result`), assembled from what both audits share (`assemble`) with the
summaries over seeds and the rankings (`rankings`). Each gap's minimum detectable
gap comes from `detectable`; the sample-size planner is `planner`. An audit's settings
are declared once in `settings`, and `run.run_audit` computes an audit from them.
"""

from __future__ import annotations

import importlib

#: what the package gives, and the module each comes from: imported when first used, so
#: a light module of the package (`settings`, read by the CLI at start-up) does not
#: bring scipy and pandas with it
_EXPORTS = {
    "DEFINITIONS": "gaps",
    "PAPER_DEFINITIONS": "gaps",
    "STANDARD_DEFINITIONS": "gaps",
    "AuditError": "result",
    "AuditResult": "result",
    "audit": "from_predictions",
    "audit_counts": "from_counts",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
