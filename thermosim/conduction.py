"""The conduction discretisation of a case: the finite-volume thermal model.

Every cell of the grid (and of a one-cell halo around it) gets a small integer *id*; cells
with the same id share their properties, kept in a per-id table:

======== =====================================================================
rkx..rkz thermal resistivity 1/k along each axis, m K / W (1e30 for void)
ra       an absolute surface resistance, m^2 K / W (1/h of a convective BC)
inv_rhoc 1/(rho c_p), m^3 K / J (0 for cells whose temperature is held fixed)
qdot     volumetric heat source, W/m^3
rc       contact resistance of the id's block, m^2 K / W
grp      the id's block + 1 (0: background; -1: fixed cells), as a float
kind     0 solved cell, 1 void, 2 fixed-temperature cell (halo or BC cell)
======== =====================================================================

A face between cells P and N conducts ``G = A / (hx_P rk_P + ra_P + hx_N rk_N + ra_N + Rc)``
(W/K), the series resistance of the two half cells: the harmonic mean of the conductivities
weighted by the half widths ``hx``, which is exact for a layered 1D wall.  ``Rc = rc_P +
rc_N`` where the face separates two different blocks (or a block and the background), both
not fixed: a thermal contact resistance.  Boundary
conditions are cells with a fixed temperature and zero width: a halo cell of a
fixed-temperature face has ``ra = 0``, a convective face ``ra = 1/h`` at the ambient
temperature, an adiabatic face an infinite resistance.  A heat flux enters as a source in
the first cell layer (exact in a finite-volume balance).  The same rule and the same table
serve the implicit solver (assembled face conductances) and the explicit GPU kernel (which
evaluates the rule on the fly), so both see identical physics.  A later domain
decomposition fills the same halo with a neighbour's temperatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .case import Block, Boundary, Case
from .errors import CaseError
from .grid import Grid
from .linear_system import LinearSystem
from .materials import Material, fluid, fluid_names, lookup, make_material
from .meshing import boundary_list, make_grid

BIG_R = 1e30          # resistance standing for "no heat path" (finite, so 0 * BIG_R is 0)
SOLVED, VOID, FIXED = 0, 1, 2
TABLE_FIELDS = ("rkx", "rky", "rkz", "ra", "inv_rhoc", "qdot", "rc", "grp")


@dataclass
class ThermalModel:
    """The discretised case.  Arrays with a halo have shape ``(nx+2, ny+2, nz+2)``."""

    case: Case
    grid: Grid
    ids: np.ndarray                    # cell id, with halo (uint8 or uint16)
    table: dict[str, np.ndarray]       # per-id properties, see module docstring
    kind: np.ndarray                   # per-id kind
    id_block: np.ndarray               # per-id block index (-1: background, halo, BC cell)
    id_material: np.ndarray            # per-id material index (-1: none)
    T_fixed: np.ndarray                # initial temperature with fixed values, with halo (K)
    block_names: list[str]
    materials: list[Material]
    block_power: np.ndarray            # W per block, as given
    flux_power: float                  # W entering through heat-flux boundaries
    boundary_labels: list[str] = field(default_factory=list)   # per fixed id: where it is
    id_boundary: np.ndarray | None = None                      # per-id boundary label index

    @property
    def shape(self):
        return self.grid.shape

    def half_widths(self, axis: int) -> np.ndarray:
        """Half cell widths along ``axis`` with zero-width halo cells at both ends (m)."""
        h = 0.5 * self.grid.spacing(axis)
        return np.concatenate([[0.0], h, [0.0]])

    def cell_field(self, name: str) -> np.ndarray:
        """A per-id table entry expanded to the interior cells."""
        return self.table[name][self.ids[1:-1, 1:-1, 1:-1]]

    def solved_mask(self) -> np.ndarray:
        return self.kind[self.ids[1:-1, 1:-1, 1:-1]] == SOLVED

    def power_density(self) -> np.ndarray:
        """Volumetric heat source per cell (W/m^3), heat-flux boundary layers included."""
        return self.cell_field("qdot")

    @property
    def has_contact(self) -> bool:
        """Whether any block has a contact resistance (kernels skip it otherwise)."""
        return bool(np.any(self.table["rc"] > 0))

    @property
    def total_power(self) -> float:
        """Heat put in (W): block powers plus heat-flux boundaries."""
        return float(self.block_power.sum() + self.flux_power)


# ---------------------------------------------------------------------------------------
def build_model(case: Case) -> ThermalModel:
    """Rasterise a case onto its grid and build the per-id property table: the materials,
    the cells each block owns and its power, the boundary conditions as sources and fixed
    cells, then one id per distinct combination of these and the id's properties."""
    case.check()
    file = case.source_file
    grid = make_grid(case)          # (its size checked from the case before it is built)
    materials, block_material = _materials(case)
    block_power = np.array([case.block_power(b) for b in case.blocks], dtype=float)
    cells = _place_blocks(case, grid, materials, block_material, block_power)
    _add_face_conditions(case, grid, cells)
    _add_halo_conditions(case, grid, cells)
    codes, inverse, offset = _cell_codes(case, cells)
    nid = codes.size
    if nid > 65535:
        raise CaseError(f"{nid} distinct cell kinds exceed the 65535 supported", "blocks", file)
    ids = inverse.astype(np.uint8 if nid <= 256 else np.uint16)
    table, kind, id_block, id_material, id_boundary, T_of_id = _id_properties(
        case, cells, materials, codes, inverse, offset)
    T_fixed = T_of_id[inverse]
    if not np.any(kind == SOLVED):
        raise CaseError("nothing to solve: every cell is void", "blocks", file)
    labels = [s[2] for s in cells.halo_specs] + [s[2] for s in cells.fixed_specs]
    return ThermalModel(case=case, grid=grid, ids=ids, table=table, kind=kind,
                        id_block=id_block, id_material=id_material, T_fixed=T_fixed,
                        block_names=[b.name for b in case.blocks], materials=materials,
                        block_power=block_power, flux_power=cells.flux_power,
                        boundary_labels=labels, id_boundary=id_boundary)


