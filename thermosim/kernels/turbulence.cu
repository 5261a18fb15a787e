// Turbulence kernels (thermosim/turbulence.py): the CUDA twins of
// thermosim/backends/cpu_turbulence.py, with the same arguments and the same formulas.
//
// eddy_viscosity: one thread per interior cell; the eddy viscosity nu_t (LVEL or
// Smagorinsky, u+ from Spalding's law of the wall at the cell's |u| y / nu) or the strain
// rate |S| alone.  eddy_momentum<T, AX>: one thread per face normal to AX (faces 1..n
// along AX), div(nu_t grad a) with Spalding's wall shear on the edges between a fluid face
// row and a no-slip surface, and the largest wall-function rate around the face.  (i, j, k)
// are the indices along (AX, P1, P2) as in flow.cu; threads run over memory order (z
// fastest), grid-stride.  One pass each, in place of a chain of array expressions and a
// dozen small Newton solves a step on the wall edges.
//
// Compiled at run time by NVRTC (cupy.RawModule, templates named by name_expressions) and
// ahead of time by CMake/nvcc with -DTHERMOSIM_AOT (instantiations at the end of this file).
// Its helpers live in namespace thermosim::turbulence, so that it compiles alone (NVRTC)
// and beside the other kernel files in one translation unit (the emulator).

