// Flow kernels (staggered MAC grid): the CUDA twins of thermosim/backends/cpu_flow.py, with
// the same arguments, the same formulas and the same array layouts.
//
// Every array has the halo shape (nx+2, ny+2, nz+2), C order (z fastest).  A face velocity
// u[i, j, k] lives on the x-face between cells i-1 and i (halo indices); v and w likewise.
// fluid[] is 1 in cells whose faces carry flow (interior fluid, outflow halos) and 0 in
// solids, walls and inflow halos, whose tangential face arrays hold the wall velocity.
//
// momentum_rhs<T, AX> and correct<T, AX> work on the velocity normal to axis AX.  The CPU
// twin runs one kernel on transposed views; here the permutation is a template argument:
// (i, j, k) are the indices along (AX, P1, P2) with (P1, P2) = (1, 2), (0, 2), (0, 1) for
// AX = 0, 1, 2, and s0, s1, s2 their memory strides.  Threads run over memory order (z
// fastest) for coalesced access whatever AX is, one thread per face, grid-stride.
//
// Compiled at run time by NVRTC (cupy.RawModule, templates named by name_expressions) and
// ahead of time by CMake/nvcc with -DTHERMOSIM_AOT (instantiations at the end of this file).

namespace thermosim {

// Memory coordinates (1-based halo indices) of linear thread item t over a box of extents
// e[0..2] starting at o[0..2].
__device__ __forceinline__ void unflatten(long long t, const int* e, const int* o, int* c) {
    c[2] = o[2] + (int)(t % e[2]);
    t /= e[2];
    c[1] = o[1] + (int)(t % e[1]);
    c[0] = o[0] + (int)(t / e[1]);
}

template <int AX>
struct Perm;
template <>
struct Perm<0> { static constexpr int p1 = 1, p2 = 2; };
template <>
struct Perm<1> { static constexpr int p1 = 0, p2 = 2; };
template <>
struct Perm<2> { static constexpr int p1 = 0, p2 = 1; };

// Advection and diffusion of the normal velocity a across the two edges of its control
// volume along a transverse axis (memory stride s, cell index j along it, widths h, centre
// distances d); b is the velocity along that axis.  A neighbour face row touching a solid or
// a wall halo is met at the wall: its stored value is the wall's velocity, half a cell away.
template <typename T>
__device__ __forceinline__ void transverse(const T* __restrict__ a, const T* __restrict__ b,
                                           const unsigned char* __restrict__ fluid,
                                           long long p, long long s0, long long s, int j,
                                           const T* __restrict__ h, const T* __restrict__ d,
                                           T wl, T wr, T upw, T& adv, T& dif) {
    const T ap = a[p];
    const T bu = wl * b[p - s0 + s] + wr * b[p + s];
    const T bl = wl * b[p - s0] + wr * b[p];
    T au, gu, al, gl;
    if (fluid[p - s0 + s] == 0 || fluid[p + s] == 0) {
        au = a[p + s];
        gu = (au - ap) / (T(0.5) * h[j]);
    } else {
        au = (ap * h[j + 1] + a[p + s] * h[j]) / (h[j] + h[j + 1]);
        au += upw * ((bu > T(0) ? ap : a[p + s]) - au);
        gu = (a[p + s] - ap) / d[j + 1];
    }
    if (fluid[p - s0 - s] == 0 || fluid[p - s] == 0) {
        al = a[p - s];
        gl = (ap - al) / (T(0.5) * h[j]);
    } else {
        al = (ap * h[j - 1] + a[p - s] * h[j]) / (h[j] + h[j - 1]);
        al += upw * ((bl > T(0) ? a[p - s] : ap) - al);
        gl = (ap - a[p - s]) / d[j];
    }
    adv += (bu * au - bl * al) / h[j];
    dif += (gu - gl) / h[j];
}

// upw: 0 central advection, 1 first-order upwind (the transported value taken from the
// upstream side; the convecting velocity stays the central one), or a blend.
// out = -div(u a) + nu lap(a) - gbeta (T - T_ref) on the faces normal to AX from `first`
// to n (m/s^2): 2, the interior faces, or 1 along a periodic axis (face 1 is face n+1 there;
// the halos hold the images across the wrap).  Faces touching a solid get 0.  a: normal
// velocity; b, c: velocities along P1, P2.
template <typename T, int AX>
__global__ void momentum_rhs(const T* __restrict__ a, const T* __restrict__ b,
                             const T* __restrict__ c, const unsigned char* __restrict__ fluid,
                             const T* __restrict__ Tm, const T* __restrict__ h0,
                             const T* __restrict__ h1, const T* __restrict__ h2,
                             const T* __restrict__ d0, const T* __restrict__ d1,
                             const T* __restrict__ d2, T nu, T gbeta, T T_ref, T upw,
                             int first, T* __restrict__ out, int nx, int ny, int nz) {
    constexpr int P1 = Perm<AX>::p1, P2 = Perm<AX>::p2;
    const int n[3] = {nx, ny, nz};
    const long long st[3] = {((long long)ny + 2) * (nz + 2), (long long)nz + 2, 1};
    int e[3] = {nx, ny, nz};
    int o[3] = {1, 1, 1};
    e[AX] = n[AX] + 1 - first;   // faces first..n along AX
    o[AX] = first;
    const long long s0 = st[AX], s1 = st[P1], s2 = st[P2];
    const long long total = (long long)e[0] * e[1] * e[2];
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int cc[3];
        unflatten(t, e, o, cc);
        const int i = cc[AX], j = cc[P1], k = cc[P2];
        const long long p = cc[0] * st[0] + cc[1] * st[1] + cc[2] * st[2];
        if (fluid[p - s0] == 0 || fluid[p] == 0) {
            out[p] = T(0);
            continue;
        }
        const T wl = h0[i] / (h0[i - 1] + h0[i]);
        const T wr = T(1) - wl;
        const T ap = a[p];
        const T cr = T(0.5) * (ap + a[p + s0]);
        const T cl = T(0.5) * (a[p - s0] + ap);
        const T tr = cr + upw * ((cr > T(0) ? ap : a[p + s0]) - cr);
        const T tl = cl + upw * ((cl > T(0) ? a[p - s0] : ap) - cl);
        T adv = (cr * tr - cl * tl) / d0[i];
        T dif = ((a[p + s0] - ap) / h0[i] - (ap - a[p - s0]) / h0[i - 1]) / d0[i];
        transverse(a, b, fluid, p, s0, s1, j, h1, d1, wl, wr, upw, adv, dif);
        transverse(a, c, fluid, p, s0, s2, k, h2, d2, wl, wr, upw, adv, dif);
        const T tf = wl * Tm[p - s0] + wr * Tm[p];
        out[p] = nu * dif - adv - gbeta * (tf - T_ref);
    }
}

