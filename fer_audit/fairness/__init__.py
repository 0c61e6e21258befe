"""Fairness audit: per-group metrics, the paper's and the standard gap definitions,
uncertainty, and the published reference."""

from fer_audit.fairness.audit import AuditError, AuditResult, audit, audit_counts
from fer_audit.fairness.gaps import DEFINITIONS, PAPER_DEFINITIONS, STANDARD_DEFINITIONS

__all__ = [
    "DEFINITIONS",
    "PAPER_DEFINITIONS",
    "STANDARD_DEFINITIONS",
    "AuditError",
    "AuditResult",
    "audit",
    "audit_counts",
]
