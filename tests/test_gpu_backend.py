"""The GPU backend against the CPU reference: every kernel on random data, float64 and float32.

Skipped cleanly where CuPy or a CUDA device is missing (gpu.py is never imported there).
"""

from __future__ import annotations

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
try:
    _NDEV = cupy.cuda.runtime.getDeviceCount()
except Exception:  # no driver, no device
    _NDEV = 0
if _NDEV == 0:
    pytest.skip("no CUDA device", allow_module_level=True)

from thermosim.backends.cpu import CPUBackend  # noqa: E402
from thermosim.backends.gpu import GPUBackend  # noqa: E402

pytestmark = pytest.mark.gpu

SHAPE = (13, 10, 7)
TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture(scope="module")
def cpu():
    return CPUBackend()


@pytest.fixture(scope="module")
def gpu():
    return GPUBackend()


@pytest.fixture(params=[np.float64, np.float32], ids=["f64", "f32"])
def dtype(request):
    return request.param


def close(got, want, dtype):
    rtol = TOL[dtype]
    want = np.asarray(want, dtype=np.float64)
    scale = max(float(np.abs(want).max()), 1e-30)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=rtol,
                               atol=rtol * scale)


def halo(rng, dtype, shape=SHAPE, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, tuple(n + 2 for n in shape)).astype(dtype)


def operator(rng, dtype, shape=SHAPE):
    nx, ny, nz = shape
    Gx = rng.uniform(0.1, 2.0, (nx + 1, ny, nz))
    Gy = rng.uniform(0.1, 2.0, (nx, ny + 1, nz))
    Gz = rng.uniform(0.1, 2.0, (nx, ny, nz + 1))
    D = rng.uniform(0.0, 1.0, shape)
    return [a.astype(dtype) for a in (Gx, Gy, Gz, D)]


def to_gpu(gpu, *arrays):
    return [gpu.asarray(a) for a in arrays]


def test_basics(gpu):
    assert gpu.name == "gpu" and gpu.xp is cupy
    assert "CuPy" in gpu.device_name and "CUDA" in gpu.device_name
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)[:, ::-1]
    g = gpu.asarray(a, dtype=np.float32)
    assert isinstance(g, cupy.ndarray) and g.flags.c_contiguous and g.dtype == np.float32
    np.testing.assert_array_equal(gpu.to_host(g), a.astype(np.float32))
    z = gpu.zeros((3, 4), np.float64)
    gpu.synchronize()
    assert z.shape == (3, 4) and not gpu.to_host(z).any()


def test_residual_matvec(cpu, gpu, dtype):
    rng = np.random.default_rng(1)
    ops = operator(rng, dtype)
    x, b = halo(rng, dtype), halo(rng, dtype)
    r, y, zero = (np.zeros_like(x) for _ in range(3))
    cpu.residual(b, x, *ops, r)
    cpu.matvec(x, *ops, y, zero)
    rg, yg, zg = (gpu.zeros(x.shape, dtype) for _ in range(3))
    gpu.residual(*to_gpu(gpu, b, x, *ops), rg)
    gpu.matvec(*to_gpu(gpu, x, *ops), yg, zg)
    close(gpu.to_host(rg), r, dtype)
    close(gpu.to_host(yg), y, dtype)


def test_rbgs(cpu, gpu, dtype):
    rng = np.random.default_rng(2)
    ops = operator(rng, dtype)
    x, b = halo(rng, dtype), halo(rng, dtype)
    xg = gpu.asarray(x)
    opsg = to_gpu(gpu, *ops)
    bg = gpu.asarray(b)
    for color in (0, 1, 1, 0):
        cpu.rbgs(x, *ops, b, color)
        gpu.rbgs(xg, *opsg, bg, color)
        close(gpu.to_host(xg), x, dtype)


@pytest.mark.parametrize("shape", [SHAPE, (7, 9, 1), (5, 3, 33)],
                         ids=["13x10x7", "7x9x1", "5x3x33"])