// Right-hand side of the pressure equation (m^3/s^2): -(net volume outflow) / dt.
template <typename T>
__global__ void divergence_rhs(const T* __restrict__ u, const T* __restrict__ v,
                               const T* __restrict__ w, const unsigned char* __restrict__ fluid,
                               const T* __restrict__ hx, const T* __restrict__ hy,
                               const T* __restrict__ hz, T inv_dt, T* __restrict__ out, int nx,
                               int ny, int nz) {
    const long long sj = (long long)nz + 2, si = ((long long)ny + 2) * sj;
    const int e[3] = {nx, ny, nz};
    const int o[3] = {1, 1, 1};
    const long long total = (long long)nx * ny * nz;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        unflatten(t, e, o, c);
        const int i = c[0], j = c[1], k = c[2];
        const long long p = i * si + j * sj + k;
        if (fluid[p] == 0) {
            out[p] = T(0);
            continue;
        }
        const T q = (u[p + si] - u[p]) * hy[j] * hz[k] + (v[p + sj] - v[p]) * hx[i] * hz[k] +
                    (w[p + 1] - w[p]) * hx[i] * hy[j];
        out[p] = -q * inv_dt;
    }
}

// a -= dt d(phi)/dn on every face normal to AX with fluid on both sides (1..n+1).
template <typename T, int AX>
__global__ void correct(T* __restrict__ a, const T* __restrict__ phi,
                        const unsigned char* __restrict__ fluid, const T* __restrict__ d0,
                        T dt, int nx, int ny, int nz) {
    const int n[3] = {nx, ny, nz};
    const long long st[3] = {((long long)ny + 2) * (nz + 2), (long long)nz + 2, 1};
    int e[3] = {nx, ny, nz};
    const int o[3] = {1, 1, 1};
    e[AX] = n[AX] + 1;
    const long long s0 = st[AX];
    const long long total = (long long)e[0] * e[1] * e[2];
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        unflatten(t, e, o, c);
        const long long p = c[0] * st[0] + c[1] * st[1] + c[2] * st[2];
        if (fluid[p - s0] != 0 && fluid[p] != 0)
            a[p] -= dt * (phi[p] - phi[p - s0]) / d0[c[AX]];
    }
}

