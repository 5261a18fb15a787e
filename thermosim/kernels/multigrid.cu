// Multigrid kernels on the conductance-form operator: the CUDA twins of _apply, _rbgs,
// _zline_gs (line_gs along any axis), _restrict and _prolong_add in thermosim/backends/cpu.py
// (same arguments, same arithmetic).
//
// Compiled at run time with NVRTC through cupy.RawModule (templates named by
// name_expressions), and ahead of time by CMake/nvcc with -DTHERMOSIM_AOT (instantiations at
// the end of this file).  No #include: NVRTC needs none.
//
// Layout: C order, last axis fastest.  x, b, y, rf, rc, xc, xf carry a one-cell halo (shape
// (n+2) per axis, interior (i, j, k) at [i+1, j+1, k+1]); Gx (nx+1, ny, nz), Gy (nx, ny+1, nz),
// Gz (nx, ny, nz+1) and D (nx, ny, nz) have none.  Here i, j, k are 0-based interior indices.
//
// Launch (all kernels but line_gs and zline_gs): block (bx, by) over (k, j), k fastest along
// threadIdx.x; grid (ceil(nk/bx), ceil(ny/by), min(nx, 65535)) with blockIdx.z striding over
// i.  For rbgs, nk is ceil(nz/2) (one thread per cell of the colour); for restrict, the coarse
// sizes.
// line_gs, zline_gs: one thread per line of the colour, 1-D blocks and grid (see there).

namespace thermosim {

// y = b + sign * (A x) on the interior (HAS_B = false: y = A x, b is not read).
template <typename T, bool HAS_B>
__global__ void apply(const T* __restrict__ x, const T* __restrict__ Gx,
                      const T* __restrict__ Gy, const T* __restrict__ Gz,
                      const T* __restrict__ D, T* __restrict__ y, const T* __restrict__ b,
                      T sign, int nx, int ny, int nz) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    const int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (k >= nz || j >= ny) return;
    const long long hj = (long long)nz + 2;              // halo strides
    const long long hi = ((long long)ny + 2) * hj;
    for (int i = blockIdx.z; i < nx; i += gridDim.z) {
        const long long c = (long long)i * ny * nz + (long long)j * nz + k;   // D, Gx[i]
        const long long cy = ((long long)i * (ny + 1) + j) * nz + k;          // Gy[i, j]
        const long long cz = ((long long)i * ny + j) * (nz + 1) + k;          // Gz[i, j, k]
        const long long o = (long long)(i + 1) * hi + (long long)(j + 1) * hj + (k + 1);
        const T gw = Gx[c];
        const T ge = Gx[c + (long long)ny * nz];
        const T gs = Gy[cy];
        const T gn = Gy[cy + nz];
        const T gb = Gz[cz];
        const T gt = Gz[cz + 1];
        const T ax = (D[c] + gw + ge + gs + gn + gb + gt) * x[o]
                     - gw * x[o - hi] - ge * x[o + hi]
                     - gs * x[o - hj] - gn * x[o + hj]
                     - gb * x[o - 1] - gt * x[o + 1];
        if constexpr (HAS_B)
            y[o] = b[o] + sign * ax;
        else
            y[o] = sign * ax;
    }
}

// One colour of a red-black Gauss-Seidel sweep in place: cells with (i+j+k) & 1 == color.
template <typename T>
__global__ void rbgs(T* __restrict__ x, const T* __restrict__ Gx, const T* __restrict__ Gy,
                     const T* __restrict__ Gz, const T* __restrict__ D,
                     const T* __restrict__ b, int color, int nx, int ny, int nz) {
    const int kh = blockIdx.x * blockDim.x + threadIdx.x;
    const int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (j >= ny) return;
    const long long hj = (long long)nz + 2;
    const long long hi = ((long long)ny + 2) * hj;
    for (int i = blockIdx.z; i < nx; i += gridDim.z) {
        const int k = 2 * kh + ((i + j + color) & 1);
        if (k >= nz) continue;
        const long long c = (long long)i * ny * nz + (long long)j * nz + k;
        const long long cy = ((long long)i * (ny + 1) + j) * nz + k;
        const long long cz = ((long long)i * ny + j) * (nz + 1) + k;
        const long long o = (long long)(i + 1) * hi + (long long)(j + 1) * hj + (k + 1);
        const T gw = Gx[c];
        const T ge = Gx[c + (long long)ny * nz];
        const T gs = Gy[cy];
        const T gn = Gy[cy + nz];
        const T gb = Gz[cz];
        const T gt = Gz[cz + 1];
        const T s = b[o] + gw * x[o - hi] + ge * x[o + hi] + gs * x[o - hj] + gn * x[o + hj]
                    + gb * x[o - 1] + gt * x[o + 1];
        x[o] = s / (D[c] + gw + ge + gs + gn + gb + gt);
    }
}