def test_zline_gs(cpu, gpu, dtype, shape):
    rng = np.random.default_rng(7)
    ops = operator(rng, dtype, shape)
    ops[2] *= dtype(30.0)                  # strong z coupling, as in thin layers
    x, b = halo(rng, dtype, shape), halo(rng, dtype, shape)   # nonzero halo values
    xg = gpu.asarray(x)
    opsg = to_gpu(gpu, *ops)
    bg = gpu.asarray(b)
    for color in (0, 1, 1, 0):
        cpu.zline_gs(x, *ops, b, color)
        gpu.zline_gs(xg, *opsg, bg, color)
        close(gpu.to_host(xg), x, dtype)
    # each column of a colour solved exactly along z: the z-line residual vanishes there
    nx, ny, nz = shape
    r = np.zeros_like(x)
    cpu.residual(b, x, *ops, r)
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    last = (ii + jj) % 2 == 0                          # colour 0 was swept last
    res = r[1:-1, 1:-1, 1:-1][last]
    assert np.abs(res).max() <= 1e3 * TOL[dtype] * max(1.0, float(np.abs(b).max()))


LINE_SHAPES = [(7, 5, 9), (1, 5, 3), (5, 1, 7), (3, 7, 1), (1, 1, 5), (5, 1, 1)]


@pytest.mark.parametrize("shape", LINE_SHAPES, ids=["x".join(map(str, s)) for s in LINE_SHAPES])
@pytest.mark.parametrize("axis", [0, 1, 2], ids=["x", "y", "z"])
def test_line_gs(cpu, gpu, dtype, axis, shape, monkeypatch):
    """Zebra lines along each axis against the CPU's line_gs, both colours, odd sizes: lines
    of one cell and cross-sections one cell wide, random nonzero halo values on all faces."""
    names = record_names(gpu, monkeypatch)
    rng = np.random.default_rng(11 + axis)
    ops = operator(rng, dtype, shape)
    ops[axis] *= dtype(30.0)               # strong coupling along the lines (thin layers)
    x, b = halo(rng, dtype, shape), halo(rng, dtype, shape)
    for face in (x[0], x[-1], x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]):
        assert np.abs(face).min() > 0      # nonzero halo values on every face
    xg = gpu.asarray(x)
    opsg = to_gpu(gpu, *ops)
    bg = gpu.asarray(b)
    for color in (0, 1, 1, 0):
        cpu.line_gs(x, *ops, b, color, axis)
        gpu.line_gs(xg, *opsg, bg, color, axis)
        close(gpu.to_host(xg), x, dtype)
    t = "double" if dtype == np.float64 else "float"
    assert set(names) == {f"thermosim::line_gs<{t}, {axis}>"}
    # each line of colour 0 (swept last) solved exactly: the residual vanishes there
    r = np.zeros_like(x)
    cpu.residual(b, x, *ops, r)
    idx = np.indices(shape)
    p, q = (idx[a] for a in range(3) if a != axis)
    last = (p + q) % 2 == 0
    res = r[1:-1, 1:-1, 1:-1][last]
    assert np.abs(res).max() <= 1e3 * TOL[dtype] * max(1.0, float(np.abs(b).max()))


def test_line_gs_z_is_zline_gs(gpu, dtype):
    """line_gs along z and zline_gs give the same bits; a bad axis is refused."""
    rng = np.random.default_rng(12)
    shape = (6, 5, 7)
    opsg = to_gpu(gpu, *operator(rng, dtype, shape))
    x, b = halo(rng, dtype, shape), halo(rng, dtype, shape)
    xa, xb, bg = gpu.asarray(x), gpu.asarray(x), gpu.asarray(b)
    for color in (1, 0):
        gpu.line_gs(xa, *opsg, bg, color, 2)
        gpu.zline_gs(xb, *opsg, bg, color)
    np.testing.assert_array_equal(gpu.to_host(xa), gpu.to_host(xb))
    with pytest.raises(ValueError):
        gpu.line_gs(xa, *opsg, bg, 0, 3)