@dataclass
class _Cells:
    """What :func:`build_model`'s steps find per cell: interior arrays ``(nx, ny, nz)``
    except ``halo_patch``, which has the halo."""

    owner: np.ndarray            # block owning each cell (-1: background)
    cell_material: np.ndarray    # index into the model's materials
    is_void: np.ndarray          # the cell's material is void
    qdot: np.ndarray             # block power density, W/m^3
    flux_q: np.ndarray           # heat-flux boundaries as sources in the first layer, W/m^3
    fixed_cell: np.ndarray       # BC cell beyond a block face: index into fixed_specs, or -1
    halo_patch: np.ndarray | None = None    # halo cell: index into halo_specs, or -1
    flux_power: float = 0.0      # W entering through heat-flux boundaries
    fixed_specs: list[tuple[float, float, str]] = field(default_factory=list)  # (ra, T, label)
    halo_specs: list[tuple[float, float, str]] = field(default_factory=list)   # (ra, T, label)


def _materials(case: Case) -> tuple[list[Material], list[int]]:
    """The model's materials (the background's first) and each block's index into them."""
    file = case.source_file
    T0 = case.initial_temperature
    user = {}
    for name, spec in case.materials.items():
        try:
            if spec.fluid is not None:
                if spec.fluid not in fluid_names():
                    raise CaseError(f"unknown fluid '{spec.fluid}' (known: "
                                    f"{', '.join(fluid_names())})", f"materials.{name}.fluid")
                m = fluid(spec.fluid, spec.T if spec.T is not None else T0, spec.p)
                user[name] = Material(name, m.conductivity, m.density, m.specific_heat,
                                      "fluid", m.source)
            else:
                user[name] = make_material(name, spec.k, spec.rho, spec.cp)
        except CaseError as e:
            raise e.with_file(file) from None

    def material(name: str, key: str) -> Material:
        try:
            return lookup(name, user, T0)
        except CaseError as e:
            raise CaseError(e.reason, key, file) from None

    materials: list[Material] = [material(case.domain.background, "domain.background")]
    mat_index = {materials[0].name: 0}
    block_mat = []
    for i, b in enumerate(case.blocks):
        m = material(b.material, f"blocks[{i}] ({b.name}).material")
        if m.name not in mat_index:
            mat_index[m.name] = len(materials)
            materials.append(m)
        block_mat.append(mat_index[m.name])
    return materials, block_mat