// Zebra line Gauss-Seidel along axis AXIS (0: x, 1: y, 2: z), one colour, in place: every
// line of cells along AXIS whose two other interior indices (p, q), in increasing axis order
// (AXIS 0: (j, k), 1: (i, k), 2: (i, j)), satisfy (p + q) & 1 == color is solved exactly by
// the Thomas algorithm, its neighbours across p and q (the other colour, not written by this
// launch) taken from the current x and the halo values at both ends of the line moved to the
// right-hand side.  Row l of a line (l the index along AXIS) reads
//   d_l x_l - gb_l x_(l-1) - gt_l x_(l+1) = r_l,
// with the operation order of _zline_gs on the CPU backend's transposed views (line_gs in
// cpu.py): the p-axis conductances first (gw, ge), then the q-axis ones (gs, gn), then the
// line's own (gb, gt); float64 agrees to rounding.
//
// Lines of the colour are numbered line = p * nqh + qh, nqh = ceil(nq / 2), q = 2 qh +
// ((p + color) & 1) (threads with q >= nq idle); nlines = np * nqh.  q is the faster of the
// two cross axes: z for AXIS 0 and 1 (neighbouring threads then walk neighbouring z cells,
// two apart, at every step along the line), y for AXIS 2.  cp (the Thomas coefficients c'_l)
// is global scratch of nl * nlines entries laid out as cp[l * nlines + line], so that
// neighbouring threads touch neighbouring addresses at each l; the forward sweep stores d'_l
// in the line's own x (its old values are never read), and the back substitution overwrites
// them.  Launch: 1-D blocks and grid over line (grid-stride loop).

// Size of axis A.
template <int A>
__device__ __forceinline__ int axis_size(int nx, int ny, int nz) {
    if constexpr (A == 0) return nx;
    else if constexpr (A == 1) return ny;
    else return nz;
}

// Stride along axis DIR of the face-conductance array of axis R (shape (nx, ny, nz) plus one
// along R; R = 0 also gives D's strides, Gx having the same ones).
template <int R, int DIR>
__device__ __forceinline__ long long face_stride(int ny, int nz) {
    if constexpr (DIR == 2) return 1;
    else if constexpr (DIR == 1) return R == 2 ? (long long)nz + 1 : (long long)nz;
    else return (long long)(R == 1 ? ny + 1 : ny) * (R == 2 ? nz + 1 : nz);
}

// Stride along axis DIR of the arrays with a halo.
template <int DIR>
__device__ __forceinline__ long long halo_stride(int ny, int nz) {
    if constexpr (DIR == 2) return 1;
    else if constexpr (DIR == 1) return (long long)nz + 2;
    else return ((long long)ny + 2) * ((long long)nz + 2);
}

template <int R, typename P>
__device__ __forceinline__ P pick(P gx, P gy, P gz) {
    if constexpr (R == 0) return gx;
    else if constexpr (R == 1) return gy;
    else return gz;
}

