"""Seeded random generators keyed by ints and strings, stable across runs and machines."""

from __future__ import annotations

import zlib

import numpy as np


def seeded_rng(*keys: int | str) -> np.random.Generator:
    """A generator seeded from `keys`; strings enter through CRC32 (not Python's hash,
    which changes between processes)."""
    ints = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(ints)


MAX_SEED = 2**32 - 1
MAX_SEEDS = 100


def parse_seeds(text: str) -> list[int]:
    """Comma-separated seeds ("1,2,3"): 1 to MAX_SEEDS whole numbers in [0, MAX_SEED],
    else ValueError saying which part is wrong."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts or len(parts) > MAX_SEEDS:
        raise ValueError(f"give 1 to {MAX_SEEDS} comma-separated seeds, e.g. 1,2,3")
    bad = [p for p in parts if not p.isascii() or not p.isdigit() or int(p) > MAX_SEED]
    if bad:
        raise ValueError(f"seeds must be whole numbers from 0 to {MAX_SEED}: not {bad[0]!r}")
    return [int(p) for p in parts]