def _place_blocks(case: Case, grid: Grid, materials: list[Material], block_mat: list[int],
                  block_power: np.ndarray) -> _Cells:
    """Which block owns each cell (later blocks win where they overlap), its material and
    the blocks' power spread over their cells."""
    file = case.source_file
    nx, ny, nz = grid.shape
    owner = np.full((nx, ny, nz), -1, dtype=np.int32)
    for i, b in enumerate(case.blocks):
        owner[_box_slices(grid, b.min, b.max)] = i
    vol = grid.cell_volumes()
    qdot = np.zeros((nx, ny, nz))
    for i, b in enumerate(case.blocks):
        mask = owner == i
        if not mask.any():
            if block_power[i] > 0:
                raise CaseError("block has power but no cells: it is covered by later blocks "
                                "or thinner than the grid", f"blocks[{i}] ({b.name})", file)
            continue
        if block_power[i] > 0:
            qdot[mask] += block_power[i] / vol[mask].sum()
    cell_mat = np.where(owner >= 0, np.asarray(block_mat + [0])[owner], 0)
    is_void = np.array([m.is_void for m in materials])[cell_mat]
    if np.any(is_void & (qdot > 0)):
        raise CaseError("a powered block is made of void", "blocks", file)
    return _Cells(owner=owner, cell_material=cell_mat, is_void=is_void, qdot=qdot,
                  flux_q=np.zeros((nx, ny, nz)),
                  fixed_cell=np.full((nx, ny, nz), -1, dtype=np.int32))


def _add_flux(grid: Grid, cells: _Cells, sl, axis: int, q: float) -> float:
    """A heat flux ``q`` (W/m^2) into the cell layer ``sl`` as a source in its solid cells;
    returns the power it puts in (W)."""
    nx, ny, nz = grid.shape
    d = grid.spacing(axis)
    shape = [1, 1, 1]
    shape[axis] = -1
    width = np.broadcast_to(d.reshape(shape), (nx, ny, nz))[sl]
    solid = ~cells.is_void[sl]
    cells.flux_q[sl] += np.where(solid, q / width, 0.0)
    return float(np.sum(np.where(solid, q / width * grid.cell_volumes()[sl], 0.0)))


def _add_face_conditions(case: Case, grid: Grid, cells: _Cells) -> None:
    """Heat-flux boundaries (the domain's and the blocks') become sources in the first cell
    layer; a block face's temperature or convective condition fixes the void cells beyond
    it."""
    file = case.source_file
    for face, specs in case.boundaries.items():
        for spec in boundary_list(specs):
            if spec.type == "heat_flux":
                sl = _face_layer(grid, face, spec, inside=True)
                cells.flux_power += _add_flux(grid, cells, sl, "xyz".index(face[0]), spec.q)

    for i, b in enumerate(case.blocks):
        for face, specs in b.boundaries.items():
            for spec in boundary_list(specs):
                key = f"blocks[{i}] ({b.name}).boundaries.{face}"
                axis = "xyz".index(face[0])
                inner, outer = _block_face_layers(grid, b, face, key, file)
                if spec.type == "heat_flux":
                    cells.flux_power += _add_flux(grid, cells, inner, axis, spec.q)
                    continue
                if spec.type == "adiabatic":
                    continue  # void already insulates
                void_out = cells.is_void[outer]
                if not void_out.any():
                    raise CaseError("a temperature or convective condition on a block face "
                                    "needs empty space (background: void) beyond the face",
                                    key, file)
                ra = 0.0 if spec.type == "temperature" else 1.0 / spec.h
                T = spec.T if spec.type == "temperature" else spec.T_ambient
                cells.fixed_specs.append((ra, T, f"{b.name} {face} ({spec.type})"))
                target = cells.fixed_cell[outer]
                target[void_out] = len(cells.fixed_specs) - 1
                cells.fixed_cell[outer] = target