def test_restrict_prolong(cpu, gpu, dtype):
    rng = np.random.default_rng(3)
    offs = [np.r_[np.arange(0, n, s), n].astype(np.int64) for n, s in zip(SHAPE, (2, 3, 2))]
    maps = [np.repeat(np.arange(o.size - 1), np.diff(o)).astype(np.int64) for o in offs]
    coarse = tuple(o.size - 1 for o in offs)
    rf = halo(rng, dtype)
    rc = np.zeros(tuple(n + 2 for n in coarse), dtype)
    cpu.restrict(rf, rc, *offs)
    rcg = gpu.zeros(rc.shape, dtype)
    gpu.restrict(gpu.asarray(rf), rcg, *to_gpu(gpu, *offs))
    close(gpu.to_host(rcg), rc, dtype)

    xc = halo(rng, dtype, coarse)
    xf = halo(rng, dtype)
    xfg = gpu.asarray(xf)
    cpu.prolong_add(xc, xf, *maps)
    gpu.prolong_add(gpu.asarray(xc), xfg, *to_gpu(gpu, *maps))
    close(gpu.to_host(xfg), xf, dtype)


def table(rng, nid, dtype, contact=False):
    tab = {f: rng.uniform(0.5, 2.0, nid) for f in ("rkx", "rky", "rkz")}
    tab["ra"] = rng.uniform(0.0, 0.2, nid)
    tab["inv_rhoc"] = rng.uniform(0.5, 1.5, nid)
    tab["qdot"] = rng.uniform(-1.0, 1.0, nid)
    tab["inv_rhoc"][0] = 0.0                     # fixed / void cell: T copied
    tab["rkx"][1] = tab["rky"][1] = tab["rkz"][1] = 1e30   # "no heat path" resistance
    if contact:
        # contact resistances comparable to the half-cell resistances; groups: -1 (fixed
        # cells), 0 (background) and four blocks, several ids per group
        tab["rc"] = rng.uniform(0.05, 1.0, nid)
        tab["grp"] = rng.integers(-1, 5, nid).astype(np.float64)
        tab["grp"][:6] = (-1, 0, 1, 2, 0, -1)
    else:
        tab["rc"] = np.zeros(nid)
        tab["grp"] = rng.integers(-1, 5, nid).astype(np.float64)
    return {k: v.astype(dtype) for k, v in tab.items()}


def record_names(gpu, monkeypatch) -> list:
    """The kernel names the backend asks for from now on."""
    names = []
    fn = gpu._function

    def spy(file, expr):
        names.append(expr)
        return fn(file, expr)

    monkeypatch.setattr(gpu, "_function", spy)
    return names


@pytest.mark.parametrize("contact", [False, True], ids=["plain", "contact"])
@pytest.mark.parametrize("shape", [SHAPE, (6, 9, 70)], ids=["13x10x7", "6x9x70"])
@pytest.mark.parametrize("idtype,nid", [(np.uint8, 7), (np.uint16, 300)], ids=["u8", "u16"])
@pytest.mark.parametrize("path", ["smem", "global", "chunk4"])
@pytest.mark.parametrize("fast", [False, True], ids=["exact", "fast"])
def test_explicit_step(cpu, gpu, dtype, idtype, nid, path, shape, contact, fast, monkeypatch):
    """The GPU step against the CPU's; the fast reciprocal (float32) within the float32
    tolerance too."""
    monkeypatch.setattr(gpu, "fast_reciprocal", fast)
    if path == "global":
        monkeypatch.setattr(gpu, "smem_table_bytes", 0)
    elif path == "chunk4":
        monkeypatch.setattr(gpu, "march_chunk", 4)
    names = record_names(gpu, monkeypatch)
    rng = np.random.default_rng(4)
    T = halo(rng, dtype, shape, 0.0, 1.0)
    ids = rng.integers(0, nid, T.shape).astype(idtype)
    tab = table(rng, nid, dtype, contact)
    h = [np.r_[0.0, rng.uniform(0.25, 1.0, n), 0.0].astype(dtype) for n in shape]
    inv_d = [(0.5 / a[1:-1]).astype(dtype) for a in h]
    dt = 0.05
    Tn = np.zeros_like(T)
    cpu.explicit_step(T, Tn, ids, tab, h, inv_d, dt)
    # without contact the GPU needs neither rc nor grp
    gtab = {k: gpu.asarray(v) for k, v in tab.items() if contact or k not in ("rc", "grp")}
    Tng = gpu.zeros(T.shape, dtype)
    gpu.explicit_step(gpu.asarray(T), Tng, gpu.asarray(ids), gtab, to_gpu(gpu, *h),
                      to_gpu(gpu, *inv_d), dt, contact=contact)
    got = gpu.to_host(Tng)
    close(got, Tn, dtype)
    skip = tab["inv_rhoc"][ids] == 0
    skip[[0, -1]] = skip[:, [0, -1]] = skip[:, :, [0, -1]] = False
    np.testing.assert_array_equal(got[skip], T[skip])      # copied exactly
    smem = path != "global"
    assert [n for n in names if "explicit_step<" in n] == [
        f"thermosim::explicit_step<{'double' if dtype == np.float64 else 'float'}, "
        f"{'unsigned char' if idtype == np.uint8 else 'unsigned short'}, "
        f"{str(smem).lower()}, {str(contact).lower()}, {gpu.prefetch}, "
        f"{str(fast and dtype == np.float32).lower()}>"]
    if contact:              # the contact resistances matter here: not the plain answer
        plain = dict(tab, rc=np.zeros_like(tab["rc"]))
        Tp = np.zeros_like(T)
        cpu.explicit_step(T, Tp, ids, plain, h, inv_d, dt)
        assert np.abs(Tp - Tn).max() > 1e3 * TOL[dtype] * np.abs(Tn).max()


