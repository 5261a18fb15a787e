"""Fake CuPy for the CUDA emulator (testing only; see ../README.md).

Implements only what :mod:`thermosim.backends.gpu` (and the tests and solvers on its arrays)
use: "device" arrays are NumPy arrays, ``RawModule`` kernels run the repository's
``thermosim/kernels/*.cu`` through the emulator library built from ``emu.cpp``, whose path is taken
from ``$THERMOSIM_CUDA_EMULATOR_LIB``.  Reductions and element-wise kernels are written in
NumPy with the semantics of the backend's definitions.  Never put this folder on the path of
a process that may have a real GPU or real CuPy.
"""

from __future__ import annotations

import ctypes
import os
import types

import numpy as np

__version__ = "0.0-emulated"
ENV_LIB = "THERMOSIM_CUDA_EMULATOR_LIB"

_path = os.environ.get(ENV_LIB)
if not _path or not os.path.isfile(_path):
    raise ImportError(f"fake cupy (CUDA emulator): set {ENV_LIB} to the emulator library "
                      f"built from tests/cuda_emulator/emu.cpp (got {_path!r})")
_lib = ctypes.CDLL(_path)
_lib.emu_has.argtypes = [ctypes.c_char_p]
_lib.emu_has.restype = ctypes.c_int
_lib.emu_launch.argtypes = ([ctypes.c_char_p] + [ctypes.c_uint] * 6
                            + [ctypes.c_void_p, ctypes.c_ulong])
_lib.emu_launch.restype = ctypes.c_int
_lib.emu_signature.argtypes = [ctypes.c_char_p]
_lib.emu_signature.restype = ctypes.c_char_p

#: Every launch: (name, grid, block, shared_mem), for tests that inspect launch shapes.
LAUNCHES: list = []

class ndarray(np.ndarray):
    """A "device" array: NumPy memory, but a type of its own, so that host -> device copies
    really copy (a test comparing a CPU result with a GPU result must not be comparing one
    array with itself), kernels refuse host arrays, and ufuncs refuse to mix host and device
    arrays (as CuPy does).  Results of operations on device arrays are device arrays."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [_base(a, ufunc.__name__) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(_base(o, ufunc.__name__) for o in out)
        res = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        if isinstance(res, tuple):
            return tuple(_wrap(r) for r in res)
        return _wrap(res)


def _base(a, what):
    if isinstance(a, ndarray):
        return a.view(np.ndarray)
    if isinstance(a, np.ndarray) and a.ndim > 0:
        raise TypeError(f"{what}: a NumPy (host) array mixed with device arrays")
    return a


def _wrap(r):
    return r.view(ndarray) if isinstance(r, np.ndarray) else r


float32, float64 = np.float32, np.float64


def asarray(a, dtype=None):
    """Device arrays pass through (cast if needed); anything else is copied to the device."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
    return np.array(a, dtype=dtype, copy=True).view(ndarray)


def ascontiguousarray(a, dtype=None):
    a = asarray(a, dtype)
    return a if a.flags.c_contiguous else a.copy(order="C")


def asnumpy(a):
    """A host copy (a plain NumPy array)."""
    return np.array(a, copy=True, subok=False)


def _reduction(name):
    fn = getattr(np, name)

    def reduce(a, *args, **kwargs):
        return _wrap(np.asarray(fn(_base(asarray(a), name), *args, **kwargs)))
    reduce.__name__ = name
    return reduce


# the array-module functions thermosim calls through ``backend.xp`` (CuPy has them all;
# reductions give 0-d device arrays, as CuPy's do)
max, min, sum = _reduction("max"), _reduction("min"), _reduction("sum")
abs = np.abs        # a ufunc: device in, device out (see ndarray.__array_ufunc__)
isfinite = np.isfinite
any = _reduction("any")


def zeros(shape, dtype=float):
    return np.zeros(shape, dtype=dtype).view(ndarray)


def empty(shape, dtype=float):
    # garbage, as on a device: a kernel reading scratch it has not written shows up
    a = np.empty(shape, dtype=dtype)
    a.fill(np.nan if a.dtype.kind == "f" else 0xAB)
    return a.view(ndarray)


class _Device:
    def __init__(self, device=0):
        if int(device) != 0:
            raise RuntimeError("the CUDA emulator has one device (0)")
        self.id = 0

    def synchronize(self):
        pass


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return 1

    @staticmethod
    def getDeviceProperties(i):
        # real CuPy: a dict, "name" as bytes
        return {"name": b"CUDA emulator (CPU)", "multiProcessorCount": 4,
                "sharedMemPerBlock": 48 * 1024, "sharedMemPerBlockOptin": _SMEM_OPTIN}

    @staticmethod
    def runtimeGetVersion():
        return 13000

    @staticmethod
    def memGetInfo():
        return (8 << 30, 8 << 30)


cuda = types.SimpleNamespace(Device=_Device, runtime=_Runtime)