def _add_halo_conditions(case: Case, grid: Grid, cells: _Cells) -> None:
    """The halo cells: the domain's temperature and convective boundaries (the rest of the
    halo, edges and corners included, is adiabatic)."""
    nx, ny, nz = grid.shape
    halo_patch = np.full((nx + 2, ny + 2, nz + 2), -1, dtype=np.int32)
    halo_specs: list[tuple[float, float, str]] = [(BIG_R, case.initial_temperature,
                                                   "adiabatic")]
    halo_patch[...] = 0                       # edges and corners too: never read
    halo_patch[1:-1, 1:-1, 1:-1] = -1
    for face, specs in case.boundaries.items():
        for spec in boundary_list(specs):
            if spec.type in ("heat_flux", "adiabatic"):
                continue
            ra = 0.0 if spec.type == "temperature" else 1.0 / spec.h
            T = spec.T if spec.type == "temperature" else spec.T_ambient
            halo_specs.append((ra, T, f"{face} ({spec.type})"))
            sl = _face_layer(grid, face, spec, inside=False)
            halo_patch[sl] = len(halo_specs) - 1
    cells.halo_patch, cells.halo_specs = halo_patch, halo_specs


def _cell_codes(case: Case, cells: _Cells) -> tuple[np.ndarray, np.ndarray, int]:
    """One code per unique combination of (block or background, flux source, BC cell), and
    one per halo condition from ``offset`` on: the distinct codes and each cell's index
    into them (with halo)."""
    nx, ny, nz = cells.owner.shape
    nb = len(case.blocks) + 1
    if cells.flux_q.any():
        _, flux_code = np.unique(cells.flux_q, return_inverse=True)
        flux_code = flux_code.reshape(nx, ny, nz)
    else:
        flux_code = np.zeros((nx, ny, nz), dtype=np.int64)
    nflux = int(flux_code.max()) + 1
    code_inner = (cells.owner + 1).astype(np.int64) + nb * (
        flux_code.astype(np.int64) + nflux * (cells.fixed_cell + 1).astype(np.int64))
    code = np.full((nx + 2, ny + 2, nz + 2), -1, dtype=np.int64)
    code[1:-1, 1:-1, 1:-1] = code_inner
    halo = cells.halo_patch >= 0
    offset = int(code_inner.max()) + 1
    code[halo] = offset + cells.halo_patch[halo]
    codes, inverse = _relabel(code)
    return codes, inverse, offset


def _id_properties(case: Case, cells: _Cells, materials: list[Material], codes: np.ndarray,
                   inverse: np.ndarray, offset: int):
    """The per-id table (see the module docstring), kind, block, material, boundary label
    and fixed temperature (K), each id read from the first cell that has it."""
    nid = codes.size
    table = {f: np.zeros(nid) for f in TABLE_FIELDS}
    kind = np.zeros(nid, dtype=np.int8)
    id_block = np.full(nid, -1, dtype=np.int32)
    id_material = np.full(nid, -1, dtype=np.int32)
    id_boundary = np.full(nid, -1, dtype=np.int32)
    T_of_id = np.full(nid, case.initial_temperature)   # fixed temperature of each fixed id
    first = np.full(nid, -1, dtype=np.int64)
    first[inverse.ravel()[::-1]] = np.arange(inverse.size)[::-1]
    for n in range(nid):
        c = int(codes[n])
        if c >= offset:                                        # halo cell
            p = c - offset
            ra, T, _ = cells.halo_specs[p]
            _fixed_entry(table, kind, n, ra)
            id_boundary[n] = p
            T_of_id[n] = T
            continue
        idx = np.unravel_index(first[n], inverse.shape)
        ii = tuple(int(v) - 1 for v in idx)
        fc = int(cells.fixed_cell[ii])
        if fc >= 0:                                            # BC cell beyond a block face
            ra, T, _ = cells.fixed_specs[fc]
            _fixed_entry(table, kind, n, ra)
            id_boundary[n] = len(cells.halo_specs) + fc
            T_of_id[n] = T
            continue
        blk = int(cells.owner[ii])
        mi = int(cells.cell_material[ii])
        m = materials[mi]
        id_block[n] = blk
        id_material[n] = mi
        table["grp"][n] = blk + 1
        table["rc"][n] = case.blocks[blk].contact_resistance if blk >= 0 else 0.0
        if m.is_void:
            kind[n] = VOID
            table["rkx"][n] = table["rky"][n] = table["rkz"][n] = BIG_R
            continue
        kind[n] = SOLVED
        for a, f in enumerate(("rkx", "rky", "rkz")):
            table[f][n] = 1.0 / m.conductivity[a]
        table["inv_rhoc"][n] = 1.0 / m.volumetric_heat_capacity
        table["qdot"][n] = cells.qdot[ii] + cells.flux_q[ii]
    return table, kind, id_block, id_material, id_boundary, T_of_id