// Bounded second-order face value (van Leer limiter on the non-uniform grid).
template <typename T>
__device__ __forceinline__ T face_value(T tu, T td, T tuu, T hu, T hd, T duu) {
    const T dd = td - tu;
    if (dd == T(0)) return tu;
    const T r = ((tu - tuu) / duu) / (dd / (T(0.5) * (hu + hd)));
    const T ar = r < T(0) ? -r : r;
    T psi = (r + ar) / (T(1) + ar);
    const T lim = (hu + hd) / hu;
    if (psi > lim) psi = lim;
    return tu + psi * dd * hu / (hu + hd);
}

// Advective heat flow out of a cell through its two faces along one axis (W / (rho c)):
// sum over the faces of (u A)(T_f - T_P), outward positive.  vel[f] is the face's velocity
// (face f = q and q + 1 in that axis' halo numbering), Tn[m] the temperature m cells along.
// far (bit 0 low face, bit 1 high face): the face is a rank interface, and the cell beyond
// the halo is far_lo[fp] (index -1) or far_hi[fp] (index n+2), d_lo / d_hi from the halo cell.
template <typename T>
__device__ __forceinline__ T axis_advection(const T* __restrict__ vel,
                                            const T* __restrict__ Tm, long long p, long long s,
                                            int q, int nq, const T* __restrict__ h,
                                            const T* __restrict__ d, T area, bool per, int far,
                                            const T* __restrict__ far_lo,
                                            const T* __restrict__ far_hi, T d_lo, T d_hi,
                                            long long fp) {
    const T tp = Tm[p];
    T adv = T(0);
    for (int f = 0; f < 2; ++f) {
        const int fi = q + f;
        const long long pf = p + f * s;       // the face's own index (between fi-1 and fi)
        const T ve = vel[pf];
        if (ve == T(0)) continue;
        T tf;
        // a periodic axis's wrap face sees the cells across it: cell n-1 behind face 1,
        // cell 2 beyond face n+1 (the same face value from both sides)
        if (ve > T(0)) {
            tf = (fi - 2 >= 0) ? face_value(Tm[pf - s], Tm[pf], Tm[pf - 2 * s], h[fi - 1], h[fi],
                                            d[fi - 1])
                 : (far & 1)   ? face_value(Tm[pf - s], Tm[pf], far_lo[fp], h[fi - 1], h[fi],
                                            d_lo)
                 : per         ? face_value(Tm[pf - s], Tm[pf], Tm[pf + (nq - 2) * s],
                                            h[fi - 1], h[fi], d[nq])
                               : Tm[pf - s];
        } else {
            tf = (fi + 1 <= nq + 1) ? face_value(Tm[pf], Tm[pf - s], Tm[pf + s], h[fi],
                                                 h[fi - 1], d[fi + 1])
                 : (far & 2)        ? face_value(Tm[pf], Tm[pf - s], far_hi[fp], h[fi],
                                                 h[fi - 1], d_hi)
                 : per              ? face_value(Tm[pf], Tm[pf - s], Tm[pf - (nq - 1) * s],
                                                 h[fi], h[fi - 1], d[2])
                                    : Tm[pf];
        }
        adv += ve * (tf - tp) * area * (f == 1 ? T(1) : T(-1));
    }
    return adv;
}

