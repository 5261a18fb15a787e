// Explicit conduction kernels: the CUDA twins of _explicit_step and _explicit_step_uniform in
// thermosim/backends/cpu.py (same arguments, same formula, same array layouts).
//
// Compiled at run time with NVRTC through cupy.RawModule (templates named by
// name_expressions), and ahead of time by CMake/nvcc with -DTHERMOSIM_AOT, which takes the
// address of every instantiation the backend uses (end of this file) so that nvcc really
// compiles the template bodies.  No #include: NVRTC needs none of them.
//
// Layout: C order, last axis (z, index k) fastest.  T, Tn and ids carry a one-cell halo,
// shape (nx+2, ny+2, nz+2); interior cell (i, j, k) lives at [i+1, j+1, k+1].  In this file
// i, j, k are the padded indices (1..n).  Linear offsets are 64-bit (long long).
//
// Design (memory bound, ~9 bytes/cell in float32 with uint8 ids): one thread per (j, k)
// column, k along threadIdx.x (contiguous, coalesced), each thread marching along i (the
// slowest axis) over a chunk of planes.  It carries in registers T and the id of cells
// i-1, i, i+1, the table row of cell i, and the x-face conductance of the west face, so that
// every x face is computed once.  The planes i+2 .. i+1+PF are prefetched PF steps ahead to
// keep more loads in flight per thread.  The y and z neighbours are read through the
// read-only path (__ldg); the plane i was loaded one step earlier by the same block, so they
// mostly hit L1.  The small per-id tables are staged in shared memory, packed as
//   cell[id] = {rkx, rky, rkz, ra}, src[id] = {inv_rhoc, qdot},
//   ysd[id]  = {rky, ra},           zsd[id] = {rkz, ra},
//   con[id]  = {rc, grp}            (CONTACT only)
// when they fit (SMEM = true); otherwise the arrays are read through __ldg.
//
// Contact resistance (CONTACT = true): every face's series resistance also gets
// rc[a] + rc[b] where grp[a] != grp[b] and both are >= 0 (a: this cell's id, b: the
// neighbour's), added last, as _contact in cpu.py.  CONTACT = false is the plain kernel: rc
// and grp are then never read (the arguments may be any pointers of the right type).