namespace thermosim {

namespace turbulence {

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

// u+ with u+ y+(u+) = re: Newton on ln(u+ y+), four iterations from
// min(sqrt(re), ln(1 + re)/kappa + 1) (thermosim.turbulence.spalding_uplus); e_wall =
// exp(kappa B).  In double whatever T: the float32 solver's u+ as accurate as its inputs.
__device__ __forceinline__ double spalding_uplus(double re, double kappa, double e_wall) {
    re = re > 1e-30 ? re : 1e-30;
    const double a = sqrt(re), b = log1p(re) / kappa + 1.0;
    double up = a < b ? a : b;
    const double lr = log(re);
    for (int it = 0; it < 4; ++it) {
        const double ku = kappa * up;
        const double e = exp(ku);
        const double yp = up + (e - 1.0 - ku - 0.5 * ku * ku - ku * ku * ku / 6.0) / e_wall;
        const double dyp = 1.0 + kappa * (e - 1.0 - ku - 0.5 * ku * ku) / e_wall;
        const double f = log(up * yp) - lr;
        up = up - f / (1.0 / up + dyp / yp);
        if (up < 1e-15) up = 1e-15;
    }
    return up;
}

// A face velocity's mean over the two faces of the cell at p along its own axis (stride s).
template <typename T>
__device__ __forceinline__ double centred(const T* __restrict__ a, long long p, long long s) {
    return 0.5 * ((double)a[p] + (double)a[p + s]);
}

// The eddy (and wall-function) shear flux across the edge between transverse cells e and
// e+1 (pe: the face at transverse index e, s: the transverse stride) of a face row normal
// to the component's axis (stride s0); rate: the wall function's extra / half^2 (1/s), 0
// off the walls.  Between two fluid face rows: the mean of the four cells' nu_t times the
// velocity difference over the centre distance; between a fluid face row and a no-slip
// surface: Spalding's extra shear nu (y+/u+ - 1) at the half-cell distance.
template <typename T>
__device__ __forceinline__ double edge_flux(const T* __restrict__ a, const T* __restrict__ nut,
                                            const unsigned char* __restrict__ fl,
                                            const unsigned char* __restrict__ ns,
                                            long long pe, long long s0, long long s, int e,
                                            const T* __restrict__ h, const T* __restrict__ d,
                                            double nu, double kappa, double e_wall,
                                            double& rate) {
    const long long pf = pe + s;
    const bool fa = fl[pe - s0] != 0 && fl[pe] != 0;
    const bool fb = fl[pf - s0] != 0 && fl[pf] != 0;
    const double da = (double)a[pf] - (double)a[pe];
    rate = 0.0;
    if (fa && fb) {
        const double na = 0.5 * ((double)nut[pe - s0] + (double)nut[pe]);
        const double nb = 0.5 * ((double)nut[pf - s0] + (double)nut[pf]);
        return 0.5 * (na + nb) * da / (double)d[e + 1];
    }
    double half;
    if (fa && (ns[pf - s0] != 0 || ns[pf] != 0))
        half = 0.5 * (double)h[e];
    else if (fb && (ns[pe - s0] != 0 || ns[pe] != 0))
        half = 0.5 * (double)h[e + 1];
    else
        return 0.0;
    const double re = fabs(da) * half / nu;
    const double up = spalding_uplus(re, kappa, e_wall);
    double ratio = re / (up * up);
    if (ratio < 1.0) ratio = 1.0;
    const double extra = (ratio - 1.0) * nu;
    rate = extra / (half * half);
    return extra * da / half;
}

}  // namespace turbulence

// out (interior cells) = the eddy viscosity nu_t (m^2/s) of model (1 LVEL, 2 Smagorinsky)
// in the fluid cells (fluid 1, else 0), or with model 0 the strain rate |S| (1/s): see
// _eddy_viscosity in cpu_turbulence.py.  y: the wall distance (m); cap2: Escudier's length
// cap squared (m^2); cs, a_plus: Smagorinsky's C_s and van Driest's A+; delta2: each
// cell's volume^(2/3) (m^2).
template <typename T>
__global__ void eddy_viscosity(const T* __restrict__ u, const T* __restrict__ v,
                               const T* __restrict__ w, const T* __restrict__ fluid,
                               const T* __restrict__ y, const T* __restrict__ h0,
                               const T* __restrict__ h1, const T* __restrict__ h2,
                               const T* __restrict__ d0, const T* __restrict__ d1,
                               const T* __restrict__ d2, T nu, T kappa, T e_wall, T cap2, T cs,
                               T a_plus, const T* __restrict__ delta2, int model,
                               T* __restrict__ out, int nx, int ny, int nz) {
    using turbulence::centred;
    const long long sj = (long long)nz + 2, si = ((long long)ny + 2) * sj;
    const int e[3] = {nx, ny, nz};
    const int o[3] = {1, 1, 1};
    const long long total = (long long)nx * ny * nz;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        turbulence::coords(t, e, o, c);
        const int i = c[0], j = c[1], k = c[2];
        const long long p = i * si + j * sj + k;
        const double uc = centred(u, p, si), vc = centred(v, p, sj), wc = centred(w, p, 1);
        const double g00 = nx >= 2 ? ((double)u[p + si] - (double)u[p]) / (double)h0[i] : 0.0;
        const double g11 = ny >= 2 ? ((double)v[p + sj] - (double)v[p]) / (double)h1[j] : 0.0;
        const double g22 = nz >= 2 ? ((double)w[p + 1] - (double)w[p]) / (double)h2[k] : 0.0;
        double g01 = 0.0, g02 = 0.0, g10 = 0.0, g12 = 0.0, g20 = 0.0, g21 = 0.0;
        if (nx >= 2) {
            const double s = (double)d0[i] + (double)d0[i + 1];
            const double fp = fluid[p + si], fm = fluid[p - si];
            g10 = (fp * centred(v, p + si, sj) - fm * centred(v, p - si, sj)) / s;
            g20 = (fp * centred(w, p + si, 1) - fm * centred(w, p - si, 1)) / s;
        }
        if (ny >= 2) {
            const double s = (double)d1[j] + (double)d1[j + 1];
            const double fp = fluid[p + sj], fm = fluid[p - sj];
            g01 = (fp * centred(u, p + sj, si) - fm * centred(u, p - sj, si)) / s;
            g21 = (fp * centred(w, p + sj, 1) - fm * centred(w, p - sj, 1)) / s;
        }
        if (nz >= 2) {
            const double s = (double)d2[k] + (double)d2[k + 1];
            const double fp = fluid[p + 1], fm = fluid[p - 1];
            g02 = (fp * centred(u, p + 1, si) - fm * centred(u, p - 1, si)) / s;
            g12 = (fp * centred(v, p + 1, sj) - fm * centred(v, p - 1, sj)) / s;
        }
        const double s01 = 0.5 * (g01 + g10), s02 = 0.5 * (g02 + g20), s12 = 0.5 * (g12 + g21);
        // S_ij S_ij summed row by row (the CPU twin's order)
        double ss = g00 * g00;
        ss += s01 * s01;
        ss += s02 * s02;
        ss += s01 * s01;
        ss += g11 * g11;
        ss += s12 * s12;
        ss += s02 * s02;
        ss += s12 * s12;
        ss += g22 * g22;
        const double strain = sqrt(2.0 * ss);
        if (model == 0) {
            out[p] = (T)strain;
            continue;
        }
        if (fluid[p] == T(0)) {
            out[p] = T(0);
            continue;
        }
        const double speed = sqrt(uc * uc + vc * vc + wc * wc);
        const double up = turbulence::spalding_uplus(speed * (double)y[p] / (double)nu,
                                                     (double)kappa, (double)e_wall);
        const double ku = (double)kappa * up;
        if (model == 1) {
            const double ratio = (double)kappa * (exp(ku) - 1.0 - ku - 0.5 * ku * ku) /
                                 (double)e_wall;
            const double a = (double)nu * ratio, b = (double)cap2 * strain;
            out[p] = (T)(a < b ? a : b);
        } else {
            const double yp = up + (exp(ku) - 1.0 - ku - 0.5 * ku * ku - ku * ku * ku / 6.0) /
                                   (double)e_wall;
            const double damp = (double)cs * (1.0 - exp(-yp / (double)a_plus));
            out[p] = (T)(damp * damp * (double)delta2[p] * strain);
        }
    }
}

