"""Saving results: an HDF5 file (h5py) with an XDMF 3 sidecar (``.xdmf``) so that ParaView,
VTK's XDMF reader and ``pyvista.read`` open it.

Layout of ``out.h5`` (all quantities SI; ``nx, ny, nz`` = cells along x, y, z; every
3-D cell array is C-ordered with shape ``(nx, ny, nz)``, i.e. ``a[i, j, k]`` is the cell at
x index i, y index j, z index k, z varying fastest)::

    /                       attrs: thermosim_version, layout_version, created (UTC, ISO 8601),
                                   case_name, case (the case as JSON, Case.model_dump_json())
    /grid/x, /grid/y, /grid/z      face coordinates, float64, (n+1,), attrs units="m"
    /fields/T               float64 (nx, ny, nz), kelvin, NaN in void cells; units="K"
    /fields/material        int16 (nx, ny, nz), material index per cell (-1: none);
                            attr names = material names (index -> name)
    /fields/block           int16 (nx, ny, nz), block index per cell (-1: background);
                            attr names = block names
    /fields/power           float64 (nx, ny, nz), heat source density, units="W/m^3"
                            (heat-flux boundary layers included)
    /snapshots/T            float64 (nsnap, nx, ny, nz), K      } transient runs with
    /snapshots/time         float64 (nsnap,), units="s"         } snapshots only
    /solver                 attrs: every scalar or string entry of Result.stats
                            (mode, precision, cells, backend, device, iterations, residual,
                            wall_time, setup_time, ...; short numeric lists such as shape)
    /solver/residual_history   float64 dataset, when the solver recorded one
    /metrics                attrs: max_temperature (K), hotspot_T (K), hotspot_position (m,
                            3 values), hotspot_index (3 values), hotspot_block (name),
                            total_power (W), energy_balance_error (relative), storage_rate (W)
    /metrics/heat_flow_labels, /metrics/heat_flow_W   where the heat leaves (W per boundary)
    /metrics/block_names, /metrics/block_max_T, /metrics/block_mean_T   per block (K)
    Flow results (thermosim.flow) add
    /                       attrs: kind="flow", problem (JSON: blocks with min/max, fluid
                            properties, boundaries); case only when run from a case file
    /fields/velocity        float64 (nx, ny, nz, 3), cell-centred velocity, units="m/s"
    /fields/p               float64 (nx, ny, nz), static pressure minus the hydrostatic
                            part of the reference density, units="Pa"
    /staggered/u, v, w      float64 face velocities (nx+1, ny, nz), (nx, ny+1, nz),
                            (nx, ny, nz+1), units="m/s" (what a restart needs)
    /metrics                attrs also: max_speed (m/s), pressure_drop (Pa, inflow minus
                            outflow, when both exist), fluid
    /solver/residual_history   rows (step, time s, velocity residual, temperature residual)
    A steady flow run stopped unconverged is written marked: the root attr unconverged, and
    /solver's stalled* and advice attrs (thermosim.unconverged.stall_attrs); its residual
    plot is out.residuals.png beside out.h5
    /xdmf/T, /xdmf/material, /xdmf/block, /xdmf/power, /xdmf/snapshots/T_NNNNN
                            the same cell fields transposed to shape (nz, ny, nx) (x fastest),
                            read only by the XDMF sidecar (see below); absent with xdmf=False

The integer and power fields are stored gzip-compressed (they are piecewise constant, so
they shrink by one to two orders of magnitude); temperatures are stored uncompressed.

XDMF sidecar ``out.xdmf`` (next to ``out.h5``, which it names by file name only, so the pair
can be moved together; ``.xdmf`` rather than ``.xmf`` because ``pyvista.read`` picks its
reader by the suffix and knows only ``.xdmf``): a ``3DRectMesh`` with ``VXVYVZ`` geometry
and cell-centred attributes T, material, block, power (flow results also p and velocity);
for a transient run with snapshots, a temporal collection with one grid per snapshot time
(plus the final state when it is not a snapshot).  Readers that open it: ParaView ("Xdmf
Reader" or "Xdmf3 Reader"), VTK's ``vtkXdmfReader`` (the one in the ``vtk`` wheels) and
``pyvista.read`` / ``pyvista.get_reader`` (which use it; a transient's times are the
reader's ``time_values``).  meshio does not: its XDMF reader takes unstructured topologies
only, not a ``3DRectMesh``.

Array order in the XDMF (why there are /xdmf copies).  XDMF describes a structured array by
its dimensions listed slowest-varying first ("KJI"), and for 3DRectMesh/VXVYVZ the *first*
coordinate array belongs to the *fastest*-varying index.  Both readers ParaView ships agree:
the XDMF 2 reader reverses Topology/Dimensions into VTK's (i, j, k) and takes VX as VTK's
x axis; the XDMF 3 reader ignores Topology/Dimensions for rectilinear grids and sizes the
VTK grid (i, j, k) from the lengths of the 1st, 2nd and 3rd coordinate arrays.  Either way
the attribute values are copied flat, unreordered, into a VTK array whose first index
(VTK x) varies fastest.  Our (nx, ny, nz) arrays vary fastest along *z*, so the only way to
use them directly would be to list the z faces first: ParaView would then draw our z axis as
its x axis, a mirror image with mislabelled coordinates.  XDMF has no transpose (HyperSlab
and Function items cannot reorder axes), so correct geometry needs data with x fastest:
the /xdmf datasets hold ``a.transpose(2, 1, 0)`` (shape (nz, ny, nx)), declared with
Dimensions="nz ny nx" and the geometry listed x, y, z, topology Dimensions
"nz+1 ny+1 nx+1".  The cost is a second copy of T (and of each snapshot) in the file; pass
``xdmf=False`` to skip the copies and the sidecar.

The file is written under a temporary name in the same folder and renamed to ``out.h5``
only when complete (``os.replace`` is atomic on POSIX and Windows), so a crash or a full
disk never leaves a truncated file under the final name; on any error the temporary files
are removed and the exception propagates.  The sidecar follows the same rule.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .unconverged import averaged_phrase, stall_attrs

LAYOUT_VERSION = 1
_GZIP = dict(compression="gzip", compression_opts=1, shuffle=True)


def thermosim_version() -> str:
    try:
        from importlib.metadata import version

        return version("thermosim")
    except Exception:  # noqa: BLE001 - not installed (running from a source tree)
        return "unknown"


# suffixes an XDMF reader claims: a result file named so would be taken for its own sidecar
SIDECAR_SUFFIXES = (".xdmf", ".xmf")


def xdmf_path(h5_path) -> Path:
    """The XDMF sidecar that goes with an HDF5 result file: ``out.h5`` -> ``out.xdmf``."""
    return Path(h5_path).with_suffix(".xdmf")


def check_result_path(path) -> None:
    """Raise ValueError when ``path`` cannot name a result file (an XDMF suffix, which the
    sidecar or a viewer would claim); cheap, so callers can check before a long solve."""
    if Path(path).suffix.lower() in SIDECAR_SUFFIXES:
        raise ValueError(f"{path}: the result file needs another suffix than "
                         f"{Path(path).suffix} (use .h5; the .xdmf sidecar is written beside "
                         "it)")


# ---------------------------------------------------------------------------------------
def write_result(result, path, snapshots: bool = True, xdmf: bool = True) -> Path:
    """Write ``result`` (a :class:`~thermosim.conduction_run.Result`) to the HDF5 file ``path``
    and, with ``xdmf``, an XDMF sidecar ``path.with_suffix('.xdmf')``; see the module
    docstring for the layout.  Returns the HDF5 path.  ``snapshots=False`` leaves out the
    transient snapshots.  With ``xdmf=False`` an existing sidecar of the same name is removed
    (it would describe datasets this file no longer has)."""
    import h5py

    path = Path(path)
    check_result_path(path)
    sidecar = xdmf_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    snaps = list(result.snapshots) if snapshots else []
    with contextlib.ExitStack() as stack:
        # entered sidecar first, so that it is renamed after the HDF5 file it describes
        tmp_sidecar = stack.enter_context(atomic_path(sidecar, fsync=True)) if xdmf else None
        tmp_h5 = stack.enter_context(atomic_path(path, fsync=True))
        with h5py.File(tmp_h5, "w") as f:
            _write_h5(f, result, snaps, xdmf)
        if xdmf:
            tmp_sidecar.write_text(xdmf_text(path.name, result.grid.shape,
                                             _case_name(result), [t for t, _ in snaps],
                                             _final_time(result)), encoding="utf-8")
    if not xdmf and sidecar.exists():
        sidecar.unlink()
    return path


def _case_name(result) -> str:
    return str(result.model.case.name)


def _final_time(result):
    return float(result.stats["end_time"]) if result.stats.get("mode") == "transient" \
        and "end_time" in result.stats else None


def _strings(items):
    import h5py

    return np.array([str(s) for s in items], dtype=h5py.string_dtype())


def _index_dtype(n: int):
    return np.int16 if n < 32767 else np.int32


def cell_fields(result) -> dict[str, np.ndarray]:
    """The per-cell arrays written under /fields, shape (nx, ny, nz)."""
    model = result.model
    ids = model.ids[1:-1, 1:-1, 1:-1]
    return {
        "T": np.asarray(result.T, dtype=np.float64),
        "material": model.id_material[ids].astype(_index_dtype(len(model.materials))),
        "block": model.id_block[ids].astype(_index_dtype(len(model.block_names))),
        "power": np.asarray(model.power_density(), dtype=np.float64),
    }


def _write_h5(f, result, snaps, xdmf: bool) -> None:
    model = result.model
    case = model.case
    f.attrs["thermosim_version"] = thermosim_version()
    f.attrs["layout_version"] = LAYOUT_VERSION
    f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    f.attrs["case_name"] = str(case.name)
    f.attrs["case"] = case.model_dump_json()

    g = f.create_group("grid")
    for name, faces in zip("xyz", result.grid.faces):
        d = g.create_dataset(name, data=np.asarray(faces, dtype=np.float64))
        d.attrs["units"] = "m"

    fields = cell_fields(result)
    g = f.create_group("fields")
    d = g.create_dataset("T", data=fields["T"])
    d.attrs["units"] = "K"
    d = g.create_dataset("material", data=fields["material"], **_GZIP)
    d.attrs["names"] = _strings(m.name for m in model.materials)
    d = g.create_dataset("block", data=fields["block"], **_GZIP)
    d.attrs["names"] = _strings(model.block_names)
    d = g.create_dataset("power", data=fields["power"], **_GZIP)
    d.attrs["units"] = "W/m^3"

    if snaps:
        g = f.create_group("snapshots")
        d = g.create_dataset("time", data=np.array([float(t) for t, _ in snaps]))
        d.attrs["units"] = "s"
        ds = g.create_dataset("T", shape=(len(snaps), *result.T.shape), dtype=np.float64)
        ds.attrs["units"] = "K"
        for i, (_, T) in enumerate(snaps):
            ds[i] = T

    _write_solver(f.create_group("solver"), result.stats)
    _write_metrics(f.create_group("metrics"), result)

    if xdmf:
        g = f.create_group("xdmf")
        g.attrs["note"] = ("copies of /fields and /snapshots transposed to (nz, ny, nx), "
                           "x fastest, for the XDMF sidecar; read /fields instead")
        for name, a in fields.items():
            kw = {} if name == "T" else _GZIP
            g.create_dataset(name, data=np.ascontiguousarray(a.transpose(2, 1, 0)), **kw)
        if snaps:
            s = g.create_group("snapshots")
            for i, (_, T) in enumerate(snaps):
                s.create_dataset(f"T_{i:05d}", data=np.ascontiguousarray(
                    np.asarray(T, dtype=np.float64).transpose(2, 1, 0)))


def _scalar(v):
    """An attribute value for a stats entry, or None to skip it."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, str, np.integer, np.floating)):
        return v
    if isinstance(v, (list, tuple)) and 0 < len(v) <= 16 and all(
            isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
            for x in v):
        return np.asarray(v)
    return None


