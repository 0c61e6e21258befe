"""An audit's settings, declared once: the `fer-audit audit` options, the Audit page's
form and the job it queues all come from the fields of `AuditSettings`
(`fer_audit.fairness.run` computes the audit). Light: the CLI imports it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from fer_audit.labels import SCHEMES
from fer_audit.options import csv_list, setting
from fer_audit.seeding import MAX_SEED

#: upper bound of resamples and permutations: beyond it a run would only exhaust the machine
MAX_RESAMPLES = 100_000
CORRECTIONS = ("holm", "bh", "none")
FAMILIES = ("run", "audit")
#: the published reference's one choice (`fer-audit audit --reference`)
REFERENCES = ("domnich2021",)
#: the settings a paired comparison of two runs does not use (`fer-audit compare`)
NOT_FOR_COMPARISON = ("permutations", "correction", "family")


@dataclass(frozen=True)
class AuditSettings:
    bootstrap: int = setting(
        2000,
        help=f"resamples of subjects for each interval (default 2000; 100 to {MAX_RESAMPLES})",
        low=100,
        high=MAX_RESAMPLES,
    )
    permutations: int | None = setting(
        None,
        help="permutations of group labels across subjects for each p-value (default: as "
        "many as --bootstrap)",
        low=100,
        high=MAX_RESAMPLES,
    )
    seed: int = setting(0, help="seed of the resampling", low=0, high=MAX_SEED)
    group: str = setting(
        "gender",
        help="group column(s), comma-separated for intersectional groups "
        "(e.g. gender,authenticity)",
    )
    groups: str | None = setting(
        None, help="groups to compare, comma-separated, first minus second (default: all)"
    )
    scheme: str = setting("paper4", help="label scheme", choices=tuple(SCHEMES))
    correction: str = setting("holm", help="correction for many tests", choices=CORRECTIONS)
    family: str = setting(
        "run",
        help="tests the correction runs over: each model's gaps (run, default) or every "
        "gap of the audit (audit)",
        choices=FAMILIES,
    )

    def group_columns(self) -> list[str]:
        return csv_list(self.group) or ["gender"]

    def group_argument(self) -> str | list[str]:
        """The audit's `group` argument: one column, or the list of them."""
        columns = self.group_columns()
        return columns[0] if len(columns) == 1 else columns

    def compared_groups(self) -> list[str] | None:
        return csv_list(self.groups) or None
