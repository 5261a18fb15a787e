// CPU emulator of the thermosim CUDA kernels (testing only; see README.md).
//
// Builds a shared library that the fake cupy package (cupy/__init__.py) loads with ctypes:
//   g++ -O2 -std=c++20 -shared -fPIC -pthread emu.cpp -o libthermosim_cuda_emu.so
// The kernel sources are the package's own thermosim/kernels/*.cu, included unchanged
// (relative path from this file).  A launch runs the blocks one after another; inside a
// block every CUDA thread is a std::thread, with a std::barrier for __syncthreads.
#include "emu.h"

#include "../../thermosim/kernels/conduction.cu"
#include "../../thermosim/kernels/multigrid.cu"
#include "../../thermosim/kernels/flow.cu"
#include "../../thermosim/kernels/steady.cu"
#include "../../thermosim/kernels/turbulence.cu"

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef THERMOSIM_PREFETCH
#define THERMOSIM_PREFETCH 2   // must match thermosim.backends.gpu.PREFETCH
#endif

// Dynamic shared memory (extern __shared__ thermosim_smem[] in conduction.cu).
namespace thermosim {
alignas(32) unsigned char thermosim_smem[1 << 20];
}

namespace {

using Launcher = std::function<void(dim3, dim3, void**)>;

// A kernel and its parameter list, one code per parameter, comma-separated: a scalar as its
// kind and size ("i4" int, "i8" long long, "f4" float, "f8" double, "u1" unsigned char...),
// a pointer as "*" and its pointee's code.  The fake cupy checks every launch against it: the
// real CUDA launch copies each argument's bytes blindly (CuPy passes a Python int as 8 bytes,
// a Python float as a double), so a mismatch would silently corrupt a real launch.
struct Entry {
    Launcher launch;
    std::string signature;
};

template <typename E>
std::string scalar_code() {
    static_assert(std::is_arithmetic_v<E>, "kernel parameter of unsupported type");
    const char kind = std::is_floating_point_v<E> ? 'f' : std::is_signed_v<E> ? 'i' : 'u';
    return kind + std::to_string(sizeof(E));
}

template <typename A>
std::string param_code() {
    using U = std::remove_cv_t<std::remove_reference_t<A>>;
    if constexpr (std::is_pointer_v<U>)
        return "*" + scalar_code<std::remove_cv_t<std::remove_pointer_t<U>>>();
    else
        return scalar_code<U>();
}

template <typename... A>
std::string signature() {
    std::string s;
    ((s += (s.empty() ? "" : ",") + param_code<A>()), ...);
    return s;
}

// Call kernel k with its arguments unpacked from CUDA-style void* args[] (as cupy passes).
template <typename... A, std::size_t... I>
void call(void (*k)(A...), void** args, std::index_sequence<I...>) {
    k(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

template <typename... A>
Entry make(void (*k)(A...)) {
    return {[k](dim3 g, dim3 b, void** args) {
        const unsigned nt = b.x * b.y * b.z;
        for (unsigned bz = 0; bz < g.z; ++bz)
            for (unsigned by = 0; by < g.y; ++by)
                for (unsigned bx = 0; bx < g.x; ++bx) {
                    std::barrier<> bar(nt);
                    std::vector<std::thread> ts;
                    ts.reserve(nt);
                    for (unsigned tz = 0; tz < b.z; ++tz)
                        for (unsigned ty = 0; ty < b.y; ++ty)
                            for (unsigned tx = 0; tx < b.x; ++tx)
                                ts.emplace_back([&, tx, ty, tz] {
                                    threadIdx = {tx, ty, tz};
                                    blockIdx = {bx, by, bz};
                                    blockDim = b;
                                    gridDim = g;
                                    emu_barrier = &bar;
                                    call(k, args, std::index_sequence_for<A...>{});
                                    bar.arrive_and_drop();   // an exited thread no longer syncs
                                });
                    for (auto& t : ts) t.join();
                }
    }, signature<A...>()};
}

// Registered under the exact name expression that thermosim.backends.gpu asks for (the
// argument macro-expanded first, so THERMOSIM_PREFETCH reads as its value).
#define EMU_STR(...) #__VA_ARGS__
#define EMU_XSTR(...) EMU_STR(__VA_ARGS__)
#define REG(...) {EMU_XSTR(__VA_ARGS__), make(&__VA_ARGS__)}
#define STEP(T, ID, FAST)                                                                  \
    REG(thermosim::explicit_step<T, ID, true, false, THERMOSIM_PREFETCH, FAST>),           \
        REG(thermosim::explicit_step<T, ID, false, false, THERMOSIM_PREFETCH, FAST>),      \
        REG(thermosim::explicit_step<T, ID, true, true, THERMOSIM_PREFETCH, FAST>),        \
        REG(thermosim::explicit_step<T, ID, false, true, THERMOSIM_PREFETCH, FAST>)
#define MG(T)                                                                              \
    REG(thermosim::apply<T, true>), REG(thermosim::apply<T, false>),                       \
        REG(thermosim::rbgs<T>), REG(thermosim::zline_gs<T>),                              \
        REG(thermosim::line_gs<T, 0>), REG(thermosim::line_gs<T, 1>),                      \
        REG(thermosim::line_gs<T, 2>), REG(thermosim::restrict_sum<T>),                    \
        REG(thermosim::prolong_add<T>)

#define FLOW(T)                                                                            \
    REG(thermosim::momentum_rhs<T, 0>), REG(thermosim::momentum_rhs<T, 1>),                \
        REG(thermosim::momentum_rhs<T, 2>), REG(thermosim::correct<T, 0>),                 \
        REG(thermosim::correct<T, 1>), REG(thermosim::correct<T, 2>),                      \
        REG(thermosim::divergence_rhs<T>), REG(thermosim::energy_rhs<T>),                  \
        REG(thermosim::lincomb<T>)

#define STEADY(T)                                                                          \
    REG(thermosim::steady_momentum_operator<T, 0>),                                        \
        REG(thermosim::steady_momentum_operator<T, 1>),                                    \
        REG(thermosim::steady_momentum_operator<T, 2>),                                    \
        REG(thermosim::steady_energy_operator<T>), REG(thermosim::steady_rbgs<T>)
#define TURBULENCE(T)                                                                      \
    REG(thermosim::eddy_viscosity<T>), REG(thermosim::eddy_momentum<T, 0>),                \
        REG(thermosim::eddy_momentum<T, 1>), REG(thermosim::eddy_momentum<T, 2>)

std::map<std::string, Entry>& table() {
    static std::map<std::string, Entry> t = {
        STEP(float, unsigned char, false),
        STEP(float, unsigned short, false),
        STEP(float, unsigned char, true),
        STEP(float, unsigned short, true),
        STEP(double, unsigned char, false),
        STEP(double, unsigned short, false),
        REG(thermosim::explicit_step_uniform<float, THERMOSIM_PREFETCH>),
        REG(thermosim::explicit_step_uniform<double, THERMOSIM_PREFETCH>),
        MG(float),
        MG(double),
        FLOW(float),
        FLOW(double),
        STEADY(float),
        STEADY(double),
        TURBULENCE(float),
        TURBULENCE(double),
    };
    return t;
}

}  // namespace

extern "C" int emu_prefetch() { return THERMOSIM_PREFETCH; }

extern "C" int emu_has(const char* name) { return table().count(name) ? 1 : 0; }

// The parameter codes of a kernel (see Entry), or "" for an unknown name.  The string lives
// as long as the library.
extern "C" const char* emu_signature(const char* name) {
    auto it = table().find(name);
    return it == table().end() ? "" : it->second.signature.c_str();
}

// 0: ran; 1: no kernel of that name; 2: dynamic shared memory too large.
extern "C" int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                          unsigned by, unsigned bz, void** args, unsigned long smem) {
    auto it = table().find(name);
    if (it == table().end()) return 1;
    if (smem > sizeof(thermosim::thermosim_smem)) return 2;
    it->second.launch(dim3{gx, gy, gz}, dim3{bx, by, bz}, args);
    return 0;
}