def write_tree(g, data: dict) -> None:
    """Nested metrics into an HDF5 group: numbers and strings as attributes, mappings as
    subgroups, lists of mappings (tables: racks, chips, fans, ...) as a subgroup with one
    dataset per column, other lists as datasets."""
    for key, v in data.items():
        if isinstance(v, dict):
            write_tree(g.require_group(key), v)
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
            t = g.require_group(key)
            t.attrs["rows"] = len(v)
            cols = list(dict.fromkeys(c for x in v for c in x))   # rows may differ
            for col in cols:
                vals = [x.get(col) for x in v]
                if all(isinstance(x, str) or x is None for x in vals) and \
                        any(isinstance(x, str) for x in vals):
                    t.create_dataset(col, data=_strings(["" if x is None else x
                                                         for x in vals]))
                elif all(isinstance(x, bool) for x in vals):
                    t.create_dataset(col, data=np.array(vals, bool))
                else:
                    try:
                        arr = np.array([np.nan if x is None else x for x in vals], np.float64)
                    except (TypeError, ValueError):
                        continue
                    t.create_dataset(col, data=arr)
        elif isinstance(v, (list, tuple)):
            if v and all(isinstance(x, str) for x in v):
                g.create_dataset(key, data=_strings(v))
            else:
                g.create_dataset(key, data=np.asarray(v, np.float64) if v else
                                 np.zeros(0))
        else:
            a = _scalar(v)
            if a is not None:
                g.attrs[key] = a