namespace thermosim {

template <typename T>
struct alignas(4 * sizeof(T)) V4 {
    T x, y, z, w;
};

template <typename T>
struct alignas(2 * sizeof(T)) V2 {
    T x, y;
};

// Face conductance 1 / R.  Exact (FAST = false): IEEE round-to-nearest reciprocal for float,
// division for double, the CPU backend's answer to the last bit.  FAST = true (float only):
// the hardware's approximate reciprocal (MUFU.RCP, within 2 ulp), one instruction instead of
// a Newton-corrected sequence; the step then differs from the CPU's by ~1e-7 relative.
template <bool FAST, typename T>
__device__ __forceinline__ T recip(T v);

template <>
__device__ __forceinline__ float recip<false, float>(float v) { return __frcp_rn(v); }

template <>
__device__ __forceinline__ float recip<true, float>(float v) { return __fdividef(1.0f, v); }

template <>
__device__ __forceinline__ double recip<false, double>(double v) { return 1.0 / v; }

// Contact resistance of a face between ids a and b, from their {rc, grp} rows: rc_a + rc_b
// where the face separates two different blocks, neither a fixed cell (grp -1); else 0.
template <typename T>
__device__ __forceinline__ T contact(V2<T> a, V2<T> b) {
    return (a.y != b.y && a.y >= T(0) && b.y >= T(0)) ? a.x + b.x : T(0);
}

template <typename T>
struct SharedTable {
    const V4<T>* cell_;
    const V2<T>* src_;
    const V2<T>* ysd_;
    const V2<T>* zsd_;
    __device__ __forceinline__ V4<T> cell(int p) const { return cell_[p]; }
    __device__ __forceinline__ V2<T> src(int p) const { return src_[p]; }
    __device__ __forceinline__ V2<T> ysd(int p) const { return ysd_[p]; }
    __device__ __forceinline__ V2<T> zsd(int p) const { return zsd_[p]; }
};

// The same with the {rc, grp} rows (CONTACT kernels; a type of its own, so that the plain
// kernel's table is exactly what it was).
template <typename T>
struct SharedContactTable : SharedTable<T> {
    const V2<T>* con_;
    __device__ __forceinline__ V2<T> con(int p) const { return con_[p]; }
};

template <typename T>
struct GlobalTable {
    const T* __restrict__ rkx;
    const T* __restrict__ rky;
    const T* __restrict__ rkz;
    const T* __restrict__ ra;
    const T* __restrict__ inv_rhoc;
    const T* __restrict__ qdot;
    const T* __restrict__ rc;       // only read by CONTACT kernels
    const T* __restrict__ grp;
    __device__ __forceinline__ V4<T> cell(int p) const {
        V4<T> v;
        v.x = __ldg(rkx + p);
        v.y = __ldg(rky + p);
        v.z = __ldg(rkz + p);
        v.w = __ldg(ra + p);
        return v;
    }
    __device__ __forceinline__ V2<T> src(int p) const {
        V2<T> v;
        v.x = __ldg(inv_rhoc + p);
        v.y = __ldg(qdot + p);
        return v;
    }
    __device__ __forceinline__ V2<T> ysd(int p) const {
        V2<T> v;
        v.x = __ldg(rky + p);
        v.y = __ldg(ra + p);
        return v;
    }
    __device__ __forceinline__ V2<T> zsd(int p) const {
        V2<T> v;
        v.x = __ldg(rkz + p);
        v.y = __ldg(ra + p);
        return v;
    }
    __device__ __forceinline__ V2<T> con(int p) const {
        V2<T> v;
        v.x = __ldg(rc + p);
        v.y = __ldg(grp + p);
        return v;
    }
};

// The march of one (j, k) column over the planes [i0, i1] of its chunk.
template <typename T, typename ID, bool CONTACT, int PF, bool FAST, typename Tab>
__device__ __forceinline__ void march(const T* __restrict__ Tin, T* __restrict__ Tout,
                                      const ID* __restrict__ ids, const Tab& tab,
                                      const T* __restrict__ hx, const T* __restrict__ hy,
                                      const T* __restrict__ hz, const T* __restrict__ idx,
                                      const T* __restrict__ idy, const T* __restrict__ idz,
                                      T dt, int nx, int ny, int nz, int chunk) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x + 1;
    const int j = blockIdx.y * blockDim.y + threadIdx.y + 1;
    const int i0 = 1 + blockIdx.z * chunk;
    if (k > nz || j > ny || i0 > nx) return;
    const int i1 = min(nx, i0 + chunk - 1);

    const long long sj = (long long)nz + 2;              // stride of j
    const long long si = ((long long)ny + 2) * sj;        // stride of i (one plane)
    const long long ojk = (long long)j * sj + k;

    // Per-column constants.
    const T hyc = __ldg(hy + j), hys = __ldg(hy + j - 1), hyn = __ldg(hy + j + 1);
    const T hzc = __ldg(hz + k), hzb = __ldg(hz + k - 1), hzt = __ldg(hz + k + 1);
    const T iy = __ldg(idy + j - 1), iz = __ldg(idz + k - 1);