@pytest.mark.parametrize("contact", [False, True], ids=["plain", "contact"])
def test_explicit_step_table_size(cpu, gpu, dtype, contact, monkeypatch):
    """The table goes to shared memory when its packed size (10 or, with contact, 12 entries
    per id) fits smem_table_bytes, and is read from global memory otherwise."""
    nid = 40
    monkeypatch.setattr(gpu, "smem_table_bytes", 11 * nid * np.dtype(dtype).itemsize)
    names = record_names(gpu, monkeypatch)
    rng = np.random.default_rng(8)
    shape = (5, 4, 9)
    T = halo(rng, dtype, shape, 0.0, 1.0)
    ids = rng.integers(0, nid, T.shape).astype(np.uint8)
    tab = table(rng, nid, dtype, contact=True)
    h = [np.r_[0.0, rng.uniform(0.25, 1.0, n), 0.0].astype(dtype) for n in shape]
    inv_d = [(0.5 / a[1:-1]).astype(dtype) for a in h]
    if not contact:
        tab["rc"][:] = 0
    Tn = np.zeros_like(T)
    cpu.explicit_step(T, Tn, ids, tab, h, inv_d, 0.05)
    Tng = gpu.zeros(T.shape, dtype)
    gpu.explicit_step(gpu.asarray(T), Tng, gpu.asarray(ids),
                      {k: gpu.asarray(v) for k, v in tab.items()}, to_gpu(gpu, *h),
                      to_gpu(gpu, *inv_d), 0.05, contact=contact)
    close(gpu.to_host(Tng), Tn, dtype)
    (name,) = [n for n in names if "explicit_step<" in n]
    assert f", {'false' if contact else 'true'}, {str(contact).lower()}, " in name, name


def test_kernel_names():
    from thermosim.backends import gpu as gpu_mod
    names = gpu_mod.name_expressions("conduction")
    steps = [n for n in names if "explicit_step<" in n]
    # (float: exact and fast reciprocal, double: exact) x id x smem x contact
    assert len(steps) == len(set(steps)) == 3 * 2 * 2 * 2
    assert gpu_mod.step_name("float", "unsigned char", True, False, fast=True) in steps
    assert gpu_mod.step_name("float", "unsigned char", True, False) in steps
    assert gpu_mod.step_name("double", "unsigned short", False, True) in steps
    mg = gpu_mod.name_expressions("multigrid")
    for t in ("float", "double"):
        assert f"thermosim::zline_gs<{t}>" in mg
        for axis in range(3):
            assert f"thermosim::line_gs<{t}, {axis}>" in mg
    assert len(mg) == len(set(mg))