template <typename T, int AXIS>
__device__ __forceinline__ void line_gs_body(T* __restrict__ x, const T* __restrict__ Gx,
                                             const T* __restrict__ Gy,
                                             const T* __restrict__ Gz,
                                             const T* __restrict__ D,
                                             const T* __restrict__ b, T* __restrict__ cp,
                                             int color, int nx, int ny, int nz) {
    static_assert(AXIS >= 0 && AXIS <= 2, "AXIS is 0, 1 or 2");
    constexpr int L = AXIS;                       // the line
    constexpr int P = AXIS == 0 ? 1 : 0;          // cross axes, P < Q
    constexpr int Q = AXIS == 2 ? 1 : 2;
    const int nl = axis_size<L>(nx, ny, nz);
    const int np = axis_size<P>(nx, ny, nz);
    const int nq = axis_size<Q>(nx, ny, nz);
    const T* __restrict__ GP = pick<P>(Gx, Gy, Gz);
    const T* __restrict__ GQ = pick<Q>(Gx, Gy, Gz);
    const T* __restrict__ GL = pick<L>(Gx, Gy, Gz);
    // halo strides; D strides; per face array: its strides along p, q, the line and its
    // own axis (the far face)
    const long long hp = halo_stride<P>(ny, nz), hq = halo_stride<Q>(ny, nz),
                    hl = halo_stride<L>(ny, nz);
    const long long dsp = face_stride<0, P>(ny, nz), dsq = face_stride<0, Q>(ny, nz),
                    dsl = face_stride<0, L>(ny, nz);
    const long long pp = face_stride<P, P>(ny, nz), pq = face_stride<P, Q>(ny, nz),
                    pl = face_stride<P, L>(ny, nz);
    const long long qp = face_stride<Q, P>(ny, nz), qq = face_stride<Q, Q>(ny, nz),
                    ql = face_stride<Q, L>(ny, nz);
    const long long lp = face_stride<L, P>(ny, nz), lq = face_stride<L, Q>(ny, nz),
                    ll = face_stride<L, L>(ny, nz);
    const int nqh = (nq + 1) >> 1;
    const long long nlines = (long long)np * nqh;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long line = (long long)blockIdx.x * blockDim.x + threadIdx.x; line < nlines;
         line += stride) {
        const int p = (int)(line / nqh);
        const int q = 2 * (int)(line - (long long)p * nqh) + ((p + color) & 1);
        if (q >= nq) continue;
        const long long c0 = p * dsp + q * dsq;          // D[.., l = 0]
        const long long cp0 = p * pp + q * pq;           // GP[.., l = 0]
        const long long cq0 = p * qp + q * qq;           // GQ
        const long long cl0 = p * lp + q * lq;           // GL
        const long long o0 = (p + 1) * hp + (q + 1) * hq + hl;
        T cpm = T(0), dpm = T(0);                        // c'_(l-1), d'_(l-1)
        for (int l = 0; l < nl; ++l) {
            const long long o = o0 + l * hl;
            const long long cpl = cp0 + l * pl;
            const long long cql = cq0 + l * ql;
            const long long cll = cl0 + l * ll;
            const T gw = GP[cpl];
            const T ge = GP[cpl + pp];
            const T gs = GQ[cql];
            const T gn = GQ[cql + qq];
            const T gb = GL[cll];
            const T gt = GL[cll + ll];
            T r = b[o] + gw * x[o - hp] + ge * x[o + hp] + gs * x[o - hq] + gn * x[o + hq];
            const T d = D[c0 + l * dsl] + gw + ge + gs + gn + gb + gt;
            T m, dp;
            if (l == 0) {
                r += gb * x[o - hl];                     // halo at the line's start
                m = d;
                dp = r / m;
            } else {
                m = d + gb * cpm;
                dp = (r + gb * dpm) / m;
            }
            if (l == nl - 1) {
                dp += gt * x[o + hl] / m;                // halo at the line's end
                cpm = T(0);
            } else {
                cpm = -gt / m;
                cp[(long long)l * nlines + line] = cpm;
            }
            x[o] = dp;
            dpm = dp;
        }
        T xn = dpm;                                      // x_(nl-1) = d'_(nl-1)
        for (int l = nl - 2; l >= 0; --l) {
            const long long o = o0 + l * hl;
            xn = x[o] - cp[(long long)l * nlines + line] * xn;
            x[o] = xn;
        }
    }
}

template <typename T, int AXIS>
__global__ void line_gs(T* __restrict__ x, const T* __restrict__ Gx, const T* __restrict__ Gy,
                        const T* __restrict__ Gz, const T* __restrict__ D,
                        const T* __restrict__ b, T* __restrict__ cp, int color, int nx,
                        int ny, int nz) {
    line_gs_body<T, AXIS>(x, Gx, Gy, Gz, D, b, cp, color, nx, ny, nz);
}