    // Warm-up: cells i0-1 and i0, and the west face of i0.
    long long o = (long long)i0 * si + ojk;
    T tm = __ldg(Tin + o - si);
    T tc = __ldg(Tin + o);
    int pc = __ldg(ids + o);
    V4<T> cc = tab.cell(pc);
    V2<T> kc{};                                           // {rc, grp} of cell i (CONTACT)
    if constexpr (CONTACT) kc = tab.con(pc);
    T s_c = __ldg(hx + i0) * cc.x + cc.w;
    T g_w;
    {
        const int pm = __ldg(ids + o - si);
        const V4<T> cm = tab.cell(pm);
        const T s_m = __ldg(hx + i0 - 1) * cm.x + cm.w;
        T r = s_m + s_c;
        if constexpr (CONTACT) r += contact<T>(kc, tab.con(pm));
        g_w = recip<FAST, T>(r);
    }

    // Prefetch queue: planes i0+1 .. i0+PF (clamped to the last halo plane nx+1).
    T tq[PF];
    ID pq[PF];
#pragma unroll
    for (int d = 0; d < PF; ++d) {
        const long long oo = (long long)min(i0 + 1 + d, nx + 1) * si + ojk;
        tq[d] = __ldg(Tin + oo);
        pq[d] = __ldg(ids + oo);
    }

    for (int i = i0; i <= i1; ++i, o += si) {
        const T tp = tq[0];
        const int pp = pq[0];
#pragma unroll
        for (int d = 0; d < PF - 1; ++d) {
            tq[d] = tq[d + 1];
            pq[d] = pq[d + 1];
        }
        {
            const long long oo = (long long)min(i + 1 + PF, nx + 1) * si + ojk;
            tq[PF - 1] = __ldg(Tin + oo);
            pq[PF - 1] = __ldg(ids + oo);
        }

        // East face of i (= west face of i+1), computed once.
        const V4<T> cp = tab.cell(pp);
        V2<T> kp{};
        if constexpr (CONTACT) kp = tab.con(pp);
        const T s_p = __ldg(hx + i + 1) * cp.x + cp.w;
        T r_e = s_c + s_p;
        if constexpr (CONTACT) r_e += contact<T>(kc, kp);
        const T g_e = recip<FAST, T>(r_e);

        const V2<T> q = tab.src(pc);              // {inv_rhoc, qdot}
        if (q.x == T(0)) {
            Tout[o] = tc;
        } else {
            const T sy = hyc * cc.y + cc.w;
            const T sz = hzc * cc.z + cc.w;
            T fy, fz;
            int n;
            V2<T> a;
            if constexpr (CONTACT) {
                // As below, plus the contact resistance of each face, added last.
                n = __ldg(ids + o - sj);
                a = tab.ysd(n);
                fy = (__ldg(Tin + o - sj) - tc)
                     * recip<FAST, T>(sy + (hys * a.x + a.y) + contact<T>(kc, tab.con(n)));
                n = __ldg(ids + o + sj);
                a = tab.ysd(n);
                fy += (__ldg(Tin + o + sj) - tc)
                      * recip<FAST, T>(sy + (hyn * a.x + a.y) + contact<T>(kc, tab.con(n)));
                n = __ldg(ids + o - 1);
                a = tab.zsd(n);
                fz = (__ldg(Tin + o - 1) - tc)
                     * recip<FAST, T>(sz + (hzb * a.x + a.y) + contact<T>(kc, tab.con(n)));
                n = __ldg(ids + o + 1);
                a = tab.zsd(n);
                fz += (__ldg(Tin + o + 1) - tc)
                      * recip<FAST, T>(sz + (hzt * a.x + a.y) + contact<T>(kc, tab.con(n)));
            } else {
                // (The plain kernel: keep this block as it is, its code is the benchmark's.)
                n = __ldg(ids + o - sj);
                a = tab.ysd(n);
                fy = (__ldg(Tin + o - sj) - tc) * recip<FAST, T>(sy + (hys * a.x + a.y));
                n = __ldg(ids + o + sj);
                a = tab.ysd(n);
                fy += (__ldg(Tin + o + sj) - tc) * recip<FAST, T>(sy + (hyn * a.x + a.y));
                n = __ldg(ids + o - 1);
                a = tab.zsd(n);
                fz = (__ldg(Tin + o - 1) - tc) * recip<FAST, T>(sz + (hzb * a.x + a.y));
                n = __ldg(ids + o + 1);
                a = tab.zsd(n);
                fz += (__ldg(Tin + o + 1) - tc) * recip<FAST, T>(sz + (hzt * a.x + a.y));
            }
            const T fx = (tm - tc) * g_w + (tp - tc) * g_e;
            Tout[o] = tc + dt * q.x * (fx * __ldg(idx + i - 1) + fy * iy + fz * iz + q.y);
        }

        tm = tc;
        tc = tp;
        pc = pp;
        cc = cp;
        kc = kp;
        s_c = s_p;
        g_w = g_e;
    }
}