def _write_solver(g, stats: dict) -> None:
    for key, v in stats.items():
        if key == "residual_history":
            continue
        a = _scalar(v)
        if a is not None:
            g.attrs[key] = a
    hist = stats.get("residual_history")
    if hist is not None and len(hist):
        g.create_dataset("residual_history", data=np.asarray(hist, dtype=np.float64))


def _write_metrics(g, result) -> None:
    hs = result.hotspot()
    g.attrs["max_temperature"] = result.max_temperature
    g.attrs["hotspot_T"] = hs["T"]
    g.attrs["hotspot_position"] = np.asarray(hs["position"], dtype=np.float64)
    g.attrs["hotspot_index"] = np.asarray(hs["index"], dtype=np.int64)
    g.attrs["hotspot_block"] = hs["block"]
    g.attrs["total_power"] = result.model.total_power
    g.attrs["energy_balance_error"] = result.energy_balance_error
    g.attrs["storage_rate"] = float(result.storage_rate)
    g.attrs["units"] = ("temperatures K, positions m, powers and heat flows W, "
                        "energy_balance_error relative")
    flows = result.heat_flows
    g.create_dataset("heat_flow_labels", data=_strings(flows.keys()))
    d = g.create_dataset("heat_flow_W", data=np.array(list(flows.values()), dtype=np.float64))
    d.attrs["units"] = "W"
    bt = result.block_temperatures()
    g.create_dataset("block_names", data=_strings(bt.keys()))
    for key in ("max", "mean"):
        d = g.create_dataset(f"block_{key}_T",
                             data=np.array([v[key] for v in bt.values()], dtype=np.float64))
        d.attrs["units"] = "K"


