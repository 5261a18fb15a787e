// Steady-solver kernels (outer iterations, thermosim/flow/outer.py): the CUDA twins of
// thermosim/backends/cpu_steady.py, with the same arguments and the same arithmetic.
//
// Layout as flow.cu: every array has the halo shape (nx+2, ny+2, nz+2), C order (z
// fastest), staggered faces on the low side of their cell.  The seven coefficient arrays
// (aw, ae, as, an, ab, at, ap) have the halo shape too; aw/ae couple along the component's
// own axis AX, as/an along P1, ab/at along P2 (Perm<AX> in flow.cu): the CPU wrapper runs
// one Numba kernel on transposed views, here the permutation is a template argument (the
// operators) or a runtime stride triple (the sweep), and threads run over memory order for
// coalesced access whatever the axis, one thread per face or cell, grid-stride.
//
// The sweep is red-black Gauss-Seidel (cells coloured by the parity of i + j + k, which
// does not depend on the axis order), not the CPU's lexicographic one: a colour's points
// depend only on the other colour's, so each half-sweep is one parallel launch.  Its
// iterates differ from the CPU's (another smoother); the outer iteration solves in delta
// form, so the converged answer does not.
//
// Compiled at run time by NVRTC (cupy.RawModule, templates named by name_expressions) and
// ahead of time by CMake/nvcc with -DTHERMOSIM_AOT (instantiations at the end of this file).
// Its helpers live in namespace thermosim::steady, so that it compiles alone (NVRTC) and
// beside flow.cu in one translation unit (the emulator).