// Forward-Euler conduction step: Tn = T + dt / (rho c) * (sum_f (T_N - T_P) / (d_P R_f) + qdot)
// with R_f = (h_P rk_P + ra_P) + (h_N rk_N + ra_N) (+ Rc_f when CONTACT, see contact());
// cells whose inv_rhoc is 0 copy T.
// Launch: block (bx, by) over (k, j) with bx * by <= 256, grid (ceil(nz/bx), ceil(ny/by),
// ceil(nx/chunk)); dynamic shared memory (CONTACT ? 12 : 10) * nid * sizeof(T) bytes when
// SMEM.  rc and grp are not read unless CONTACT.  FAST: approximate reciprocals (float only,
// see recip).
template <typename T, typename ID, bool SMEM, bool CONTACT, int PF, bool FAST>
__global__ void __launch_bounds__(256)
explicit_step(const T* __restrict__ Tin, T* __restrict__ Tout, const ID* __restrict__ ids,
              const T* __restrict__ rkx, const T* __restrict__ rky, const T* __restrict__ rkz,
              const T* __restrict__ ra, const T* __restrict__ inv_rhoc,
              const T* __restrict__ qdot, const T* __restrict__ rc,
              const T* __restrict__ grp, int nid, const T* __restrict__ hx,
              const T* __restrict__ hy, const T* __restrict__ hz, const T* __restrict__ idx,
              const T* __restrict__ idy, const T* __restrict__ idz, T dt, int nx, int ny,
              int nz, int chunk) {
    if constexpr (SMEM) {
        extern __shared__ __align__(32) unsigned char thermosim_smem[];
        V4<T>* cell = reinterpret_cast<V4<T>*>(thermosim_smem);
        V2<T>* src = reinterpret_cast<V2<T>*>(cell + nid);
        V2<T>* ysd = src + nid;
        V2<T>* zsd = ysd + nid;
        V2<T>* con = zsd + nid;                       // {rc, grp}: CONTACT only
        const int nt = blockDim.x * blockDim.y;
        for (int p = threadIdx.y * blockDim.x + threadIdx.x; p < nid; p += nt) {
            const T x = __ldg(rkx + p), y = __ldg(rky + p), z = __ldg(rkz + p);
            const T w = __ldg(ra + p);
            cell[p] = V4<T>{x, y, z, w};
            src[p] = V2<T>{__ldg(inv_rhoc + p), __ldg(qdot + p)};
            ysd[p] = V2<T>{y, w};
            zsd[p] = V2<T>{z, w};
            if constexpr (CONTACT) con[p] = V2<T>{__ldg(rc + p), __ldg(grp + p)};
        }
        __syncthreads();
        if constexpr (CONTACT) {
            const SharedContactTable<T> tab{{cell, src, ysd, zsd}, con};
            march<T, ID, true, PF, FAST>(Tin, Tout, ids, tab, hx, hy, hz, idx, idy, idz, dt, nx, ny,
                                   nz, chunk);
        } else {
            const SharedTable<T> tab{cell, src, ysd, zsd};
            march<T, ID, false, PF, FAST>(Tin, Tout, ids, tab, hx, hy, hz, idx, idy, idz, dt, nx,
                                    ny, nz, chunk);
        }
    } else {
        const GlobalTable<T> tab{rkx, rky, rkz, ra, inv_rhoc, qdot, rc, grp};
        march<T, ID, CONTACT, PF, FAST>(Tin, Tout, ids, tab, hx, hy, hz, idx, idy, idz, dt, nx, ny,
                                  nz, chunk);
    }
}

