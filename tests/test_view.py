"""Off-screen rendering of a saved result."""

import subprocess
import sys

import pytest

pytest.importorskip("pyvista")

from thermosim.case import Case  # noqa: E402
from thermosim.output import write_result  # noqa: E402
from thermosim.simulation import solve  # noqa: E402
from thermosim.view import display_scale, render  # noqa: E402

MM = 1e-3
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _board():
    """A 20 x 20 x 1 mm board, a 0.1 mm interface layer and a die, in void (anisotropic)."""
    return Case.from_dict(dict(
        name="board", domain=dict(min=[0, 0, 0], max=[20 * MM, 20 * MM, 1.6 * MM]),
        materials=dict(fr4=dict(k=[0.8, 0.8, 0.3], rho=1850, cp=1100),
                       tim=dict(k=3.0, rho=2500, cp=800), si=dict(k=150, rho=2330, cp=700)),
        grid=dict(max_cell=1 * MM),
        blocks=[dict(name="board", material="fr4", min=[0, 0, 0], max=[20 * MM, 20 * MM, MM]),
                dict(name="tim", material="tim", min=[5 * MM, 6 * MM, MM],
                     max=[15 * MM, 14 * MM, 1.1 * MM]),
                dict(name="die", material="si", min=[6 * MM, 7 * MM, 1.1 * MM],
                     max=[13 * MM, 13 * MM, 1.6 * MM], power=3.0)],
        boundaries={"z-": dict(type="convective", h=500.0, T_ambient=300.0)}))


def _sheet():
    """One cell thick, solid everywhere."""
    return Case.from_dict(dict(
        name="sheet", domain=dict(min=[0, 0, 0], max=[20 * MM, 10 * MM, 0.1 * MM],
                                  background="cu"),
        materials=dict(cu=dict(k=400, rho=8900, cp=385)), grid=dict(cells=[20, 10, 1]),
        blocks=[dict(name="hot", material="cu", min=[14 * MM, 2 * MM, 0],
                     max=[18 * MM, 5 * MM, 0.1 * MM], power=1.0)],
        boundaries={"x-": dict(type="temperature", T=300.0)}))


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 20_000          # a real picture, not a blank frame
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("make", [_board, _sheet])
def test_render(tmp_path, make):
    r = solve(make(), backend="cpu")
    h5 = write_result(r, tmp_path / "out.h5")
    info = render(h5, tmp_path / "pics" / "out.png", window_size=(800, 500))
    assert info["png"] == tmp_path / "pics" / "out.png"
    _check_png(info["png"])
    assert info["hotspot"] == r.hotspot()
    assert info["scale"][:2] == (1.0, 1.0) and info["scale"][2] > 1.0   # thin z stretched


def test_render_other_field(tmp_path):
    h5 = write_result(solve(_sheet(), backend="cpu"), tmp_path / "s.h5")
    _check_png(render(h5, tmp_path / "p.png", field="power", window_size=(640, 400))["png"])
    with pytest.raises(ValueError):
        render(h5, tmp_path / "q.png", field="pressure")


def test_display_scale():
    assert display_scale([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    sx, sy, sz = display_scale([0.1, 0.1, 1e-4])
    assert sx == sy == 1.0 and sz * 1e-4 == pytest.approx(0.25 * 0.1)


def test_import_is_light():
    code = "import sys, thermosim.view; print('pyvista' in sys.modules, 'vtk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("vmin,vmax", [(300.0, 300.1), (300.0, 301.0), (300.0, 400.0),
                                       (350.0, 350.002)])
def test_colour_bar_labels_differ(vmin, vmax):
    """Six evenly spaced temperature labels print as six different numbers, whatever the
    range (a 0.1 K range once printed 300.1 six times)."""
    from thermosim.view import _bar_format

    fmt = _bar_format("T", vmin, vmax)
    labels = [fmt % (vmin + i * (vmax - vmin) / 5) for i in range(6)]
    assert len(set(labels)) == 6, labels
