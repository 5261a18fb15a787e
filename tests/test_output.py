"""HDF5 + XDMF output: round trip, units, metrics, atomic writes, XDMF axis order."""

import json
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

import thermosim.output as output
from thermosim.case import Case
from thermosim.output import read_result, write_result, xdmf_path
from thermosim.runner import solve

SHAPE = (7, 5, 3)          # distinct counts so that any axis mix-up shows


def _case(transient=False):
    d = dict(
        name="asym", domain=dict(min=[0, 0, 0], max=[0.03, 0.02, 0.01], background="void"),
        materials=dict(u=dict(k=[1.0, 2.0, 0.5], rho=1000, cp=1000)),
        grid=dict(cells=list(SHAPE)),
        blocks=[dict(name="slab", material="u", min=[0, 0, 0], max=[0.03, 0.02, 0.0067]),
                dict(name="src", material="u", min=[0.018, 0.012, 0.0067],
                     max=[0.03, 0.02, 0.01], power=1.0)],
        boundaries={"x-": dict(type="temperature", T=300.0),
                    "y-": dict(type="convective", h=10.0, T_ambient=290.0)})
    if transient:
        d["solver"] = dict(mode="transient",
                           transient=dict(end_time=100.0, dt=10.0, snapshots=[0.0, 50.0]))
    return Case.from_dict(d)


@pytest.fixture(scope="module")
def steady():
    return solve(_case(), backend="cpu")


@pytest.fixture(scope="module")
def transient():
    return solve(_case(True), backend="cpu")


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if ".tmp" in p.name]


def test_round_trip(steady, tmp_path):
    r = steady
    path = write_result(r, tmp_path / "out.h5")
    assert path == tmp_path / "out.h5" and path.exists() and xdmf_path(path).exists()
    assert not _leftovers(tmp_path)
    d = read_result(path)
    for a, faces in zip("xyz", r.grid.faces):
        np.testing.assert_array_equal(d[a], faces)
        assert d["units"][f"grid/{a}"] == "m"
    assert d["T"].shape == SHAPE and np.isnan(d["T"]).any()       # void cells are NaN
    np.testing.assert_array_equal(d["T"], r.T)                       # NaNs compare equal
    ids = r.model.ids[1:-1, 1:-1, 1:-1]
    np.testing.assert_array_equal(d["material"], r.model.id_material[ids])
    np.testing.assert_array_equal(d["block"], r.model.id_block[ids])
    np.testing.assert_array_equal(d["power"], r.model.power_density())
    assert d["units"]["fields/T"] == "K" and d["units"]["fields/power"] == "W/m^3"
    assert d["material"].dtype == np.int16 and d["block"].dtype == np.int16
    assert d["material_names"] == [m.name for m in r.model.materials]
    assert d["block_names"] == ["slab", "src"]
    # case, version, solver statistics
    assert d["case_name"] == "asym"
    assert d["case"] == json.loads(r.model.case.model_dump_json())
    assert Case.model_validate(d["case"]).blocks[1].power == 1.0
    assert d["attrs"]["thermosim_version"]
    s = d["solver"]
    for key in ("iterations", "residual", "wall_time", "setup_time", "backend", "device",
                "precision", "mode", "cells"):
        assert s[key] == r.stats[key], key
    assert "residual_history" not in s
    np.testing.assert_array_equal(d["residual_history"], r.stats["residual_history"])
    # metrics
    m = d["metrics"]
    hs = r.hotspot()
    assert m["max_temperature"] == r.max_temperature == hs["T"]
    np.testing.assert_array_equal(m["hotspot_position"], hs["position"])
    assert m["hotspot_block"] == hs["block"] == "src"
    assert m["total_power"] == pytest.approx(1.0)
    assert m["energy_balance_error"] == r.energy_balance_error
    assert m["heat_flows"] == r.heat_flows and len(m["heat_flows"]) >= 2
    assert m["block_temperatures"] == r.block_temperatures()
    assert d["snapshots"] == []
    assert r.save(tmp_path / "again.h5") == tmp_path / "again.h5"