namespace thermosim {

namespace steady {

// Memory coordinates (halo indices) of linear thread item t over a box of extents e[0..2]
// starting at o[0..2] (flow.cu's unflatten; a copy, so that this file compiles alone).
__device__ __forceinline__ void coords(long long t, const int* e, const int* o, int* c) {
    c[2] = o[2] + (int)(t % e[2]);
    t /= e[2];
    c[1] = o[1] + (int)(t % e[1]);
    c[0] = o[0] + (int)(t / e[1]);
}

template <int AX>
struct Axes;
template <>
struct Axes<0> { static constexpr int p1 = 1, p2 = 2; };
template <>
struct Axes<1> { static constexpr int p1 = 0, p2 = 2; };
template <>
struct Axes<2> { static constexpr int p1 = 0, p2 = 1; };

template <typename T>
__device__ __forceinline__ T pos(T x) { return x > T(0) ? x : T(0); }

// The slopes of flow.cu's bounded face value in its upwind and downwind temperatures
// (cpu_steady._face_value_slopes).
template <typename T>
__device__ __forceinline__ void face_value_slopes(T tu, T td, T tuu, T hu, T hd, T duu,
                                                  T& su, T& sd) {
    su = T(1);
    sd = T(0);
    const T dd = td - tu;
    if (dd == T(0)) return;
    const T hm = T(0.5) * (hu + hd);
    const T a = (tu - tuu) * hm / duu;
    const T r = a / dd;
    if (r <= T(0)) return;                                  // upwind
    if (T(2) * r / (T(1) + r) > (hu + hd) / hu) {           // held at the downwind value
        su = T(0);
        sd = T(1);
        return;
    }
    const T w = hu / (hu + hd);
    const T s2 = (a + dd) * (a + dd);
    su = T(1) + w * (T(2) * dd * dd / s2 * hm / duu - T(2) * a * a / s2);
    sd = w * T(2) * a * a / s2;
}

// How much more the bounded advection's heat out of a cell through its two faces along one
// axis grows with the cell's own temperature than the upwind scheme's (W/K;
// cpu_steady._axis_own_slope): p the cell, s the axis' stride, q its index along it.
template <typename T>
__device__ __forceinline__ T axis_own_slope(const T* __restrict__ vel,
                                            const T* __restrict__ Tm, long long p,
                                            long long s, int q, int nq,
                                            const T* __restrict__ h,
                                            const T* __restrict__ d, T area) {
    T ex = T(0);
    for (int f = 0; f < 2; ++f) {
        const int fi = q + f;
        const long long pf = p + f * s;
        const T ve = vel[pf];
        if (ve == T(0)) continue;
        const T fl = (ve < T(0) ? -ve : ve) * area;
        T su, sd;
        if (ve > T(0)) {
            if (fi - 2 < 0) continue;
            face_value_slopes(Tm[pf - s], Tm[pf], Tm[pf - 2 * s], h[fi - 1], h[fi], d[fi - 1],
                              su, sd);
            ex += f == 1 ? fl * (su - T(1)) : -fl * sd;
        } else {
            if (fi + 1 > nq + 1) continue;
            face_value_slopes(Tm[pf], Tm[pf - s], Tm[pf + s], h[fi], h[fi - 1], d[fi + 1],
                              su, sd);
            ex += f == 0 ? fl * (su - T(1)) : -fl * sd;
        }
    }
    return ex;
}

}  // namespace steady

// The upwind-advection and diffusion Jacobian (1/s) of momentum_rhs<T, AX> plus inv_dt on
// the faces normal to AX from `first` to n[AX] (1/s); every other entry of the halo-shaped
// coefficient arrays gets ap = 1 and no couplings (one thread per entry).  a: the normal
// velocity; b, c: the velocities along P1, P2 (m/s).  A wall beside a face row couples
// through half a cell, into the diagonal.  eddy: also the eddy diffusion's, nut (m^2/s,
// cells) frozen, averaged as eddy_momentum does; else nut is not read.
template <typename T, int AX>
__global__ void steady_momentum_operator(
    const T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ c,
    const unsigned char* __restrict__ fluid, const T* __restrict__ h0,
    const T* __restrict__ h1, const T* __restrict__ h2, const T* __restrict__ d0,
    const T* __restrict__ d1, const T* __restrict__ d2, T nu, T inv_dt, int first,
    const T* __restrict__ nut, int eddy, T* __restrict__ aw, T* __restrict__ ae,
    T* __restrict__ as, T* __restrict__ an, T* __restrict__ ab, T* __restrict__ at,
    T* __restrict__ ap, int nx, int ny, int nz) {
    constexpr int P1 = steady::Axes<AX>::p1, P2 = steady::Axes<AX>::p2;
    const int n[3] = {nx, ny, nz};
    const long long st[3] = {((long long)ny + 2) * (nz + 2), (long long)nz + 2, 1};
    const int e[3] = {nx + 2, ny + 2, nz + 2};
    const int o[3] = {0, 0, 0};
    const long long s0 = st[AX], s1 = st[P1], s2 = st[P2];
    const int n0 = n[AX], n1 = n[P1], n2 = n[P2];
    const long long total = (long long)e[0] * e[1] * e[2];
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int cc[3];
        steady::coords(t, e, o, cc);
        const int i = cc[AX], j = cc[P1], k = cc[P2];
        const long long p = cc[0] * st[0] + cc[1] * st[1] + cc[2] * st[2];
        aw[p] = T(0);
        ae[p] = T(0);
        as[p] = T(0);
        an[p] = T(0);
        ab[p] = T(0);
        at[p] = T(0);
        ap[p] = T(1);
        if (i < first || i > n0 || j < 1 || j > n1 || k < 1 || k > n2) continue;
        if (fluid[p - s0] == 0 || fluid[p] == 0) continue;
        const T wl = h0[i] / (h0[i - 1] + h0[i]);
        const T wr = T(1) - wl;
        T diag = inv_dt;
        const T cr = T(0.5) * (a[p] + a[p + s0]);
        const T cl = T(0.5) * (a[p - s0] + a[p]);
        T de = nu / (h0[i] * d0[i]);
        T dw = nu / (h0[i - 1] * d0[i]);
        if (eddy) {
            de += nut[p] / (h0[i] * d0[i]);
            dw += nut[p - s0] / (h0[i - 1] * d0[i]);
        }
        ae[p] = steady::pos(-cr) / d0[i] + de;
        aw[p] = steady::pos(cl) / d0[i] + dw;
        diag += (steady::pos(cr) + steady::pos(-cl)) / d0[i] + de + dw;
        const T bu = wl * b[p - s0 + s1] + wr * b[p + s1];
        const T bl = wl * b[p - s0] + wr * b[p];
        if (fluid[p - s0 + s1] == 0 || fluid[p + s1] == 0) {
            diag += nu / (T(0.5) * h1[j] * h1[j]);
        } else {
            T g = nu / (d1[j + 1] * h1[j]);
            if (eddy && n1 >= 2)
                g += T(0.25) * (nut[p - s0] + nut[p] + nut[p - s0 + s1] + nut[p + s1]) /
                     (d1[j + 1] * h1[j]);
            an[p] = steady::pos(-bu) / h1[j] + g;
            diag += steady::pos(bu) / h1[j] + g;
        }
        if (fluid[p - s0 - s1] == 0 || fluid[p - s1] == 0) {
            diag += nu / (T(0.5) * h1[j] * h1[j]);
        } else {
            T g = nu / (d1[j] * h1[j]);
            if (eddy && n1 >= 2)
                g += T(0.25) * (nut[p - s0] + nut[p] + nut[p - s0 - s1] + nut[p - s1]) /
                     (d1[j] * h1[j]);
            as[p] = steady::pos(bl) / h1[j] + g;
            diag += steady::pos(-bl) / h1[j] + g;
        }
        const T cu = wl * c[p - s0 + s2] + wr * c[p + s2];
        const T cb = wl * c[p - s0] + wr * c[p];
        if (fluid[p - s0 + s2] == 0 || fluid[p + s2] == 0) {
            diag += nu / (T(0.5) * h2[k] * h2[k]);
        } else {
            T g = nu / (d2[k + 1] * h2[k]);
            if (eddy && n2 >= 2)
                g += T(0.25) * (nut[p - s0] + nut[p] + nut[p - s0 + s2] + nut[p + s2]) /
                     (d2[k + 1] * h2[k]);
            at[p] = steady::pos(-cu) / h2[k] + g;
            diag += steady::pos(cu) / h2[k] + g;
        }
        if (fluid[p - s0 - s2] == 0 || fluid[p - s2] == 0) {
            diag += nu / (T(0.5) * h2[k] * h2[k]);
        } else {
            T g = nu / (d2[k] * h2[k]);
            if (eddy && n2 >= 2)
                g += T(0.25) * (nut[p - s0] + nut[p] + nut[p - s0 - s2] + nut[p - s2]) /
                     (d2[k] * h2[k]);
            ab[p] = steady::pos(cb) / h2[k] + g;
            diag += steady::pos(-cb) / h2[k] + g;
        }
        ap[p] = diag;
    }
}