_CTYPES = {np.dtype(np.int32): ctypes.c_int, np.dtype(np.int64): ctypes.c_longlong,
           np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
#: sharedMemPerBlockOptin of the emulated device (an sm_86 value): the most that
#: max_dynamic_shared_size_bytes may be set to.
_SMEM_OPTIN = 99 * 1024


def _code(dtype) -> str:
    """The emulator's parameter code of a NumPy dtype (see Entry in emu.cpp)."""
    return f"{dtype.kind}{dtype.itemsize}"


class RawKernel:
    def __init__(self, name):
        self.name = name
        self._max_dynamic_smem = 48 * 1024
        self.signature = _lib.emu_signature(name.encode()).decode().split(",")

    @property
    def max_dynamic_shared_size_bytes(self):
        return self._max_dynamic_smem

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, nbytes):
        # real CuPy: cuFuncSetAttribute, CUDA_ERROR_INVALID_VALUE over the opt-in limit
        if not 0 <= int(nbytes) <= _SMEM_OPTIN:
            raise RuntimeError(f"{self.name}: max_dynamic_shared_size_bytes = {nbytes} over "
                               f"sharedMemPerBlockOptin {_SMEM_OPTIN}")
        self._max_dynamic_smem = int(nbytes)

    def __call__(self, grid, block, args, shared_mem=0):
        # real CuPy: Function.__call__(tuple grid, tuple block, args, ...) (Cython-typed)
        if not isinstance(grid, tuple) or not isinstance(block, tuple):
            raise TypeError(f"{self.name}: grid and block must be tuples")
        grid, block = tuple(int(g) for g in grid), tuple(int(b) for b in block)
        if len(grid) != 3 or len(block) != 3 or min(grid + block) < 1:
            raise ValueError(f"{self.name}: bad launch {grid} x {block}")
        if grid[0] > 2**31 - 1 or grid[1] > 65535 or grid[2] > 65535:
            raise ValueError(f"{self.name}: grid {grid} over the CUDA limits")
        if block[0] * block[1] * block[2] > 1024 or block[2] > 64:
            raise ValueError(f"{self.name}: block {block} over the CUDA limits")
        if shared_mem > self.max_dynamic_shared_size_bytes:
            raise ValueError(f"{self.name}: {shared_mem} bytes of shared memory over the "
                             f"limit {self.max_dynamic_shared_size_bytes}")
        args = tuple(args)
        if len(args) != len(self.signature):
            raise TypeError(f"{self.name}: {len(args)} arguments, the kernel takes "
                            f"{len(self.signature)}")
        hold = []
        for n, (a, want) in enumerate(zip(args, self.signature)):
            if isinstance(a, np.ndarray):
                if not isinstance(a, ndarray):
                    raise TypeError(f"{self.name}: a NumPy (host) array passed to a kernel")
                if not a.flags.c_contiguous:
                    raise ValueError(f"{self.name}: non-contiguous array argument")
                got = "*" + _code(a.dtype)
                hold.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.generic) and a.dtype in _CTYPES:
                got = _code(a.dtype)
                hold.append(_CTYPES[a.dtype](a.item()))
            else:   # real CuPy passes a Python int as int64, a float as float64 (8 bytes)
                raise TypeError(f"{self.name}: untyped kernel argument {a!r} ({type(a)}): "
                                "real CuPy would pass it as 8 bytes")
            if got != want:   # real CUDA copies the bytes blindly: corrupt arguments
                raise TypeError(f"{self.name}: argument {n} is {got}, the kernel parameter "
                                f"is {want} (codes of emu.cpp's Entry)")
        ptrs = (ctypes.c_void_p * len(hold))(*[ctypes.addressof(h) for h in hold])
        LAUNCHES.append((self.name, grid, block, shared_mem))
        rc = _lib.emu_launch(self.name.encode(), *grid, *block, ptrs, shared_mem)
        if rc:
            raise RuntimeError(f"emu_launch {self.name}: error {rc}")


class RawModule:
    def __init__(self, *, code=None, options=(), name_expressions=None):
        # real CuPy: keyword-only, code a str, options a tuple (Cython-typed)
        if not isinstance(code, str) or not isinstance(options, tuple):
            raise TypeError("RawModule(code=str, options=tuple, ...)")
        if "-std=c++17" not in options:
            raise ValueError("the backend compiles its kernels as C++17")
        if not code or "namespace thermosim" not in code:
            raise ValueError("not a thermosim kernel source")
        self.names = list(name_expressions or ())
        for n in self.names:
            if not _lib.emu_has(n.encode()):
                raise KeyError(f"kernel '{n}' is not registered in tests/cuda_emulator/"
                               "emu.cpp")

    def get_function(self, name):
        if name not in self.names:
            raise KeyError(f"'{name}' is not among the module's name_expressions")
        return RawKernel(name)


def _device_args(what, *arrays):
    for a in arrays:
        if not isinstance(a, ndarray):
            raise TypeError(f"{what}: expected device arrays, got {type(a).__name__}")


class ReductionKernel:
    """Only the backend's ``thermosim_dot``: sum of double(x) * double(y)."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name, reduce_type=None):
        if name != "thermosim_dot":
            raise NotImplementedError(name)
        # real CuPy pastes reduce_type verbatim into "typedef ${reduce_type} _type_reduce;":
        # it must be a C type, not a NumPy name such as "float64"
        if reduce_type not in (None, "double"):
            raise ValueError(f"{name}: reduce_type {reduce_type!r} is not the C type the "
                             "emulated kernel accumulates in ('double')")

    def __call__(self, x, y, axis=None):
        _device_args("thermosim_dot", x, y)
        return asarray(np.sum(x.astype(np.float64) * y.astype(np.float64), axis=axis))


class ElementwiseKernel:
    """Only the backend's ``thermosim_axpy`` (y = y + a x) and ``thermosim_xpay``
    (y = x + a y), in place in y."""

    def __init__(self, in_params, out_params, operation, name):
        if name not in ("thermosim_axpy", "thermosim_xpay"):
            raise NotImplementedError(name)
        self.name = name

    def __call__(self, x, a, y):
        if not (isinstance(a, np.generic) and a.dtype == y.dtype):
            raise TypeError(f"{self.name}: scalar {a!r} must have the dtype of y ({y.dtype})")
        _device_args(self.name, x, y)
        if self.name == "thermosim_axpy":
            y[...] = y + a * x.astype(y.dtype)
        else:
            y[...] = x.astype(y.dtype) + a * y
