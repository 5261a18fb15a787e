// Multigrid kernels on the conductance-form operator: the CUDA twins of _apply, _rbgs,
// _zline_gs, _restrict and _prolong_add in thermosim/backends/cpu.py (same arguments, same
// arithmetic).
//
// Compiled at run time with NVRTC through cupy.RawModule (templates named by
// name_expressions), and ahead of time by CMake/nvcc with -DTHERMOSIM_AOT (instantiations at
// the end of this file).  No #include: NVRTC needs none.
//
// Layout: C order, last axis fastest.  x, b, y, rf, rc, xc, xf carry a one-cell halo (shape
// (n+2) per axis, interior (i, j, k) at [i+1, j+1, k+1]); Gx (nx+1, ny, nz), Gy (nx, ny+1, nz),
// Gz (nx, ny, nz+1) and D (nx, ny, nz) have none.  Here i, j, k are 0-based interior indices.
//
// Launch (all kernels but zline_gs): block (bx, by) over (k, j), k fastest along threadIdx.x;
// grid (ceil(nk/bx), ceil(ny/by), min(nx, 65535)) with blockIdx.z striding over i.  For rbgs,
// nk is ceil(nz/2) (one thread per cell of the colour); for restrict, the coarse sizes.
// zline_gs: one thread per (i, j) column of the colour, 1-D blocks and grid (see there).

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

// Zebra line Gauss-Seidel, one colour, in place: every (i, j) column with (i + j) & 1 == color
// is solved exactly along z by the Thomas algorithm, its x/y neighbours (the other colour, not
// written by this launch) taken from the current x and the halo values x[.., 0] and
// x[.., nz+1] moved to the right-hand side.  Row k of a column reads
//   d_k x_k - gb_k x_(k-1) - gt_k x_(k+1) = r_k,
// with the same operation order as _zline_gs (float64 agrees to rounding).
//
// Columns of the colour are numbered col = i * nyh + jh, nyh = ceil(ny / 2), j = 2 jh +
// ((i + color) & 1) (threads with j >= ny idle); ncol = nx * nyh.  cp (the Thomas
// coefficients c'_k) is global scratch of nz * ncol entries laid out as cp[k * ncol + col],
// so that neighbouring threads touch neighbouring addresses at each k; the forward sweep
// stores d'_k in the column's own x (its old values are never read), and the back
// substitution overwrites them.  Launch: 1-D blocks and grid over col (grid-stride loop).
template <typename T>
__global__ void zline_gs(T* __restrict__ x, const T* __restrict__ Gx,
                         const T* __restrict__ Gy, const T* __restrict__ Gz,
                         const T* __restrict__ D, const T* __restrict__ b,
                         T* __restrict__ cp, int color, int nx, int ny, int nz) {
    const long long hj = (long long)nz + 2;
    const long long hi = ((long long)ny + 2) * hj;
    const long long sx = (long long)ny * nz;              // Gx stride of i
    const int nyh = (ny + 1) >> 1;
    const long long ncol = (long long)nx * nyh;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long col = (long long)blockIdx.x * blockDim.x + threadIdx.x; col < ncol;
         col += stride) {
        const int i = (int)(col / nyh);
        const int j = 2 * (int)(col - (long long)i * nyh) + ((i + color) & 1);
        if (j >= ny) continue;
        const long long c0 = ((long long)i * ny + j) * nz;          // D, Gx[i, j, 0]
        const long long cy0 = ((long long)i * (ny + 1) + j) * nz;   // Gy[i, j, 0]
        const long long cz0 = ((long long)i * ny + j) * (nz + 1);   // Gz[i, j, 0]
        const long long o0 = (long long)(i + 1) * hi + (long long)(j + 1) * hj + 1;
        T cpm = T(0), dpm = T(0);                        // c'_(k-1), d'_(k-1)
        for (int k = 0; k < nz; ++k) {
            const long long c = c0 + k;
            const long long o = o0 + k;
            const T gw = Gx[c];
            const T ge = Gx[c + sx];
            const T gs = Gy[cy0 + k];
            const T gn = Gy[cy0 + k + nz];
            const T gb = Gz[cz0 + k];
            const T gt = Gz[cz0 + k + 1];
            T r = b[o] + gw * x[o - hi] + ge * x[o + hi] + gs * x[o - hj] + gn * x[o + hj];
            const T d = D[c] + gw + ge + gs + gn + gb + gt;
            T m, dp;
            if (k == 0) {
                r += gb * x[o - 1];                      // bottom halo
                m = d;
                dp = r / m;
            } else {
                m = d + gb * cpm;
                dp = (r + gb * dpm) / m;
            }
            if (k == nz - 1) {
                dp += gt * x[o + 1] / m;                 // top halo
                cpm = T(0);
            } else {
                cpm = -gt / m;
                cp[(long long)k * ncol + col] = cpm;
            }
            x[o] = dp;
            dpm = dp;
        }
        T xn = dpm;                                      // x_(nz-1) = d'_(nz-1)
        for (int k = nz - 2; k >= 0; --k) {
            const long long o = o0 + k;
            xn = x[o] - cp[(long long)k * ncol + col] * xn;
            x[o] = xn;
        }
    }
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
        (const void*)&zline_gs<T>, (const void*)&restrict_sum<T>, (const void*)&prolong_add<T>
const void* const* multigrid_kernels() {
    static const void* const kernels[] = {THERMOSIM_MG(float), THERMOSIM_MG(double)};
    return kernels;
}
#undef THERMOSIM_MG
}  // namespace aot
}  // namespace thermosim
#endif