// The conduction and upwind-advection Jacobian (W/K) of the net heat into each cell
// (energy_rhs) plus cap_dt (C / dt) and extra (conductances to fixed temperatures), both
// W/K with the halo shape.  Gx, Gy, Gz: face conductances (W/K) without halo, shapes
// (nx+1, ny, nz), (nx, ny+1, nz), (nx, ny, nz+1); rhoc: the fluid's J/(m^3 K).
template <typename T>
__global__ void steady_energy_operator(
    const T* __restrict__ u, const T* __restrict__ v, const T* __restrict__ w,
    const unsigned char* __restrict__ fluid, const T* __restrict__ Gx,
    const T* __restrict__ Gy, const T* __restrict__ Gz, T rhoc, const T* __restrict__ hx,
    const T* __restrict__ hy, const T* __restrict__ hz, const T* __restrict__ cap_dt,
    const T* __restrict__ extra, const T* __restrict__ Tm, const T* __restrict__ dx,
    const T* __restrict__ dy, const T* __restrict__ dz, T own_share,
    T* __restrict__ aw, T* __restrict__ ae, T* __restrict__ as,
    T* __restrict__ an, T* __restrict__ ab, T* __restrict__ at, T* __restrict__ ap, int nx,
    int ny, int nz) {
    const long long sj = (long long)nz + 2, si = ((long long)ny + 2) * sj;
    const int e[3] = {nx + 2, ny + 2, nz + 2};
    const int o[3] = {0, 0, 0};
    const long long total = (long long)e[0] * e[1] * e[2];
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        steady::coords(t, e, o, c);
        const int i = c[0], j = c[1], k = c[2];
        const long long p = i * si + j * sj + k;
        aw[p] = T(0);
        ae[p] = T(0);
        as[p] = T(0);
        an[p] = T(0);
        ab[p] = T(0);
        at[p] = T(0);
        ap[p] = T(1);
        if (i < 1 || i > nx || j < 1 || j > ny || k < 1 || k > nz) continue;
        const long long gx = ((long long)(i - 1) * ny + (j - 1)) * nz + (k - 1);
        const long long gy = ((long long)(i - 1) * (ny + 1) + (j - 1)) * nz + (k - 1);
        const long long gz = ((long long)(i - 1) * ny + (j - 1)) * (nz + 1) + (k - 1);
        T gw = Gx[gx];
        T ge = Gx[gx + (long long)ny * nz];
        T gs = Gy[gy];
        T gn = Gy[gy + nz];
        T gb = Gz[gz];
        T gt = Gz[gz + 1];
        T diag = cap_dt[p] + extra[p] + gw + ge + gs + gn + gb + gt;
        if (fluid[p] != 0) {
            // (u A)(T_f - T_P) outward: the upwind face value is the neighbour's on inflow
            // faces, the cell's own (no net effect) on outflow faces
            const T ax = rhoc * hy[j] * hz[k];
            const T ay = rhoc * hx[i] * hz[k];
            const T az = rhoc * hx[i] * hy[j];
            const T fw = steady::pos(u[p]) * ax;
            const T fe = steady::pos(-u[p + si]) * ax;
            const T fs = steady::pos(v[p]) * ay;
            const T fn = steady::pos(-v[p + sj]) * ay;
            const T fb = steady::pos(w[p]) * az;
            const T ft = steady::pos(-w[p + 1]) * az;
            gw += fw;
            ge += fe;
            gs += fs;
            gn += fn;
            gb += fb;
            gt += ft;
            diag += fw + fe + fs + fn + fb + ft;
            // at least own_share of the bounded scheme's own diagonal (cpu_steady's
            // _energy_operator says why)
            const T own = diag + steady::axis_own_slope(u, Tm, p, si, i, nx, hx, dx, ax) +
                          steady::axis_own_slope(v, Tm, p, sj, j, ny, hy, dy, ay) +
                          steady::axis_own_slope(w, Tm, p, (long long)1, k, nz, hz, dz, az);
            const T lo = own_share * own;
            diag = diag < lo ? lo : diag;
        }
        aw[p] = gw;
        ae[p] = ge;
        as[p] = gs;
        an[p] = gn;
        ab[p] = gb;
        at[p] = gt;
        ap[p] = diag;
    }
}