# ---------------------------------------------------------------------------------------
def xdmf_text(h5_name: str, shape, name: str = "result", snapshot_times=(),
              final_time=None, extra=()) -> str:
    """The XDMF 3 document for a result file ``h5_name`` (a name relative to the .xdmf) of
    ``shape = (nx, ny, nz)`` cells; see the module docstring for the axis order.
    ``final_time`` (s): the time of the final state (0 when None: a steady state)."""
    nx, ny, nz = (int(n) for n in shape)
    cells = f"{nz} {ny} {nx}"                       # slowest first: KJI
    root = ET.Element("Xdmf", Version="3.0")
    domain = ET.SubElement(root, "Domain")

    def data_item(parent, dims, ntype, prec, dataset):
        el = ET.SubElement(parent, "DataItem", Dimensions=dims, NumberType=ntype,
                           Precision=str(prec), Format="HDF")
        el.text = f"{h5_name}:{dataset}"
        return el

    def grid(parent, gname, T_dataset, time=None):
        g = ET.SubElement(parent, "Grid", Name=gname, GridType="Uniform")
        if time is not None:
            ET.SubElement(g, "Time", Value=repr(float(time)))
        ET.SubElement(g, "Topology", TopologyType="3DRectMesh",
                      Dimensions=f"{nz + 1} {ny + 1} {nx + 1}")
        geo = ET.SubElement(g, "Geometry", GeometryType="VXVYVZ")
        for axis, n in zip("xyz", (nx, ny, nz)):    # VX first: x is the fastest index
            data_item(geo, str(n + 1), "Float", 8, f"/grid/{axis}")
        for aname, ntype, prec, ds in (("T", "Float", 8, T_dataset),
                                       ("material", "Int", 2, "/xdmf/material"),
                                       ("block", "Int", 2, "/xdmf/block"),
                                       ("power", "Float", 8, "/xdmf/power")):
            a = ET.SubElement(g, "Attribute", Name=aname, AttributeType="Scalar",
                              Center="Cell")
            data_item(a, cells, ntype, prec, ds)
        for aname, kind, ds in extra:           # flow fields: ("p", "Scalar", "/xdmf/p")
            a = ET.SubElement(g, "Attribute", Name=aname, AttributeType=kind, Center="Cell")
            data_item(a, cells + (" 3" if kind == "Vector" else ""), "Float", 8, ds)
        return g

    times = [float(t) for t in snapshot_times]
    if not times:
        # always a Time, 0 s for a steady state: pyvista's XdmfReader (pyvista.read) fails
        # on a file without one (it takes the first of the reader's time values)
        grid(domain, name, "/xdmf/T", 0.0 if final_time is None else final_time)
    else:
        coll = ET.SubElement(domain, "Grid", Name=name, GridType="Collection",
                             CollectionType="Temporal")
        for i, t in enumerate(times):
            grid(coll, f"{name} t={t:g} s", f"/xdmf/snapshots/T_{i:05d}", t)
        if final_time is not None and not any(abs(t - final_time) <= 1e-12 * max(
                1.0, abs(final_time)) for t in times):
            grid(coll, f"{name} t={final_time:g} s", "/xdmf/T", final_time)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n' + \
        body + "\n"