def _relabel(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(code, return_inverse=True)`` for small non-negative integer codes, in
    linear time (a lookup table instead of a sort)."""
    top = int(code.max()) + 1
    if top > 4 * code.size + 1024 or code.min() < 0:
        codes, inverse = np.unique(code, return_inverse=True)
        return codes, inverse.reshape(code.shape)
    present = np.zeros(top, dtype=bool)
    present[code.ravel()] = True
    codes = np.flatnonzero(present)
    label = np.cumsum(present) - 1
    return codes, label[code]


def _fixed_entry(table, kind, n, ra):
    kind[n] = FIXED
    table["ra"][n] = ra
    table["grp"][n] = -1.0          # no contact resistance towards a boundary
    # rk, inv_rhoc and qdot stay 0: the cell has no width, no capacity and no source


def _box_slices(grid: Grid, lo, hi):
    return tuple(slice(*grid.index_range(a, lo[a], hi[a])) for a in range(3))


def _face_layer(grid: Grid, face: str, spec: Boundary, inside: bool):
    """Cells next to a domain face (``inside``) or the halo cells beyond it, limited to the
    spec's region; slices into an interior array (inside) or a halo array."""
    axis = "xyz".index(face[0])
    n = grid.shape
    sl = []
    for a in range(3):
        if a == axis:
            if inside:
                sl.append(slice(0, 1) if face[1] == "-" else slice(n[a] - 1, n[a]))
            else:
                sl.append(slice(0, 1) if face[1] == "-" else slice(n[a] + 1, n[a] + 2))
            continue
        i0, i1 = (0, n[a]) if spec.region is None else \
            grid.index_range(a, spec.region.min[a], spec.region.max[a])
        off = 0 if inside else 1
        sl.append(slice(i0 + off, i1 + off))
    return tuple(sl)


def _block_face_layers(grid: Grid, b: Block, face: str, key: str, file):
    """The block's own cell layer at ``face`` and the layer just outside it (interior
    indices)."""
    axis = "xyz".index(face[0])
    box = list(_box_slices(grid, b.min, b.max))
    s = box[axis]
    n = grid.shape[axis]
    if face[1] == "-":
        if s.start == 0:
            raise CaseError("this block face lies on the domain boundary: give the condition "
                            "under 'boundaries' with a region instead", key, file)
        inner, outer = slice(s.start, s.start + 1), slice(s.start - 1, s.start)
    else:
        if s.stop == n:
            raise CaseError("this block face lies on the domain boundary: give the condition "
                            "under 'boundaries' with a region instead", key, file)
        inner, outer = slice(s.stop - 1, s.stop), slice(s.stop, s.stop + 1)
    bi, bo = list(box), list(box)
    bi[axis], bo[axis] = inner, outer
    return tuple(bi), tuple(bo)


# ---------------------------------------------------------------------------------------
def face_conductances(model: ThermalModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face conductances G = A / R_series (W/K) on every face, the halo faces included.

    Computed once per model (callers copy before modifying)."""
    cached = model.__dict__.get("_conductances")
    if cached is not None:
        return cached
    G = _face_conductances(model)
    for g in G:
        g.setflags(write=False)
    model.__dict__["_conductances"] = G
    return G


def _face_conductances(model: ThermalModel):
    grid = model.grid
    ids = model.ids
    t = model.table
    out = []
    d = [grid.spacing(a) for a in range(3)]
    for axis, rk in enumerate(("rkx", "rky", "rkz")):
        shape = [1, 1, 1]
        shape[axis] = -1
        h = model.half_widths(axis).reshape(shape)
        side = h * t[rk][ids] + t["ra"][ids]
        inner = [slice(1, -1)] * 3
        lo, hi = list(inner), list(inner)
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        r = side[tuple(lo)] + side[tuple(hi)]
        if model.has_contact:
            ga, gb = t["grp"][ids[tuple(lo)]], t["grp"][ids[tuple(hi)]]
            contact = (ga != gb) & (ga >= 0) & (gb >= 0)
            r = r + np.where(contact, t["rc"][ids[tuple(lo)]] + t["rc"][ids[tuple(hi)]], 0.0)
        o = [a for a in range(3) if a != axis]
        area_shape = [1, 1, 1]
        area_shape[o[0]] = -1
        A = d[o[0]].reshape(area_shape)
        area_shape = [1, 1, 1]
        area_shape[o[1]] = -1
        A = A * d[o[1]].reshape(area_shape)
        with np.errstate(divide="ignore"):
            G = np.where(r < 0.5 * BIG_R, A / r, 0.0)
        out.append(G)
    return tuple(out)


def linear_system(model: ThermalModel, capacity_rate: np.ndarray | None = None,
                  T_fixed: np.ndarray | None = None) -> LinearSystem:
    """Assemble the steady operator (plus ``capacity_rate`` = C/dt in W/K on the diagonal for
    an implicit time step).  Fixed cells inside the domain are eliminated into D and b."""
    T_fixed = model.T_fixed if T_fixed is None else T_fixed
    Gx, Gy, Gz = (g.copy() for g in face_conductances(model))
    nx, ny, nz = model.shape
    kind = model.kind[model.ids]
    solved = kind[1:-1, 1:-1, 1:-1] == SOLVED
    D = np.zeros((nx, ny, nz)) if capacity_rate is None else np.where(solved, capacity_rate, 0)
    b = np.where(solved, model.cell_field("qdot") * model.grid.cell_volumes(), 0.0)
    # boundary faces: keep G (the halo reads zero), move G * T_halo into b
    Tin = T_fixed
    b[0, :, :] += Gx[0] * Tin[0, 1:-1, 1:-1]
    b[-1, :, :] += Gx[-1] * Tin[-1, 1:-1, 1:-1]
    b[:, 0, :] += Gy[:, 0] * Tin[1:-1, 0, 1:-1]
    b[:, -1, :] += Gy[:, -1] * Tin[1:-1, -1, 1:-1]
    b[:, :, 0] += Gz[:, :, 0] * Tin[1:-1, 1:-1, 0]
    b[:, :, -1] += Gz[:, :, -1] * Tin[1:-1, 1:-1, -1]
    # interior fixed and void cells: eliminate their faces
    not_solved = ~solved
    if not_solved.any():
        Tc = T_fixed[1:-1, 1:-1, 1:-1]
        fixed = kind[1:-1, 1:-1, 1:-1] == FIXED
        for axis, G in enumerate((Gx, Gy, Gz)):
            inner = [slice(None)] * 3
            lo = list(inner)
            lo[axis] = slice(1, -1)           # interior faces only
            sl_m, sl_p = list(inner), list(inner)
            sl_m[axis] = slice(0, -1)
            sl_p[axis] = slice(1, None)
            g = G[tuple(lo)]
            sm, sp = solved[tuple(sl_m)], solved[tuple(sl_p)]
            fm, fp = fixed[tuple(sl_m)], fixed[tuple(sl_p)]
            # solved cell on the minus side, fixed on the plus side, and vice versa
            D[tuple(sl_m)] += np.where(sm & fp, g, 0.0)
            b[tuple(sl_m)] += np.where(sm & fp, g * Tc[tuple(sl_p)], 0.0)
            D[tuple(sl_p)] += np.where(sp & fm, g, 0.0)
            b[tuple(sl_p)] += np.where(sp & fm, g * Tc[tuple(sl_m)], 0.0)
            g[...] = np.where(sm & sp, g, 0.0)
            # boundary faces of cells that are not solved carry nothing
            first, last = list(inner), list(inner)
            first[axis], last[axis] = 0, -1
            cf, cl = list(inner), list(inner)
            cf[axis], cl[axis] = 0, -1
            G[tuple(first)] = np.where(solved[tuple(cf)], G[tuple(first)], 0.0)
            G[tuple(last)] = np.where(solved[tuple(cl)], G[tuple(last)], 0.0)
        # keep rows of unsolved cells non-singular and decoupled: D T = D T_fixed
        pos = np.concatenate([Gx[Gx > 0], Gy[Gy > 0], Gz[Gz > 0]])
        gref = float(np.median(pos)) if pos.size else 1.0
        D = np.where(not_solved, gref, D)
        b = np.where(not_solved, gref * Tc, b)
    return LinearSystem(Gx, Gy, Gz, D, b)
