"""The one function that computes an audit from its settings (`run_audit`), for a
predictions table or the published reference: `fer-audit audit` (so the Audit page's
jobs and the demo) calls it, and pages only open what it saved.
"""

from __future__ import annotations

from pathlib import Path

from fer_audit.fairness.from_predictions import audit
from fer_audit.fairness.predictions import read_predictions
from fer_audit.fairness.reference import reference_audit
from fer_audit.fairness.result import AuditError, AuditResult
from fer_audit.fairness.settings import REFERENCES, AuditSettings


def run_audit(
    settings: AuditSettings,
    *,
    predictions: str | Path | None = None,
    reference: str | None = None,
) -> AuditResult:
    """The audit of a predictions table (`predictions`) or of the published results
    (`reference`, one of REFERENCES), with `settings`. The reference holds published
    counts only: its groups, label scheme and permutations are the paper's."""
    if (predictions is None) == (reference is None):
        raise AuditError("give either a predictions table or --reference domnich2021")
    if reference is not None:
        if reference not in REFERENCES:
            raise AuditError(f"unknown reference {reference!r}; choose {', '.join(REFERENCES)}")
        return reference_audit(
            n_boot=settings.bootstrap,
            seed=settings.seed,
            correction=settings.correction,
            family=settings.family,
        )
    frame, source = read_predictions(predictions)
    return audit(
        frame,
        group=settings.group_argument(),
        groups=settings.compared_groups(),
        scheme=settings.scheme,
        n_boot=settings.bootstrap,
        n_perm=settings.permutations,
        seed=settings.seed,
        correction=settings.correction,
        family=settings.family,
        source=source,
    )