def test_snapshots(transient, tmp_path):
    r = transient
    path = write_result(r, tmp_path / "tr.h5")
    d = read_result(path)
    assert [t for t, _ in d["snapshots"]] == [t for t, _ in r.snapshots] == [0.0, 50.0]
    for (_, a), (_, b) in zip(d["snapshots"], r.snapshots):
        np.testing.assert_array_equal(a, b)
    with h5py.File(path) as f:
        assert f["snapshots/T"].shape == (2, *SHAPE)
        assert f["snapshots/time"].attrs["units"] == "s"
        assert f["solver"].attrs["mode"] == "transient"
    # a temporal collection: both snapshots plus the final state at end_time
    root = ET.parse(xdmf_path(path)).getroot()
    coll = root.find("Domain/Grid")
    assert coll.get("CollectionType") == "Temporal"
    assert [float(g.find("Time").get("Value")) for g in coll.findall("Grid")] == \
        [0.0, 50.0, 100.0]
    # without snapshots
    d2 = read_result(write_result(r, tmp_path / "nosnap.h5", snapshots=False))
    assert d2["snapshots"] == []
    assert ET.parse(tmp_path / "nosnap.xdmf").getroot().find("Domain/Grid").get(
        "GridType") == "Uniform"


@pytest.mark.parametrize("step", ["_write_metrics", "xdmf_text"])
def test_failed_write_leaves_nothing(steady, tmp_path, monkeypatch, step):
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(output, step, boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_result(steady, tmp_path / "out.h5")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(steady, tmp_path, monkeypatch):
    path = write_result(steady, tmp_path / "out.h5")
    before = path.read_bytes(), xdmf_path(path).read_bytes()
    monkeypatch.setattr(output, "_write_solver", lambda *a: (_ for _ in ()).throw(OSError()))
    with pytest.raises(OSError):
        write_result(steady, path)
    assert (path.read_bytes(), xdmf_path(path).read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "out.xdmf"]


def _xdmf_cell_values(item, h5_path):
    """What an XDMF reader puts in VTK cell (i, j, k), i.e. flat index i + nx (j + ny k)."""
    name, ds = item.text.strip().split(":")
    assert name == h5_path.name
    with h5py.File(h5_path) as f:
        flat = f[ds][()].ravel()                   # readers copy the values unreordered
    assert flat.size == int(np.prod([int(n) for n in item.get("Dimensions").split()]))
    return flat


def test_xdmf_axis_order(steady, tmp_path):
    r = steady
    path = write_result(r, tmp_path / "out.h5")
    root = ET.parse(xdmf_path(path)).getroot()
    assert root.tag == "Xdmf" and root.get("Version") == "3.0"
    g = root.find("Domain/Grid")
    nx, ny, nz = SHAPE
    topo = g.find("Topology")
    assert topo.get("TopologyType") == "3DRectMesh"
    assert topo.get("Dimensions") == f"{nz + 1} {ny + 1} {nx + 1}"       # slowest first
    geo = g.find("Geometry")
    assert geo.get("GeometryType") == "VXVYVZ"
    items = geo.findall("DataItem")
    with h5py.File(path) as f:                   # VX (fastest) is x, then y, then z
        for item, faces in zip(items, r.grid.faces):
            assert int(item.get("Dimensions")) == faces.size
            np.testing.assert_array_equal(f[item.text.strip().split(":")[1]][()], faces)
    attrs = {a.get("Name"): a for a in g.findall("Attribute")}
    assert set(attrs) == {"T", "material", "block", "power"}
    T_flat = None
    for name, a in attrs.items():
        assert a.get("Center") == "Cell"
        item = a.find("DataItem")
        assert item.get("Dimensions") == f"{nz} {ny} {nx}"
        flat = _xdmf_cell_values(item, path)
        ours = {"T": r.T, "power": r.model.power_density()}.get(name)
        if ours is not None:
            # VTK cell (i, j, k) <- flat[i + nx * (j + ny * k)] must be our cell [i, j, k]
            np.testing.assert_array_equal(flat, ours.ravel(order="F"))
        if name == "T":
            T_flat = flat
    assert np.isnan(T_flat).any()


def test_xdmf_opens_in_vtk(steady, tmp_path):
    """The XDMF 2 reader VTK ships (ParaView's 'Xdmf Reader') puts every value in its cell."""
    vtk = pytest.importorskip("vtkmodules.vtkIOXdmf2")
    from vtkmodules.util.numpy_support import vtk_to_numpy

    r = steady
    path = write_result(r, tmp_path / "out.h5")
    reader = vtk.vtkXdmfReader()
    reader.SetFileName(str(xdmf_path(path)))
    reader.Update()
    ds = reader.GetOutputDataObject(0)
    assert ds.GetDimensions() == tuple(n + 1 for n in SHAPE)
    np.testing.assert_allclose(ds.GetBounds(), [0, 0.03, 0, 0.02, 0, 0.01])
    T = vtk_to_numpy(ds.GetCellData().GetArray("T"))
    block = vtk_to_numpy(ds.GetCellData().GetArray("block"))
    coords = [vtk_to_numpy(a) for a in (ds.GetXCoordinates(), ds.GetYCoordinates(),
                                         ds.GetZCoordinates())]
    g = r.grid
    ref_block = r.model.id_block[r.model.ids[1:-1, 1:-1, 1:-1]]
    for idx in np.ndindex(*SHAPE):
        c = [float(g.centres(a)[idx[a]]) for a in range(3)]
        ijk = [int(np.searchsorted(coords[a], c[a])) - 1 for a in range(3)]
        cell = ds.ComputeCellId(ijk)
        np.testing.assert_array_equal(T[cell], r.T[idx])
        assert block[cell] == ref_block[idx]


@pytest.mark.parametrize("name", ["out.xmf", "out.xdmf", "OUT.XDMF"])
def test_xdmf_suffix_rejected(steady, tmp_path, name):
    """A result named like a sidecar would be overwritten by it or opened as XML."""
    with pytest.raises(ValueError, match="another suffix"):
        write_result(steady, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_without_xdmf(steady, tmp_path):
    path = write_result(steady, tmp_path / "out.h5")
    write_result(steady, path, xdmf=False)
    assert not xdmf_path(path).exists()
    with h5py.File(path) as f:
        assert "xdmf" not in f


# -- other tools open the sidecar: pyvista.read and VTK's own XDMF reader ---------------------
@pytest.fixture(scope="module")
def flow():
    """A 4 x 2 x 2 channel with a heated copper block, three steps from rest: a flow result
    (velocity and pressure besides T); where values land is what matters, not convergence."""
    from flow_compare_cases import comparison_flows
    from thermosim.flow import FlowSolver

    _, problem, dt = comparison_flows(4)[2]
    solver = FlowSolver(problem, "cpu")
    for _ in range(3):
        solver.step(dt)
    return solver.result()


def _h5(path):
    """Face coordinates, cell fields and (time, T) states of a result file, by h5py."""
    with h5py.File(path) as f:
        faces = [f["grid"][a][()] for a in "xyz"]
        fields = {k: f["fields"][k][()] for k in f["fields"]}
        states = list(zip(f["snapshots/time"][()].tolist(), f["snapshots/T"][()])) \
            if "snapshots" in f else []
    return faces, fields, states


def _vtk_order(a):
    """A (nx, ny, nz[, 3]) array in VTK's cell order (x fastest): cell i + nx (j + ny k)."""
    return a.reshape(-1, 3, order="F") if a.ndim == 4 else a.ravel(order="F")


def _check_grid(dims, coords, arrays, faces, fields, names):
    shape = fields["T"].shape
    assert tuple(dims) == tuple(n + 1 for n in shape)
    for c, f in zip(coords, faces):
        np.testing.assert_array_equal(c, f)
    ncells = int(np.prod(shape))
    for name in names:
        assert name in arrays, name
        assert len(arrays[name]) == ncells, name
        np.testing.assert_array_equal(arrays[name], _vtk_order(fields[name]), err_msg=name)


def _pyvista_grid(ds):
    import pyvista as pv

    assert isinstance(ds, pv.RectilinearGrid)
    return ds.dimensions, (ds.x, ds.y, ds.z), {k: np.asarray(ds.cell_data[k])
                                               for k in ds.cell_data.keys()}


def _vtk_grid(ds):
    from vtkmodules.util.numpy_support import vtk_to_numpy

    assert ds.IsA("vtkRectilinearGrid")
    cd = ds.GetCellData()
    return ds.GetDimensions(), [vtk_to_numpy(a) for a in (
        ds.GetXCoordinates(), ds.GetYCoordinates(), ds.GetZCoordinates())], \
        {cd.GetArrayName(i): vtk_to_numpy(cd.GetArray(i)) for i in range(cd.GetNumberOfArrays())}


FIELDS = ["T", "material", "block", "power"]


@pytest.mark.parametrize("kind", ["steady", "transient", "flow"])
def test_pyvista_reads_the_sidecar(kind, request, tmp_path):
    """``pyvista.read("out.xdmf")``: a rectilinear grid with the result's cells, faces and
    fields in VTK's order; a transient's snapshots and final state as the reader's times."""
    pv = pytest.importorskip("pyvista")
    path = request.getfixturevalue(kind).save(tmp_path / "out.h5")
    sidecar = tmp_path / "out.xdmf"
    assert xdmf_path(path) == sidecar and sidecar.is_file()
    faces, fields, states = _h5(path)
    names = FIELDS + (["p", "velocity"] if kind == "flow" else [])
    if states:                       # a reader starts at the first time: the t = 0 snapshot
        fields = {**fields, "T": states[0][1]}
    _check_grid(*_pyvista_grid(pv.read(sidecar)), faces, fields, names)
    if kind == "flow":
        assert pv.read(sidecar).cell_data["velocity"].shape == (fields["T"].size, 3)
    if kind == "transient":
        reader = pv.get_reader(str(sidecar))
        assert reader.time_values == [0.0, 50.0, 100.0]
        for t, T in states + [(100.0, _h5(path)[1]["T"])]:
            reader.set_active_time_value(t)
            _, _, arrays = _pyvista_grid(reader.read())
            np.testing.assert_array_equal(arrays["T"], _vtk_order(T), err_msg=f"t = {t}")


@pytest.mark.parametrize("kind", ["steady", "transient", "flow"])
def test_vtk_xdmf_reader_reads_the_sidecar(kind, request, tmp_path):
    """VTK's ``vtkXdmfReader`` (the XDMF reader the vtk wheels ship; ``vtkXdmf3Reader`` is
    ParaView's only) gives the same grid, at every time of a transient."""
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2")
    path = request.getfixturevalue(kind).save(tmp_path / "out.h5")
    faces, fields, states = _h5(path)
    names = FIELDS + (["p", "velocity"] if kind == "flow" else [])
    if states:                       # a reader starts at the first time: the t = 0 snapshot
        fields = {**fields, "T": states[0][1]}
    reader = xdmf2.vtkXdmfReader()
    reader.SetFileName(str(xdmf_path(path)))
    reader.Update()
    _check_grid(*_vtk_grid(reader.GetOutputDataObject(0)), faces, fields, names)
    for t, T in states + [(100.0, _h5(path)[1]["T"])] if states else []:
        reader.UpdateTimeStep(t)
        _, _, arrays = _vtk_grid(reader.GetOutputDataObject(0))
        np.testing.assert_array_equal(arrays["T"], _vtk_order(T), err_msg=f"t = {t}")
