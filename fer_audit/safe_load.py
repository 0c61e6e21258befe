"""Reading files a user gives without running code from them.

A pickle can run any code when it is read, so nothing a user supplies is unpickled
as such: torch files go through torch's `weights_only=True` (`load_tensors`, its
refusal said in one line), and a pickle of numpy arrays (the VGGFace2 weights) goes
through `_ArraysOnly`, an unpickler that can build arrays of numbers and plain
containers and nothing else (`read_array_pickle`). Either refusal is an `UnsafeFile`.
"""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path

import numpy as np
import torch


class UnsafeFile(ValueError):
    """A weights or checkpoint file that would need code to be read, or that is not a
    file of plain tensors or arrays at all. Its message is one line naming the file."""


#: torch's own words when `weights_only=True` meets something other than tensors
_TORCH_REFUSED = re.compile(
    r"unsupported global|not an allowed global|is blocked|must be \S+ to load|"
    r"TorchScript|Unsupported class",
    re.IGNORECASE,
)


def load_tensors(path: str | Path):
    """`torch.load(path, weights_only=True)` on the CPU, for any file a user can give or
    replace. A file torch refuses (pickled objects, TorchScript) is an `UnsafeFile`
    saying so in one line, never torch's advice to turn the protection off; a file that
    is not a torch file at all is an `UnsafeFile` too. Missing files stay OSErrors."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, KeyError...
        if _TORCH_REFUSED.search(str(exc)):
            message = f"{path} holds code objects; fer-audit loads plain tensors only"
        else:
            message = (
                f"{path} is not a torch file of plain tensors ({type(exc).__name__}); "
                "fer-audit loads plain tensors only"
            )
        raise UnsafeFile(message) from None


#: numeric kinds an array of weights may have: bool, signed, unsigned, float, complex
_NUMERIC_KINDS = "biufc"


class _Refused(pickle.UnpicklingError):
    """What `_ArraysOnly` will not build (said in the `UnsafeFile` message)."""


def _numeric_dtype(spec) -> np.dtype:
    """A plain numeric dtype from a pickle's spelling of one (a code like "f4", or a
    `_DtypeSpec`); anything with objects, fields or sub-arrays is refused."""
    if isinstance(spec, _DtypeSpec):
        return spec.dtype()
    if isinstance(spec, bytes):
        spec = spec.decode("latin1")
    if not isinstance(spec, str) or len(spec) > 8:
        raise _Refused(f"a dtype spelled {spec!r:.40}")
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError, SyntaxError) as exc:
        raise _Refused(f"the dtype {spec!r}") from exc
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields or dtype.subdtype or dtype.hasobject:
        raise _Refused(f"the dtype {spec!r} (not plain numbers)")
    return dtype


def _raw_bytes(data) -> bytes:
    """Array data: bytes (Python 3), or a latin1-decoded Python-2 str."""
    if isinstance(data, str):
        return data.encode("latin1")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, pickle.PickleBuffer):
        return bytes(data.raw())
    raise _Refused(f"array data of type {type(data).__name__}")


def _shape(shape) -> tuple[int, ...]:
    if not isinstance(shape, tuple | list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise _Refused(f"an array shape {shape!r:.60}")
    return tuple(shape)


def _array(data, dtype: np.dtype, shape, order: str = "C") -> np.ndarray:
    """A fresh, writable array of `dtype` and `shape` from exactly enough bytes."""
    raw, shape = _raw_bytes(data), _shape(shape)
    if order not in ("C", "F"):
        raise _Refused(f"an array order {order!r:.10}")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise _Refused(f"an array of {len(raw)} bytes for shape {shape} of {dtype}")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)
    return array.astype(dtype.newbyteorder("="))  # a copy, writable, in native byte order


class _DtypeSpec:
    """Stands in for `numpy.dtype(code, align, copy)` while unpickling; BUILD gives its
    byte order. Only ever becomes a plain numeric dtype (`dtype()`)."""

    def __init__(self, code, align=False, copy=True):
        self.base = _numeric_dtype(code)
        self.order = "="

    def __setstate__(self, state) -> None:
        if not isinstance(state, tuple) or len(state) < 2:
            raise _Refused(f"a dtype state {state!r:.60}")
        if len(state) >= 5 and (state[3] is not None or state[4] is not None):
            raise _Refused("a dtype with fields (not plain numbers)")
        if state[1] not in ("<", ">", "|", "="):
            raise _Refused(f"a byte order {state[1]!r:.10}")
        self.order = state[1]

    def dtype(self) -> np.dtype:
        if self.order in ("<", ">"):
            return self.base.newbyteorder(self.order)
        return self.base


class _ArraySpec:
    """Stands in for `_reconstruct(ndarray, shape, dtype)`; BUILD gives its shape, dtype
    and bytes, and `array` is then a copy made by `np.frombuffer` (numpy never sees the
    pickle's state itself)."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, data)
        if not isinstance(state, tuple) or len(state) != 4:
            raise _Refused(f"an array state {state!r:.60}")
        shape, dtype, fortran, data = state
        self.array = _array(data, _numeric_dtype(dtype), shape, "F" if fortran else "C")


class _NdarrayName:
    """`numpy.ndarray` as the pickle names it: an argument of `_reconstruct`. Called
    itself (numpy's constructor takes a raw buffer) it is refused."""

    def __call__(self, *args, **kwargs):
        raise _Refused("numpy.ndarray called directly")


_NDARRAY = _NdarrayName()


def _reconstruct(subtype, shape, dtype) -> _ArraySpec:
    if subtype is not _NDARRAY:
        raise _Refused("an array of a type other than numpy.ndarray")
    _shape(shape)
    return _ArraySpec()


def _frombuffer(data, dtype, shape, order="C") -> np.ndarray:
    return _array(data, _numeric_dtype(dtype), shape, order)


def _scalar(dtype, data=None) -> np.ndarray:
    return _array(data, _numeric_dtype(dtype), ())


def _latin1_encode(text, encoding="latin1", errors="strict") -> bytes:
    """`_codecs.encode` as Python 3 pickles bytes at protocol 2: latin1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode to {encoding!r:.20}")
    return text.encode("latin1")


def _empty_bytes(*args) -> bytes:
    """`bytes()` as Python 3 pickles b"" at protocol 2; with any argument (a number
    would allocate that many bytes) refused."""
    if args:
        raise _Refused("bytes() of an argument")
    return b""


_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")
#: every global `_ArraysOnly` knows, and what it gets instead of numpy's own
_ALLOWED_GLOBALS = {
    **{(m, "_reconstruct"): _reconstruct for m in _CORE},
    **{(m, "scalar"): _scalar for m in _CORE},
    **{(m, "_frombuffer"): _frombuffer for m in _NUMERIC},
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeSpec,
    ("_codecs", "encode"): _latin1_encode,
    **{(m, "bytes"): _empty_bytes for m in ("builtins", "__builtin__")},
    **{
        (module, c.__name__): c
        for module in ("builtins", "__builtin__")  # Python 3's and Python 2's spelling
        # no bytearray, and bytes only empty: called with a number they allocate that much
        for c in (dict, list, tuple, set, frozenset)
    },
}


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that can build numpy arrays of numbers and builtin containers and
    nothing else: every other global is refused, so no pickle can run code here."""

    def find_class(self, module: str, name: str):
        found = _ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise _Refused(f"the global {f'{module}.{name}'!r:.80}")
        return found

    def persistent_load(self, pid):
        raise _Refused("a persistent id")


def read_array_pickle(path: str | Path) -> dict[str, np.ndarray]:
    """A pickle of {name: numpy array} (Python 2 with latin1 text, or Python 3 at any
    protocol), read without running anything from the file: `UnsafeFile` (one line
    naming the file) for a pickle that asks for anything but numpy arrays of numbers
    and plain containers, for a damaged one, and for one that is not such a dict."""
    refusal = f"{path} is not a plain pickle of numpy arrays"
    try:
        with open(path, "rb") as fh:
            raw = _ArraysOnly(fh, encoding="latin1").load()
    except (OSError, MemoryError):
        raise
    except _Refused as exc:
        raise UnsafeFile(
            f"{refusal}: it asks for {exc}; fer-audit loads plain arrays only"
        ) from None
    except Exception as exc:  # a damaged pickle raises anything from EOFError to KeyError
        raise UnsafeFile(f"{refusal}: it cannot be read ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise UnsafeFile(f"{refusal}: it holds a {type(raw).__name__}, not a {{name: array}} dict")
    arrays = {}
    for name, value in raw.items():
        value = value.array if isinstance(value, _ArraySpec) else value  # None: no data
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise UnsafeFile(
                f"{refusal}: entry {name!r:.60} is a {type(value).__name__}, "
                "not a name and a numpy array"
            )
        arrays[name] = value
    return arrays
