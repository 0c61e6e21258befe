"""What a preprocessing's outcome means for training on it: the counts of videos per
status (ok, no_face, unreadable, too_short), said in words when most are unusable.
Light: the Data page and the preprocess command both read it."""

from __future__ import annotations

from collections.abc import Mapping


def shortfall(counts: Mapping[str, int]) -> str | None:
    """ "U of N videos usable (n1 status1, ...)" when fewer than half of the N videos
    came out usable ("ok"); None when at least half did, or there were none."""
    total = sum(counts.values())
    usable = counts.get("ok", 0)
    if total == 0 or 2 * usable >= total:
        return None
    failed = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != "ok")
    return f"{usable} of {total} videos usable ({failed})"


def too_short_hint(k: int) -> str:
    """What to change when clips are too short for K keyframes."""
    return (
        f"too_short: K={k} needs more frames than those clips have (K=20 also skips their "
        "first second): choose a smaller K, as the Data page suggests from the clips' lengths"
    )
