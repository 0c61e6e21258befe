"""Seeded random generators keyed by ints and strings, stable across runs and machines."""

from __future__ import annotations

import zlib

import numpy as np


def seeded_rng(*keys: int | str) -> np.random.Generator:
    """A generator seeded from `keys`; strings enter through CRC32 (not Python's hash,
    which changes between processes)."""
    ints = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(ints)
