"""GPU backend: CuPy arrays, CUDA C++ kernels from ``thermosim/kernels/*.cu`` compiled at
run time.

The twin of :mod:`thermosim.backends.cpu`: same methods, same arguments, same arithmetic,
same array layouts (C order, last axis fastest; arrays with a halo have shape
(nx+2, ny+2, nz+2) and the interior cell (i, j, k) lives at [i+1, j+1, k+1]).

The kernels are C++ templates instantiated for float and double (and for uint8 and uint16
ids); each ``.cu`` file is compiled once by NVRTC through :class:`cupy.RawModule` (CuPy also
caches the binary on disk) and the module is cached in the backend.  The sources are package
data, read from the installed ``thermosim/kernels/`` folder, or from ``$THERMOSIM_KERNELS``.

This module imports CuPy when it is imported: the registry imports it only once a GPU has
been found.
"""

from __future__ import annotations

import os
from pathlib import Path

import cupy
import numpy as np

from .cuda_types import FLOATS, IDS, ctype
from .gpu_flow import GPUFlowKernels
from .gpu_steady import GPUSteadyKernels, steady_names
from .gpu_turbulence import GPUTurbulenceKernels, turbulence_names

#: The per-id table columns that explicit_step reads (thermosim.conduction.TABLE_FIELDS); the last
#: two (contact resistance and block group) only with ``contact=True``.
TABLE_FIELDS = ("rkx", "rky", "rkz", "ra", "inv_rhoc", "qdot", "rc", "grp")
BASE_FIELDS = TABLE_FIELDS[:6]
#: Table entries per id staged in shared memory (see conduction.cu), without / with contact.
_SMEM_WORDS = {False: 10, True: 12}


#: Planes prefetched ahead by the marching kernels (a template argument of conduction.cu;
#: THERMOSIM_PREFETCH in its ahead-of-time build must agree).  2 measured best on an H200
#: (benchmarks/tune_explicit.py, 512^3 float32: 156 GLUPS against 135 with 4 and 120 with 8).
PREFETCH = 2
#: The conduction kernels' launch bound (threads per block).
MAX_BLOCK = 256
_DEFAULT_SMEM = 48 * 1024
_MAX_GRID_X = 2**31 - 1
_MAX_GRID_YZ = 65535


#: The ``.cu`` files the backend compiles (``thermosim/kernels/<name>.cu``): every file that
#: :meth:`GPUBackend._function` is asked for; tests/test_install.py checks an installed wheel
#: against this list and against the calls in this module, gpu_flow.py, gpu_steady.py and
#: gpu_turbulence.py.
KERNEL_FILES = ("conduction", "multigrid", "flow", "steady", "turbulence")