// out += mask * div(nu_t grad a) on the faces normal to AX (1..n along AX), with Spalding's
// wall shear on the edges between a fluid face row (fl nonzero on both sides) and a no-slip
// surface (ns: solid cells and wall halos); rate = max(rate, the largest wall-function
// rate around the face, 1/s); diag = the wall shear's rate of change with the face's
// velocity (1/s).  See _eddy_momentum in cpu_turbulence.py.
template <typename T, int AX>
__global__ void eddy_momentum(const T* __restrict__ a, const T* __restrict__ nut,
                              const unsigned char* __restrict__ fl,
                              const unsigned char* __restrict__ ns, const T* __restrict__ mask,
                              const T* __restrict__ h0, const T* __restrict__ h1,
                              const T* __restrict__ h2, const T* __restrict__ d0,
                              const T* __restrict__ d1, const T* __restrict__ d2, T nu,
                              T kappa, T e_wall, T* __restrict__ out, T* __restrict__ rate,
                              T* __restrict__ diag, int nx, int ny, int nz) {
    constexpr int P1 = turbulence::Axes<AX>::p1, P2 = turbulence::Axes<AX>::p2;
    const int n[3] = {nx, ny, nz};
    const long long st[3] = {((long long)ny + 2) * (nz + 2), (long long)nz + 2, 1};
    const int e[3] = {nx, ny, nz};
    const int o[3] = {1, 1, 1};
    const long long s0 = st[AX], s1 = st[P1], s2 = st[P2];
    const int n1 = n[P1], n2 = n[P2];
    const double nu_ = nu, kap = kappa, ew = e_wall;
    const long long total = (long long)nx * ny * nz;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        turbulence::coords(t, e, o, c);
        const int i = c[AX], j = c[P1], k = c[P2];
        const long long p = c[0] * st[0] + c[1] * st[1] + c[2] * st[2];
        if (mask[p] == T(0)) {
            // not computed (a solid, a held face): nothing to add, and its wall edges are
            // the fluid faces' beside it (the same rates)
            diag[p] = T(0);
            continue;
        }
        const double fx_hi = (double)nut[p] * ((double)a[p + s0] - (double)a[p]) / (double)h0[i];
        const double fx_lo = (double)nut[p - s0] * ((double)a[p] - (double)a[p - s0]) /
                             (double)h0[i - 1];
        double term = (fx_hi - fx_lo) / (double)d0[i];
        double r = 0.0, dg = 0.0, rh, rl;
        if (n1 >= 2) {
            const double hi = turbulence::edge_flux(a, nut, fl, ns, p, s0, s1, j, h1, d1, nu_,
                                                    kap, ew, rh);
            const double lo = turbulence::edge_flux(a, nut, fl, ns, p - s1, s0, s1, j - 1, h1,
                                                    d1, nu_, kap, ew, rl);
            term += (hi - lo) / (double)h1[j];
            r = fmax(r, fmax(rh, rl));
            dg += 0.5 * (rh + rl);
        }
        if (n2 >= 2) {
            const double hi = turbulence::edge_flux(a, nut, fl, ns, p, s0, s2, k, h2, d2, nu_,
                                                    kap, ew, rh);
            const double lo = turbulence::edge_flux(a, nut, fl, ns, p - s2, s0, s2, k - 1, h2,
                                                    d2, nu_, kap, ew, rl);
            term += (hi - lo) / (double)h2[k];
            r = fmax(r, fmax(rh, rl));
            dg += 0.5 * (rh + rl);
        }
        out[p] += (T)(term * (double)mask[p]);
        if ((T)r > rate[p]) rate[p] = (T)r;
        // a wall edge's half-cell distance is half the face row's width (the fluid side's,
        // where mask is 1): extra / (half h) = (extra / half^2) / 2
        diag[p] = (T)(dg * (double)mask[p]);
    }
}

}  // namespace thermosim

#ifdef THERMOSIM_AOT
namespace thermosim {
namespace aot {
#define THERMOSIM_TURBULENCE(T)                                                              \
    (const void*)&eddy_viscosity<T>, (const void*)&eddy_momentum<T, 0>,                      \
        (const void*)&eddy_momentum<T, 1>, (const void*)&eddy_momentum<T, 2>
const void* const* turbulence_kernels() {
    static const void* const kernels[] = {THERMOSIM_TURBULENCE(float),
                                          THERMOSIM_TURBULENCE(double)};
    return kernels;
}
#undef THERMOSIM_TURBULENCE
}  // namespace aot
}  // namespace thermosim
#endif