# ---------------------------------------------------------------------------------------
def read_result(path, snapshots: bool = True) -> dict:
    """Read a file written by :func:`write_result` into plain numpy arrays and dicts.

    Keys: ``x``, ``y``, ``z`` (faces, m); ``T``, ``material``, ``block``, ``power``
    (shape (nx, ny, nz)); ``material_names``, ``block_names``; ``attrs`` (root attributes);
    ``case`` (the case as a dict, where the result came from a case), ``problem`` (flow
    results: blocks, fluid and boundaries as plain data) and ``case_name``; ``solver``
    (attributes) and ``residual_history`` (array or None); ``metrics`` (attributes, plus ``heat_flows``
    {label: W} and ``block_temperatures`` {name: {"max", "mean"}}); ``units`` {dataset:
    units}; ``snapshots`` (list of (time, T); empty unless stored and ``snapshots``).
    """
    import h5py

    def attrs(obj) -> dict:
        out = {}
        for k, v in obj.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, np.ndarray) and v.dtype == object:
                v = [s.decode() if isinstance(s, bytes) else str(s) for s in v]
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    out: dict = {}
    with h5py.File(path, "r") as f:
        out["attrs"] = attrs(f)
        out["case_name"] = out["attrs"].get("case_name")
        out["case"] = json.loads(out["attrs"]["case"]) if "case" in out["attrs"] else None
        # flow results: the problem as plain data (blocks, fluid, boundaries)
        out["problem"] = json.loads(out["attrs"]["problem"]) if "problem" in out["attrs"] \
            else None
        units = {}
        for a in "xyz":
            out[a] = f["grid"][a][()]
            units[f"grid/{a}"] = f["grid"][a].attrs.get("units")
        for name in ("T", "material", "block", "power"):
            ds = f["fields"][name]
            out[name] = ds[()]
            if "units" in ds.attrs:
                units[f"fields/{name}"] = ds.attrs["units"]
        for name in ("velocity", "p"):          # flow results only
            if name in f["fields"]:
                out[name] = f["fields"][name][()]
                units[f"fields/{name}"] = f["fields"][name].attrs.get("units")
        out["units"] = units
        out["material_names"] = attrs(f["fields/material"]).get("names", [])
        out["block_names"] = attrs(f["fields/block"]).get("names", [])
        out["solver"] = attrs(f["solver"]) if "solver" in f else {}
        out["residual_history"] = f["solver/residual_history"][()] \
            if "solver/residual_history" in f else None
        m = attrs(f["metrics"]) if "metrics" in f else {}
        if "metrics/heat_flow_labels" in f:
            m["heat_flows"] = dict(zip(f["metrics/heat_flow_labels"].asstr()[()].tolist(),
                                       f["metrics/heat_flow_W"][()].tolist()))
        if "metrics/block_names" in f:
            names = f["metrics/block_names"].asstr()[()].tolist()
            m["block_temperatures"] = {
                n: {"max": float(a), "mean": float(b)} for n, a, b in
                zip(names, f["metrics/block_max_T"][()], f["metrics/block_mean_T"][()])}
        out["metrics"] = m
        out["snapshots"] = []
        if snapshots and "snapshots" in f:
            times = f["snapshots/time"][()]
            ds = f["snapshots/T"]
            out["snapshots"] = [(float(t), ds[i]) for i, t in enumerate(times)]
    return out