def kernels_dir() -> Path:
    """Folder holding the ``.cu`` sources (``$THERMOSIM_KERNELS`` overrides): the package's
    own ``kernels/`` folder, shipped as package data so that a wheel install has them."""
    env = os.environ.get("THERMOSIM_KERNELS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "kernels"


def _b(v: bool) -> str:
    return "true" if v else "false"


def step_name(ctype: str, idtype: str, smem: bool, contact: bool = False,
              prefetch: int = PREFETCH, fast: bool = False) -> str:
    """``fast``: approximate reciprocals (float only; see recip in conduction.cu)."""
    return (f"thermosim::explicit_step<{ctype}, {idtype}, {_b(smem)}, {_b(contact)}, "
            f"{prefetch}, {_b(fast and ctype == 'float')}>")


def uniform_name(ctype: str, prefetch: int = PREFETCH) -> str:
    return f"thermosim::explicit_step_uniform<{ctype}, {prefetch}>"


def line_name(ctype: str, axis: int) -> str:
    return f"thermosim::line_gs<{ctype}, {axis}>"


def _line_axes(axis: int) -> tuple[int, int, int]:
    """(line axis, p, q) of line_gs along ``axis``: p < q the two cross axes; q is the faster
    one in the kernel's numbering of the lines."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) \
            or int(axis) not in (0, 1, 2):
        raise ValueError(f"line axis {axis!r}: expected 0, 1 or 2")
    axis = int(axis)
    p, q = (a for a in range(3) if a != axis)
    return axis, p, q


def name_expressions(file: str, prefetch: int = PREFETCH) -> list[str]:
    """Every template instantiation the backend takes from ``thermosim/kernels/<file>.cu``."""
    names: list[str] = []
    for t in FLOATS.values():
        if file == "conduction":
            for i in IDS.values():
                names += [step_name(t, i, smem, contact, prefetch, fast)
                          for fast in ((False, True) if t == "float" else (False,))
                          for contact in (False, True) for smem in (True, False)]
            names.append(uniform_name(t, prefetch))
        elif file == "multigrid":
            names += [f"thermosim::apply<{t}, true>", f"thermosim::apply<{t}, false>",
                      f"thermosim::rbgs<{t}>", f"thermosim::zline_gs<{t}>",
                      *(line_name(t, a) for a in range(3)),
                      f"thermosim::restrict_sum<{t}>",
                      f"thermosim::prolong_add<{t}>"]
        elif file == "flow":
            names += [f"thermosim::momentum_rhs<{t}, {a}>" for a in range(3)]
            names += [f"thermosim::correct<{t}, {a}>" for a in range(3)]
            names += [f"thermosim::divergence_rhs<{t}>", f"thermosim::energy_rhs<{t}>",
                      f"thermosim::lincomb<{t}>"]
        elif file == "steady":
            names += steady_names(t)
        elif file == "turbulence":
            names += turbulence_names(t)
        else:
            raise ValueError(f"unknown kernel file '{file}'")
    return names


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _check_operator(x, Gx, Gy, Gz, D, b=None, y=None):
    """Check the arrays of one conductance-form operator call; return (dtype, C type name,
    interior shape)."""
    _check(D, "D")
    dt = D.dtype
    nx, ny, nz = D.shape
    halo = (nx + 2, ny + 2, nz + 2)
    for arr, name in ((x, "x"), (b, "b"), (y, "y")):
        if arr is not None:
            _check(arr, name, dt, halo)
    _check(Gx, "Gx", dt, (nx + 1, ny, nz))
    _check(Gy, "Gy", dt, (nx, ny + 1, nz))
    _check(Gz, "Gz", dt, (nx, ny, nz + 1))
    return dt, ctype(dt), (nx, ny, nz)


def _i32(v) -> np.int32:
    v = int(v)
    if not 0 <= v < 2**31:
        raise ValueError(f"size {v} does not fit a 32-bit int")
    return np.int32(v)


def _grid(grid: tuple, what: str) -> tuple:
    """A launch grid within CUDA's limits (gridDim.x < 2**31, gridDim.y and .z <= 65535):
    CUDA refuses a larger one, and the kernels do not stride over x or y."""
    gx, gy, gz = grid
    if gx > _MAX_GRID_X or gy > _MAX_GRID_YZ or gz > _MAX_GRID_YZ:
        raise ValueError(f"{what}: launch grid {grid} over the CUDA limits "
                         f"({_MAX_GRID_X}, {_MAX_GRID_YZ}, {_MAX_GRID_YZ})")
    return grid


def _check(a, what: str, dtype=None, shape=None):
    """A C-contiguous CuPy array of the given dtype and shape (the kernels take raw pointers)."""
    if not isinstance(a, cupy.ndarray):
        raise TypeError(f"{what}: expected a cupy.ndarray, got {type(a).__name__}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{what}: dtype {a.dtype}, expected {np.dtype(dtype)}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{what}: shape {a.shape}, expected {tuple(shape)}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{what}: must be C-contiguous")
    return a


def _vec(a, dtype, size: int | None, what: str):
    """A small 1-D device vector of ``dtype`` (copied to the device or cast if needed)."""
    v = cupy.ascontiguousarray(cupy.asarray(a, dtype=dtype)).reshape(-1)
    if size is not None and v.size != size:
        raise ValueError(f"{what}: {v.size} entries, expected {size}")
    return v


class GPUBackend(GPUFlowKernels, GPUSteadyKernels, GPUTurbulenceKernels):
    """CuPy + CUDA C++ kernels: must give the CPU backend's answers."""

    name = "gpu"
    xp = cupy

    #: Threads per block along (k, j) for the marching conduction kernels (product <= 256).
    #: (64, 2) with 32-plane chunks measured best on an H200 (tune_explicit.py), though every
    #: shape from (32, 4) to (256, 1) came within 4 % of it.
    block_explicit = (64, 2)
    #: Threads per block along (k, j) for the multigrid kernels.
    block_mg = (32, 8)
    #: Threads per block (one per line) for the line smoothers (line_gs, zline_gs).
    block_line = 128
    #: Planes marched by one block along i; None: chosen from the multiprocessor count.
    march_chunk: int | None = 32
    #: Rows of the two-stage dot product (partial sums reduced in parallel; see dot).
    dot_rows = 2048
    #: float32 conduction steps with the hardware's approximate reciprocal (~1e-7 relative
    #: from the CPU's answer, far inside float32's own rounding of a step) instead of the
    #: IEEE one: 1.6x the throughput on an H200 (156 against 98 GLUPS at 512^3).  float64 is
    #: always exact.
    fast_reciprocal = True
    #: Largest packed id table (10 * nid * itemsize bytes, 12 * nid * itemsize with contact
    #: resistance) staged in shared memory.
    smem_table_bytes = _DEFAULT_SMEM
    prefetch = PREFETCH

    def __init__(self):
        dev = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(dev.id)
        name = props["name"]
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        rt = cupy.cuda.runtime.runtimeGetVersion()
        self.device_name = f"{name} (CuPy {cupy.__version__}, CUDA {rt // 1000}.{rt % 1000 // 10})"
        self.sm_count = int(props.get("multiProcessorCount", 100))
        #: Most dynamic shared memory one block may opt in to (cudaFuncSetAttribute refuses
        #: more): larger id tables are read from global memory instead.
        self.smem_optin = int(props.get("sharedMemPerBlockOptin", _DEFAULT_SMEM))
        self._modules: dict[tuple[str, int], cupy.RawModule] = {}
        self._functions: dict[tuple[str, str], object] = {}
        self._scratch: dict[tuple, object] = {}
        self._dot = cupy.ReductionKernel(
            "T x, U y", "float64 z",
            "static_cast<double>(x) * static_cast<double>(y)", "a + b", "z = a", "0",
            "thermosim_dot", reduce_type="double")
        self._axpy = cupy.ElementwiseKernel(
            "U x, T a", "T y", "y = y + a * static_cast<T>(x)", "thermosim_axpy")
        self._xpay = cupy.ElementwiseKernel(
            "U x, T a", "T y", "y = static_cast<T>(x) + a * y", "thermosim_xpay")

    # -- compiled modules ------------------------------------------------------------
    def _module(self, file: str):
        key = (file, self.prefetch)
        mod = self._modules.get(key)
        if mod is None:
            src = (kernels_dir() / f"{file}.cu").read_text()
            mod = cupy.RawModule(code=src, options=("-std=c++17",),
                                 name_expressions=name_expressions(file, self.prefetch))
            self._modules[key] = mod
        return mod

    def _function(self, file: str, expr: str):
        fn = self._functions.get((file, expr))
        if fn is None:
            fn = self._module(file).get_function(expr)
            self._functions[(file, expr)] = fn
        return fn

    def _mg_launch(self, nk: int, ny: int, nx: int):
        bx, by = self.block_mg
        grid = _grid((_cdiv(nk, bx), _cdiv(ny, by), min(nx, _MAX_GRID_YZ)), "multigrid")
        return grid, (bx, by, 1)

    def _chunk(self, nx: int, ny: int, nz: int) -> int:
        """Planes per block along i: enough blocks to fill the device a few times over,
        marches of at least ~32 planes."""
        if self.march_chunk:
            return max(1, min(nx, int(self.march_chunk)))
        bx, by = self.block_explicit
        columns = _cdiv(nz, bx) * bx * _cdiv(ny, by) * by
        target = self.sm_count * 2048 * 4
        nchunks = max(1, min(_cdiv(target, columns), nx // 32, _MAX_GRID_YZ))
        return _cdiv(nx, nchunks)

    def _march_launch(self, nx: int, ny: int, nz: int):
        bx, by = self.block_explicit
        if bx * by > MAX_BLOCK:
            raise ValueError(f"block_explicit {self.block_explicit}: more than {MAX_BLOCK} "
                             "threads")
        chunk = self._chunk(nx, ny, nz)
        grid = _grid((_cdiv(nz, bx), _cdiv(ny, by), _cdiv(nx, chunk)), "explicit step")
        return grid, (bx, by, 1), _i32(chunk)

    # -- arrays ---------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        return cupy.ascontiguousarray(cupy.asarray(a, dtype=dtype))

    def to_host(self, a) -> np.ndarray:
        return cupy.asnumpy(a)

    def zeros(self, shape, dtype):
        return cupy.zeros(shape, dtype=dtype)

    def synchronize(self):
        cupy.cuda.Device().synchronize()

    # -- conductance-form operator --------------------------------------------------
    def _apply(self, x, Gx, Gy, Gz, D, y, b, sign):
        dt, t, (nx, ny, nz) = _check_operator(x, Gx, Gy, Gz, D, b=b, y=y)
        if D.size == 0:
            return
        fn = self._function("multigrid", f"thermosim::apply<{t}, {_b(b is not None)}>")
        grid, block = self._mg_launch(nz, ny, nx)
        fn(grid, block, (x, Gx, Gy, Gz, D, y, x if b is None else b, dt.type(sign),
                         _i32(nx), _i32(ny), _i32(nz)))

    def residual(self, b, x, Gx, Gy, Gz, D, r):
        """r = b - A x (b, x, r with halo)."""
        self._apply(x, Gx, Gy, Gz, D, r, b, -1.0)

    def matvec(self, x, Gx, Gy, Gz, D, y, zero):
        """y = A x; ``zero`` (an all-zero array shaped like y) is accepted for the CPU
        backend's signature and not read."""
        self._apply(x, Gx, Gy, Gz, D, y, None, 1.0)

    def rbgs(self, x, Gx, Gy, Gz, D, b, color: int):
        dt, t, (nx, ny, nz) = _check_operator(x, Gx, Gy, Gz, D, b=b)
        if D.size == 0:
            return
        fn = self._function("multigrid", f"thermosim::rbgs<{t}>")
        grid, block = self._mg_launch(_cdiv(nz, 2), ny, nx)
        fn(grid, block, (x, Gx, Gy, Gz, D, b, np.int32(int(color) & 1), _i32(nx), _i32(ny),
                         _i32(nz)))

    def _line_scratch(self, shape: tuple, dtype, axis: int = 2) -> object:
        """Thomas scratch of line_gs along ``axis`` for one grid: n[axis] * n[p] *
        ceil(n[q] / 2) entries (p < q the cross axes), cached per (shape, dtype, axis) (the
        multigrid levels reuse theirs on every sweep)."""
        key = (tuple(shape), np.dtype(dtype).str, int(axis))
        buf = self._scratch.get(key)
        if buf is None:
            if len(self._scratch) >= 64:                 # many grids in one process: forget
                self._scratch.pop(next(iter(self._scratch)))
            L, p, q = _line_axes(axis)
            buf = cupy.empty(shape[L] * shape[p] * ((shape[q] + 1) // 2), dtype=dtype)
            self._scratch[key] = buf
        return buf

    def _line_launch(self, name: str, x, Gx, Gy, Gz, D, b, color: int, axis: int):
        dt, t, shape = _check_operator(x, Gx, Gy, Gz, D, b=b)
        L, p, q = _line_axes(axis)
        if D.size == 0:
            return
        nlines = shape[p] * ((shape[q] + 1) // 2)
        cp = self._line_scratch(shape, dt, L)
        fn = self._function("multigrid", name.format(t=t))
        bs = int(self.block_line)
        grid = (min(_cdiv(nlines, bs), _MAX_GRID_X), 1, 1)
        nx, ny, nz = shape
        fn(grid, (bs, 1, 1), (x, Gx, Gy, Gz, D, b, cp, np.int32(int(color) & 1), _i32(nx),
                              _i32(ny), _i32(nz)))

    def zline_gs(self, x, Gx, Gy, Gz, D, b, color: int):
        """Zebra line Gauss-Seidel, one colour in place: every (i, j) column with
        (i + j) & 1 == color solved exactly along z (Thomas algorithm)."""
        self._line_launch("thermosim::zline_gs<{t}>", x, Gx, Gy, Gz, D, b, color, 2)

    def line_gs(self, x, Gx, Gy, Gz, D, b, color: int, axis: int = 2):
        """Zebra line Gauss-Seidel along ``axis``, one colour in place: every line of cells
        along that axis whose two other interior indices sum to ``color`` (mod 2) solved
        exactly (Thomas algorithm); the CPU backend's line_gs, same arithmetic."""
        axis = _line_axes(axis)[0]
        self._line_launch(line_name("{t}", axis), x, Gx, Gy, Gz, D, b, color, axis)

    def restrict(self, rf, rc, ox, oy, oz):
        _check(rf, "rf")
        dt = rf.dtype
        t = ctype(dt)
        ox, oy, oz = (_vec(o, np.int64, None, n) for o, n in ((ox, "ox"), (oy, "oy"),
                                                                (oz, "oz")))
        ncx, ncy, ncz = ox.size - 1, oy.size - 1, oz.size - 1
        _check(rc, "rc", dt, (ncx + 2, ncy + 2, ncz + 2))
        if ncx <= 0 or ncy <= 0 or ncz <= 0:
            return
        fn = self._function("multigrid", f"thermosim::restrict_sum<{t}>")
        grid, block = self._mg_launch(ncz, ncy, ncx)
        fn(grid, block, (rf, rc, ox, oy, oz, _i32(ncx), _i32(ncy), _i32(ncz),
                         _i32(rf.shape[1] - 2), _i32(rf.shape[2] - 2)))

    def prolong_add(self, xc, xf, mx, my, mz):
        _check(xc, "xc")
        dt = xc.dtype
        t = ctype(dt)
        mx, my, mz = (_vec(m, np.int64, None, n) for m, n in ((mx, "mx"), (my, "my"),
                                                                (mz, "mz")))
        nx, ny, nz = mx.size, my.size, mz.size
        _check(xf, "xf", dt, (nx + 2, ny + 2, nz + 2))
        if nx == 0 or ny == 0 or nz == 0:
            return
        fn = self._function("multigrid", f"thermosim::prolong_add<{t}>")
        grid, block = self._mg_launch(nz, ny, nx)
        fn(grid, block, (xc, xf, mx, my, mz, _i32(nx), _i32(ny), _i32(nz),
                         _i32(xc.shape[1] - 2), _i32(xc.shape[2] - 2)))

    # -- explicit step -----------------------------------------------------------------
    def explicit_step(self, T, Tn, ids, tab, h, inv_d, dt, contact=True):
        """One forward-Euler step.  ``tab`` holds the TABLE_FIELDS columns; with
        ``contact=False`` (no block has a contact resistance) rc and grp are neither needed
        nor read, and the plain kernel runs (the CPU's answer wherever rc is all zero)."""
        contact = bool(contact)
        _check(T, "T")
        dtype = T.dtype
        t = ctype(dtype)
        _check(Tn, "Tn", dtype, T.shape)
        _check(ids, "ids", None, T.shape)
        if ids.dtype not in IDS:
            raise TypeError(f"ids: dtype {ids.dtype}, expected uint8 or uint16")
        nx, ny, nz = (s - 2 for s in T.shape)
        fields = TABLE_FIELDS if contact else BASE_FIELDS
        cols = [_vec(tab[f], dtype, None, f) for f in fields]
        nid = cols[0].size
        for f, c in zip(fields, cols):
            if c.size != nid:
                raise ValueError(f"table field '{f}': {c.size} entries, expected {nid}")
        if not contact:        # rc, grp: unread by the plain kernel, any array of the type
            cols += [cols[0], cols[0]]
        n3 = (nx, ny, nz)
        hs = [_vec(a, dtype, n + 2, f"h[{ax}]") for ax, (a, n) in enumerate(zip(h, n3))]
        inv = [_vec(a, dtype, n, f"inv_d[{ax}]") for ax, (a, n) in enumerate(zip(inv_d, n3))]
        if nx <= 0 or ny <= 0 or nz <= 0:
            return
        smem = _SMEM_WORDS[contact] * nid * dtype.itemsize
        use_smem = 0 < smem <= min(self.smem_table_bytes, self.smem_optin)
        fn = self._function("conduction", step_name(t, IDS[ids.dtype], use_smem, contact,
                                                    self.prefetch, self.fast_reciprocal))
        if use_smem and smem > _DEFAULT_SMEM and fn.max_dynamic_shared_size_bytes < smem:
            fn.max_dynamic_shared_size_bytes = smem
        grid, block, chunk = self._march_launch(nx, ny, nz)
        fn(grid, block, (T, Tn, ids, *cols, _i32(nid), *hs, *inv, dtype.type(dt), _i32(nx),
                         _i32(ny), _i32(nz), chunk), shared_mem=smem if use_smem else 0)

    def explicit_step_uniform(self, T, Tn, c):
        _check(T, "T")
        dtype = T.dtype
        t = ctype(dtype)
        _check(Tn, "Tn", dtype, T.shape)
        nx, ny, nz = (s - 2 for s in T.shape)
        if nx <= 0 or ny <= 0 or nz <= 0:
            return
        fn = self._function("conduction", uniform_name(t, self.prefetch))
        grid, block, chunk = self._march_launch(nx, ny, nz)
        fn(grid, block, (T, Tn, dtype.type(c), _i32(nx), _i32(ny), _i32(nz), chunk))

    # -- vectors ---------------------------------------------------------------------
    def copy(self, dst, src):
        """dst[...] = src as a device-to-device cudaMemcpy: the bandwidth reference of the
        benchmark (the same copy anchors.md measured)."""
        if dst.shape != src.shape or dst.dtype != src.dtype:
            raise ValueError("copy needs arrays of one shape and dtype")
        mem = getattr(dst.data, "copy_from_device_async", None)
        if mem is None:                     # an array module without raw memory (emulator)
            dst[...] = src
        else:
            mem(src.data, src.nbytes)

    def dense_matvec(self, A, v):
        """A v for a dense square matrix (the multigrid's coarsest inverse): cuBLAS."""
        return A @ v

    def dot(self, a, b) -> float:
        """sum(a * b), accumulated in float64.  CuPy runs a reduction to one scalar in a
        single thread block (13.8 ms for 256^3 on an H200, one multiprocessor of 132), so
        large vectors are reduced as ``dot_rows`` rows first, one partial sum per row, each
        row its own blocks, and the partials (and the few elements left over) summed after."""
        a, b = a.reshape(-1), b.reshape(-1)
        rows = int(self.dot_rows)
        if a.size < rows * 64:
            return float(self._dot(a, b))
        m = a.size // rows
        head = rows * m
        part = self._dot(a[:head].reshape(rows, m), b[:head].reshape(rows, m), axis=1)
        total = part.sum()
        if head < a.size:
            total += self._dot(a[head:], b[head:])
        return float(total)

    def axpy(self, y, a, x):
        """y += a x in place."""
        self._axpy(x, y.dtype.type(a), y)

    def xpay(self, y, a, x):
        """y = x + a y in place."""
        self._xpay(x, y.dtype.type(a), y)

    def copy_slicing_step(self, T, Tn, c):
        """The same constant-coefficient step written with array slicing, as a user would."""
        Tn[1:-1, 1:-1, 1:-1] = T[1:-1, 1:-1, 1:-1] + c * (
            T[:-2, 1:-1, 1:-1] + T[2:, 1:-1, 1:-1] + T[1:-1, :-2, 1:-1] + T[1:-1, 2:, 1:-1]
            + T[1:-1, 1:-1, :-2] + T[1:-1, 1:-1, 2:] - 6.0 * T[1:-1, 1:-1, 1:-1])
