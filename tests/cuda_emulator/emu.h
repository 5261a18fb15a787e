// Host emulation of the CUDA built-ins that thermosim/kernels/*.cu use (testing only; see
// README.md).
// Every CUDA thread runs as one std::thread: the thread-local threadIdx/blockIdx/blockDim/
// gridDim are set before the kernel body runs, and __syncthreads is a std::barrier shared by
// the threads of one block.  Shared memory is one static buffer (blocks run one at a time).
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;
inline thread_local std::barrier<>* emu_barrier = nullptr;
inline void __syncthreads() { emu_barrier->arrive_and_wait(); }

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict

template <typename T>
inline T __ldg(const T* p) { return *p; }
inline float __frcp_rn(float x) { return 1.0f / x; }   // IEEE division: round to nearest
inline float __fdividef(float a, float b) { return a / b; }   // the GPU's is approximate
using std::max;
using std::min;
