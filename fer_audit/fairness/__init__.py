"""Fairness audit: per-group metrics, the paper's and the standard gap definitions,
uncertainty, and the published reference.

The audit of a predictions table (`from_predictions.audit`, the table read and checked
in `predictions`) or of one-vs-rest counts only (`from_counts.audit_counts`) returns an
`AuditResult` (`result`), assembled from what both audits share (`assemble`) with the
summaries over seeds and the rankings (`rankings`). Each gap's minimum detectable
gap comes from `detectable`; the sample-size planner is `planner`.
"""

from fer_audit.fairness.from_counts import audit_counts
from fer_audit.fairness.from_predictions import audit
from fer_audit.fairness.gaps import DEFINITIONS, PAPER_DEFINITIONS, STANDARD_DEFINITIONS
from fer_audit.fairness.result import AuditError, AuditResult

__all__ = [
    "DEFINITIONS",
    "PAPER_DEFINITIONS",
    "STANDARD_DEFINITIONS",
    "AuditError",
    "AuditResult",
    "audit",
    "audit_counts",
]