def write_flow_result(result, path, xdmf: bool = True, residual_plot: bool = True) -> Path:
    """Write a :class:`~thermosim.flow.FlowResult` in the layout above (the conduction
    datasets, plus velocity and pressure) with its XDMF sidecar.  A steady run stopped
    unconverged is marked (the root attribute ``unconverged``, /solver's ``stalled*``
    attributes) and, with ``residual_plot``, gets its residual history drawn beside it
    (``out.residuals.png``).  Returns the HDF5 path."""
    import h5py

    path = Path(path)
    check_result_path(path)
    sidecar = xdmf_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    p = result.problem
    fields = _flow_cell_fields(result)
    vel = np.moveaxis(result.cell_velocity(), 0, -1)
    st = result.stats
    with contextlib.ExitStack() as stack:
        tmp_sidecar = stack.enter_context(atomic_path(sidecar, fsync=True)) if xdmf else None
        tmp_h5 = stack.enter_context(atomic_path(path, fsync=True))
        with h5py.File(tmp_h5, "w") as f:
            f.attrs["thermosim_version"] = thermosim_version()
            f.attrs["layout_version"] = LAYOUT_VERSION
            f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(
                timespec="seconds")
            f.attrs["case_name"] = str(p.name)
            f.attrs["kind"] = "flow"
            f.attrs["problem"] = json.dumps(p.describe())
            if p.case is not None:                     # the YAML case it came from
                f.attrs["case"] = p.case.model_dump_json()
            _write_flow_fields(f, result, fields, vel)
            _write_solver(f.create_group("solver"), _flow_stats(result))
            # whoever opens the file sees it first: a time mean, or not a steady state
            if st.averaged:
                f.attrs["time_averaged"] = averaged_phrase(st)
            elif st.stalled and not st.converged:
                f.attrs["unconverged"] = f"UNCONVERGED: {st.stalled}"
            _write_flow_metrics(f.create_group("metrics"), result, fields["block"], vel)
            if xdmf:
                x = f.create_group("xdmf")
                x.attrs["note"] = "copies transposed to (nz, ny, nx), x fastest, for the XDMF"
                for name, a in {**fields, "p": result.pressure}.items():
                    x.create_dataset(name, data=np.ascontiguousarray(a.transpose(2, 1, 0)))
                x.create_dataset("velocity", data=np.ascontiguousarray(
                    vel.transpose(2, 1, 0, 3)))
        if xdmf:
            tmp_sidecar.write_text(xdmf_text(path.name, result.T.shape, str(p.name),
                                             final_time=float(st.time),
                                             extra=(("p", "Scalar", "/xdmf/p"),
                                                    ("velocity", "Vector", "/xdmf/velocity"))),
                                   encoding="utf-8")
    if not xdmf and sidecar.exists():
        sidecar.unlink()
    if residual_plot and st.stalled and not st.converged and st.history:
        from .residual_plot import draw_residuals, residual_plot_path

        draw_residuals(residual_plot_path(path), st.history, st.stall, str(p.name))
    return path


def _flow_cell_fields(result) -> dict[str, np.ndarray]:
    """A flow result's cell fields as the file stores them: T (K), material (0 the fluid,
    1 + b block b), block (-1 the fluid) and power (W/m^3, each block's power spread over
    its cells)."""
    p = result.problem
    block = np.full(result.T.shape, -1, np.int16) if result.block_index is None \
        else result.block_index.astype(np.int16)
    material = (block + 1).astype(np.int16)            # 0: the fluid, 1 + b: block b
    vol = result.grid.cell_volumes()
    power = np.zeros(result.T.shape)
    for b in range(len(p.blocks)):
        m = block == b
        if m.any():
            power[m] = p.blocks[b].power / vol[m].sum()
    return {"T": result.T, "material": material, "block": block, "power": power}