// Constant-coefficient 7-point step (benchmark baseline): Tn = T + c * laplacian(T), same
// march-in-i design and launch as explicit_step (no shared memory).
template <typename T, int PF>
__global__ void __launch_bounds__(256)
explicit_step_uniform(const T* __restrict__ Tin, T* __restrict__ Tout, T c, int nx, int ny,
                      int nz, int chunk) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x + 1;
    const int j = blockIdx.y * blockDim.y + threadIdx.y + 1;
    const int i0 = 1 + blockIdx.z * chunk;
    if (k > nz || j > ny || i0 > nx) return;
    const int i1 = min(nx, i0 + chunk - 1);

    const long long sj = (long long)nz + 2;
    const long long si = ((long long)ny + 2) * sj;
    const long long ojk = (long long)j * sj + k;

    long long o = (long long)i0 * si + ojk;
    T tm = __ldg(Tin + o - si);
    T tc = __ldg(Tin + o);
    T tq[PF];
#pragma unroll
    for (int d = 0; d < PF; ++d)
        tq[d] = __ldg(Tin + (long long)min(i0 + 1 + d, nx + 1) * si + ojk);

    for (int i = i0; i <= i1; ++i, o += si) {
        const T tp = tq[0];
#pragma unroll
        for (int d = 0; d < PF - 1; ++d) tq[d] = tq[d + 1];
        tq[PF - 1] = __ldg(Tin + (long long)min(i + 1 + PF, nx + 1) * si + ojk);

        Tout[o] = tc + c * (tm + tp + __ldg(Tin + o - sj) + __ldg(Tin + o + sj)
                            + __ldg(Tin + o - 1) + __ldg(Tin + o + 1) - T(6) * tc);
        tm = tc;
        tc = tp;
    }
}

}  // namespace thermosim

#ifdef THERMOSIM_AOT
// Ahead-of-time build (CMake, nvcc): instantiate what the GPU backend names, so that nvcc
// compiles every template body.  THERMOSIM_PREFETCH must match GPUBackend.prefetch.
#ifndef THERMOSIM_PREFETCH
#define THERMOSIM_PREFETCH 2
#endif
namespace thermosim {
namespace aot {
#define THERMOSIM_STEP(T, ID, FAST)                                                          \
    (const void*)&explicit_step<T, ID, true, false, THERMOSIM_PREFETCH, FAST>,               \
        (const void*)&explicit_step<T, ID, false, false, THERMOSIM_PREFETCH, FAST>,          \
        (const void*)&explicit_step<T, ID, true, true, THERMOSIM_PREFETCH, FAST>,            \
        (const void*)&explicit_step<T, ID, false, true, THERMOSIM_PREFETCH, FAST>
const void* const* conduction_kernels() {
    static const void* const kernels[] = {
        THERMOSIM_STEP(float, unsigned char, false),
        THERMOSIM_STEP(float, unsigned short, false),
        THERMOSIM_STEP(float, unsigned char, true),
        THERMOSIM_STEP(float, unsigned short, true),
        THERMOSIM_STEP(double, unsigned char, false),
        THERMOSIM_STEP(double, unsigned short, false),
        (const void*)&explicit_step_uniform<float, THERMOSIM_PREFETCH>,
        (const void*)&explicit_step_uniform<double, THERMOSIM_PREFETCH>,
    };
    return kernels;
}
#undef THERMOSIM_STEP
}  // namespace aot
}  // namespace thermosim
#endif
