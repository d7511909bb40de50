#ifndef CRNNSUPPORT_H
#define CRNNSUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// What the Swift module importing this header is compiled for. Swift has no
/// `#if` on target features, but its clang importer sees the same `-march`
/// as its code generator, so these constants fold at compile time and let the
/// kernels avoid `SIMD.addingProduct` where it would become per-lane `fmaf` calls.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
static const int rnn_target_has_fma = 1;
#else
static const int rnn_target_has_fma = 0;
#endif

/// CPU features found at run time (CPUID and XGETBV on x86-64).
typedef struct {
    int has_avx2_fma;   ///< AVX2 and FMA3, with the OS saving YMM state.
    int has_avx512f;    ///< AVX-512 F, with the OS saving ZMM state.
    int has_neon;       ///< arm64 Advanced SIMD.
} rnn_cpu_features;

rnn_cpu_features rnn_detect_cpu_features(void);

/// Floating-point control state, saved and restored around training so that
/// flushing denormals never leaks into the host program.
typedef struct { uint64_t bits; } rnn_fp_state;

/// Turns on flush-to-zero and denormals-are-zero (MXCSR on x86-64, FPCR.FZ on
/// arm64) and returns the previous state.
rnn_fp_state rnn_enable_flush_denormals(void);
void rnn_restore_fp_state(rnn_fp_state state);
/// 1 when flush-to-zero and denormals-are-zero are both on.
int rnn_flush_denormals_enabled(void);

/// Runs `body(context, i)` for i in 0..<iterations on Dispatch's worker
/// threads and returns when all are done: `DispatchQueue.concurrentPerform`'s
/// own primitive (dispatch_apply), reached through its C entry point because
/// the Swift overlay wraps every call in a heap-allocated block, and a
/// training step must not allocate.
void rnn_concurrent_perform(size_t iterations, void *context, void (*body)(void *context, size_t iteration));

#endif