// One colour's half of a red-black Gauss-Seidel sweep of ap x - sum a_nb x_nb = r: the
// points with (i + j + k) % 2 == colour and solved != 0, among indices 1..n+1 along axis
// `ax` (the coefficients' own axis, strides s0) and 1..n along the other two (strides s1,
// s2), as the CPU's sweep covers.  x elsewhere stays as it is (0 in delta form).
template <typename T>
__global__ void steady_rbgs(const T* __restrict__ aw, const T* __restrict__ ae,
                            const T* __restrict__ as, const T* __restrict__ an,
                            const T* __restrict__ ab, const T* __restrict__ at,
                            const T* __restrict__ ap, const T* __restrict__ r,
                            T* __restrict__ x, const unsigned char* __restrict__ solved,
                            int ax, int colour, int nx, int ny, int nz) {
    const long long st[3] = {((long long)ny + 2) * (nz + 2), (long long)nz + 2, 1};
    int e[3] = {nx, ny, nz};
    const int o[3] = {1, 1, 1};
    e[ax] += 1;
    const long long s0 = st[ax], s1 = st[ax == 0 ? 1 : 0], s2 = st[ax == 2 ? 1 : 2];
    const long long total = (long long)e[0] * e[1] * e[2];
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        steady::coords(t, e, o, c);
        if (((c[0] + c[1] + c[2]) & 1) != colour) continue;
        const long long p = c[0] * st[0] + c[1] * st[1] + c[2] * st[2];
        if (solved[p] == 0) continue;
        x[p] = (r[p] + aw[p] * x[p - s0] + ae[p] * x[p + s0] + as[p] * x[p - s1] +
                an[p] * x[p + s1] + ab[p] * x[p - s2] + at[p] * x[p + s2]) / ap[p];
    }
}

}  // namespace thermosim

#ifdef THERMOSIM_AOT
namespace thermosim {
namespace aot {
#define THERMOSIM_STEADY(T)                                                                  \
    (const void*)&steady_momentum_operator<T, 0>,                                            \
        (const void*)&steady_momentum_operator<T, 1>,                                        \
        (const void*)&steady_momentum_operator<T, 2>,                                        \
        (const void*)&steady_energy_operator<T>, (const void*)&steady_rbgs<T>
const void* const* steady_kernels() {
    static const void* const kernels[] = {THERMOSIM_STEADY(float), THERMOSIM_STEADY(double)};
    return kernels;
}
#undef THERMOSIM_STEADY
}  // namespace aot
}  // namespace thermosim
#endif