// out = net heat into each cell (W): bounded advection in fluid cells, conduction through the
// face conductances G (W/K, interior-cell shapes (nx+1, ny, nz) ...), sources q (W, (nx, ny,
// nz)); periodic: bit a set where axis a wraps around; along far_axis (-1: none) the faces
// flagged in far are rank interfaces (far_lo, far_hi: the padded layers beyond the halos).
template <typename T>
__global__ void energy_rhs(const T* __restrict__ Tm, const T* __restrict__ u,
                           const T* __restrict__ v, const T* __restrict__ w,
                           const unsigned char* __restrict__ fluid, const T* __restrict__ Gx,
                           const T* __restrict__ Gy, const T* __restrict__ Gz, T rhoc,
                           const T* __restrict__ q, const T* __restrict__ hx,
                           const T* __restrict__ hy, const T* __restrict__ hz,
                           const T* __restrict__ dx, const T* __restrict__ dy,
                           const T* __restrict__ dz, int periodic, int far_axis, int far,
                           const T* __restrict__ far_lo, const T* __restrict__ far_hi, T d_lo,
                           T d_hi, T* __restrict__ out, int nx, int ny, int nz) {
    const long long sj = (long long)nz + 2, si = ((long long)ny + 2) * sj;
    const int e[3] = {nx, ny, nz};
    const int o[3] = {1, 1, 1};
    const long long total = (long long)nx * ny * nz;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
         t += (long long)gridDim.x * blockDim.x) {
        int c[3];
        unflatten(t, e, o, c);
        const int i = c[0], j = c[1], k = c[2];
        const long long p = i * si + j * sj + k;
        const T tp = Tm[p];
        // interior-cell (unpadded) indices of the conductance and source arrays
        const long long gx = ((long long)(i - 1) * ny + (j - 1)) * nz + (k - 1);
        const long long gy = ((long long)(i - 1) * (ny + 1) + (j - 1)) * nz + (k - 1);
        const long long gz = ((long long)(i - 1) * ny + (j - 1)) * (nz + 1) + (k - 1);
        const long long gxs = (long long)ny * nz;
        T s = q[gx];
        s += Gx[gx] * (Tm[p - si] - tp) + Gx[gx + gxs] * (Tm[p + si] - tp) +
             Gy[gy] * (Tm[p - sj] - tp) + Gy[gy + nz] * (Tm[p + sj] - tp) +
             Gz[gz] * (Tm[p - 1] - tp) + Gz[gz + 1] * (Tm[p + 1] - tp);
        if (fluid[p] != 0) {
            // a far layer is the padded array without the split axis
            T adv = axis_advection(u, Tm, p, si, i, nx, hx, dx, hy[j] * hz[k],
                                   (periodic & 1) != 0, far_axis == 0 ? far : 0, far_lo,
                                   far_hi, d_lo, d_hi, j * sj + k);
            adv += axis_advection(v, Tm, p, sj, j, ny, hy, dy, hx[i] * hz[k],
                                  (periodic & 2) != 0, far_axis == 1 ? far : 0, far_lo,
                                  far_hi, d_lo, d_hi, i * sj + k);
            adv += axis_advection(w, Tm, p, (long long)1, k, nz, hz, dz, hx[i] * hy[j],
                                  (periodic & 4) != 0, far_axis == 2 ? far : 0, far_lo,
                                  far_hi, d_lo, d_hi, i * ((long long)ny + 2) + j);
            s -= rhoc * adv;
        }
        out[p] = s;
    }
}

// out = a x + b y, element by element (n elements).
template <typename T>
__global__ void lincomb(T* __restrict__ out, T a, const T* __restrict__ x, T b,
                        const T* __restrict__ y, long long n) {
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < n;
         t += (long long)gridDim.x * blockDim.x)
        out[t] = a * x[t] + b * y[t];
}

}  // namespace thermosim

#ifdef THERMOSIM_AOT
namespace thermosim {
namespace aot {
#define THERMOSIM_FLOW(T)                                                                    \
    (const void*)&momentum_rhs<T, 0>, (const void*)&momentum_rhs<T, 1>,                     \
        (const void*)&momentum_rhs<T, 2>, (const void*)&correct<T, 0>,                       \
        (const void*)&correct<T, 1>, (const void*)&correct<T, 2>,                            \
        (const void*)&divergence_rhs<T>, (const void*)&energy_rhs<T>, (const void*)&lincomb<T>
const void* const* flow_kernels() {
    static const void* const kernels[] = {THERMOSIM_FLOW(float), THERMOSIM_FLOW(double)};
    return kernels;
}
#undef THERMOSIM_FLOW
}  // namespace aot
}  // namespace thermosim
#endif