@pytest.mark.parametrize("chunk", [None, 3])
def test_uniform_steps(cpu, gpu, dtype, chunk, monkeypatch):
    monkeypatch.setattr(gpu, "march_chunk", chunk)
    rng = np.random.default_rng(5)
    c = 0.1
    T = halo(rng, dtype, (9, 9, 9))                   # the CPU kernel wants a cube
    Tn = np.zeros_like(T)
    cpu.explicit_step_uniform(T, Tn, c)
    Tng = gpu.zeros(T.shape, dtype)
    gpu.explicit_step_uniform(gpu.asarray(T), Tng, c)
    close(gpu.to_host(Tng), Tn, dtype)

    T = halo(rng, dtype)                               # non-cubic: against array slicing
    Tn = np.zeros_like(T)
    cpu.copy_slicing_step(T, Tn, c)
    Tg = gpu.asarray(T)
    for step in (gpu.explicit_step_uniform, gpu.copy_slicing_step):
        Tng = gpu.zeros(T.shape, dtype)
        step(Tg, Tng, c)
        close(gpu.to_host(Tng), Tn, dtype)


def test_vectors(cpu, gpu, dtype):
    rng = np.random.default_rng(6)
    a, b = halo(rng, dtype), halo(rng, dtype)
    ag, bg = to_gpu(gpu, a, b)
    d = gpu.dot(ag, bg)
    assert isinstance(d, float)
    assert abs(d - cpu.dot(a, b)) <= 1e-12 * float(np.abs(a.astype(np.float64) * b).sum())
    # long vectors go through the two-stage reduction: rows of partial sums plus a remainder
    n = gpu.dot_rows * 64 + 37
    la, lb = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    d = gpu.dot(*to_gpu(gpu, la, lb))
    assert isinstance(d, float)
    assert abs(d - cpu.dot(la, lb)) <= 1e-12 * float(np.abs(la.astype(np.float64) * lb).sum())
    y = a.copy()
    yg = gpu.asarray(y)
    cpu.axpy(y, 0.3, b)
    gpu.axpy(yg, 0.3, bg)
    close(gpu.to_host(yg), y, dtype)
    cpu.xpay(y, -0.7, b)
    gpu.xpay(yg, -0.7, bg)
    close(gpu.to_host(yg), y, dtype)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_energy_rhs_far_layers(cpu, gpu, dtype, axis):
    """energy_rhs with a rank's far layers (thermosim.parallel.FarLayers) on one or both
    faces along ``axis``: the CUDA twin reads the same plane cells and distances."""
    from thermosim.parallel import FarLayers

    rng = np.random.default_rng(20 + axis)
    T, u, v, w = (halo(rng, dtype) for _ in range(4))
    fluid = (rng.random(T.shape) > 0.15).astype(np.uint8)
    G = operator(rng, dtype)[:3]
    q = rng.uniform(0.0, 1.0, SHAPE).astype(dtype)
    h = [rng.uniform(0.5, 1.5, n + 2).astype(dtype) for n in SHAPE]
    d = [rng.uniform(0.5, 1.5, n + 2).astype(dtype) for n in SHAPE]
    plane = tuple(n + 2 for b, n in enumerate(SHAPE) if b != axis)
    lo, hi = (rng.uniform(-1.0, 1.0, plane).astype(dtype) for _ in range(2))
    for far_lo, far_hi in ((lo, hi), (None, hi), (lo, None)):
        out = np.zeros_like(T)
        cpu.energy_rhs(T, (u, v, w), fluid, G, 1.2e3, q, h, d, out,
                       far=FarLayers(axis, far_lo, far_hi, 0.7, 1.3))
        g = to_gpu(gpu, T, u, v, w, fluid, *G, q, *h, *d)
        gfar = FarLayers(axis, None if far_lo is None else gpu.asarray(far_lo),
                         None if far_hi is None else gpu.asarray(far_hi), 0.7, 1.3)
        outg = gpu.zeros(T.shape, dtype)
        gpu.energy_rhs(g[0], g[1:4], g[4], g[5:8], 1.2e3, g[8], g[9:12], g[12:15], outg,
                       far=gfar)
        close(gpu.to_host(outg), out, dtype)