// z-lines (line_gs<T, 2>): columns (i, j) with (i + j) & 1 == color, col = i * ceil(ny/2) +
// j / 2, scratch cp[k * ncol + col].
template <typename T>
__global__ void zline_gs(T* __restrict__ x, const T* __restrict__ Gx,
                         const T* __restrict__ Gy, const T* __restrict__ Gz,
                         const T* __restrict__ D, const T* __restrict__ b,
                         T* __restrict__ cp, int color, int nx, int ny, int nz) {
    line_gs_body<T, 2>(x, Gx, Gy, Gz, D, b, cp, color, nx, ny, nz);
}

// rc[I] = sum of rf over the fine cells of aggregate I (offsets o*: nc+1 entries), summed in
// double like the CPU kernel.  nfy, nfz: fine interior sizes (rf is (nfx+2, nfy+2, nfz+2)).
template <typename T>
__global__ void restrict_sum(const T* __restrict__ rf, T* __restrict__ rc,
                             const long long* __restrict__ ox,
                             const long long* __restrict__ oy,
                             const long long* __restrict__ oz, int ncx, int ncy, int ncz,
                             int nfy, int nfz) {
    const int K = blockIdx.x * blockDim.x + threadIdx.x;
    const int J = blockIdx.y * blockDim.y + threadIdx.y;
    if (K >= ncz || J >= ncy) return;
    const long long fj = (long long)nfz + 2;
    const long long fi = ((long long)nfy + 2) * fj;
    const long long cj = (long long)ncz + 2;
    const long long ci = ((long long)ncy + 2) * cj;
    const long long j0 = oy[J], j1 = oy[J + 1], k0 = oz[K], k1 = oz[K + 1];
    for (int I = blockIdx.z; I < ncx; I += gridDim.z) {
        double s = 0.0;
        for (long long i = ox[I]; i < ox[I + 1]; ++i)
            for (long long j = j0; j < j1; ++j) {
                const T* row = rf + (i + 1) * fi + (j + 1) * fj + 1;
                for (long long k = k0; k < k1; ++k) s += (double)row[k];
            }
        rc[(long long)(I + 1) * ci + (long long)(J + 1) * cj + (K + 1)] = (T)s;
    }
}

// xf += xc[aggregate of each fine cell] (piecewise-constant prolongation).  ncy, ncz: coarse
// interior sizes (xc is (ncx+2, ncy+2, ncz+2)).
template <typename T>
__global__ void prolong_add(const T* __restrict__ xc, T* __restrict__ xf,
                            const long long* __restrict__ mx,
                            const long long* __restrict__ my,
                            const long long* __restrict__ mz, int nx, int ny, int nz, int ncy,
                            int ncz) {
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    const int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (k >= nz || j >= ny) return;
    const long long fj = (long long)nz + 2;
    const long long fi = ((long long)ny + 2) * fj;
    const long long cj = (long long)ncz + 2;
    const long long ci = ((long long)ncy + 2) * cj;
    const long long cjk = (my[j] + 1) * cj + (mz[k] + 1);
    for (int i = blockIdx.z; i < nx; i += gridDim.z) {
        xf[(long long)(i + 1) * fi + (long long)(j + 1) * fj + (k + 1)] +=
            xc[(mx[i] + 1) * ci + cjk];
    }
}

}  // namespace thermosim

#ifdef THERMOSIM_AOT
// Ahead-of-time build (CMake, nvcc): instantiate what the GPU backend names.
namespace thermosim {
namespace aot {
#define THERMOSIM_MG(T)                                                                      \
    (const void*)&apply<T, true>, (const void*)&apply<T, false>, (const void*)&rbgs<T>,      \
        (const void*)&zline_gs<T>, (const void*)&line_gs<T, 0>, (const void*)&line_gs<T, 1>,  \
        (const void*)&line_gs<T, 2>, (const void*)&restrict_sum<T>,                          \
        (const void*)&prolong_add<T>
const void* const* multigrid_kernels() {
    static const void* const kernels[] = {THERMOSIM_MG(float), THERMOSIM_MG(double)};
    return kernels;
}
#undef THERMOSIM_MG
}  // namespace aot
}  // namespace thermosim
#endif