def _write_flow_fields(f, result, fields: dict, vel: np.ndarray) -> None:
    """/grid, /fields (with velocity and pressure) and /staggered of a flow result."""
    p = result.problem
    g = f.create_group("grid")
    for name, faces in zip("xyz", result.grid.faces):
        g.create_dataset(name, data=np.asarray(faces, np.float64)).attrs["units"] = "m"
    g = f.create_group("fields")
    g.create_dataset("T", data=result.T).attrs["units"] = "K"
    d = g.create_dataset("material", data=fields["material"], **_GZIP)
    d.attrs["names"] = _strings([p.fluid.name] + [f"{b.name} (solid)" for b in p.blocks])
    d = g.create_dataset("block", data=fields["block"], **_GZIP)
    d.attrs["names"] = _strings(b.name for b in p.blocks)
    g.create_dataset("power", data=fields["power"], **_GZIP).attrs["units"] = "W/m^3"
    g.create_dataset("velocity", data=vel).attrs["units"] = "m/s"
    g.create_dataset("p", data=result.pressure).attrs["units"] = "Pa"
    s = f.create_group("staggered")
    for name in "uvw":
        s.create_dataset(name, data=getattr(result, name)).attrs["units"] = "m/s"


def _flow_stats(result) -> dict:
    """What /solver holds for a flow run."""
    st = result.stats
    return {"mode": "flow", "backend": result.backend, "device": result.device,
            "steps": st.steps, "time": st.time, "dt": st.dt, "converged": st.converged,
            "residual_velocity": st.residual_velocity,
            "residual_temperature": st.residual_temperature,
            "pressure_iterations": st.pressure_iterations,
            "pressure_solves": st.pressure_solves,
            "pressure_reduction": st.pressure_reduction, "wall_time": st.wall_time,
            "diffusion": st.diffusion, "implicit_iterations": st.implicit_iterations,
            "implicit_solves": st.implicit_solves,
            **{k: getattr(st, k) for k in ("stopped", "retried") if getattr(st, k, "")},
            **stall_attrs(st),
            "residual_history": [tuple(r) for r in st.history],
            # what "steps" counts (time steps, or the steady solver's outer iterations), and
            # the coarser meshes a coarse start solved first or multigrid cycles ran on
            "steps_unit": st.unit,
            **({"multigrid_cycles": int(st.cycles)} if getattr(st, "cycles", 0) else {}),
            **{f"averaged_{k}": v for k, v in getattr(st, "averaged", {}).items()},
            **({"coarse_cells": [int(c[0]) for c in st.coarse],
                "coarse_iterations": [int(c[1]) for c in st.coarse]} if st.coarse else {}),
            "cells": int(result.T.size), "shape": list(result.T.shape)}


def _write_flow_metrics(m, result, block: np.ndarray, vel: np.ndarray) -> None:
    """/metrics of a flow result: the hotspot, powers, balance, speed, pressure drop,
    heat flows, block temperatures and, with components, the rack metrics."""
    p = result.problem
    hs = result.hotspot()
    m.attrs["max_temperature"] = float(result.T.max())
    m.attrs["hotspot_T"] = hs["T"]
    m.attrs["hotspot_position"] = np.asarray(hs["position"])
    m.attrs["hotspot_index"] = np.asarray(hs["index"], np.int64)
    m.attrs["hotspot_block"] = hs["block"]
    m.attrs["total_power"] = result.total_power
    m.attrs["energy_balance_error"] = result.energy_balance_error
    m.attrs["max_speed"] = float(np.sqrt((vel ** 2).sum(axis=-1)).max())
    m.attrs["fluid"] = p.fluid.name
    dp = result.pressure_drop()
    if dp is not None:
        m.attrs["pressure_drop"] = dp
    m.create_dataset("heat_flow_labels", data=_strings(result.heat_flows.keys()))
    m.create_dataset("heat_flow_W", data=np.array(list(result.heat_flows.values()),
                                                  np.float64)).attrs["units"] = "W"
    names = [b.name for b in p.blocks]
    m.create_dataset("block_names", data=_strings(names))
    for key, fn in (("max", np.max), ("mean", np.mean)):
        vals = [float(fn(result.T[block == i])) if (block == i).any() else np.nan
                for i in range(len(p.blocks))]
        m.create_dataset(f"block_{key}_T", data=np.array(vals, np.float64))
    if result.components:
        write_tree(m, result.metrics())
