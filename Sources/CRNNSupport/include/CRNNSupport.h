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

/// The raw CPUID and XCR0 words that decide which kernel variants may run;
/// Swift's `ProcessorFeatures` names the bits. Zero where the processor has
/// no such leaf (or is not x86-64), and `xcr0` is zero unless OSXSAVE is set.
typedef struct {
    uint32_t leaf1_ecx;         ///< CPUID(1).ECX: SSE3 ... AVX, F16C, FMA, MOVBE, OSXSAVE.
    uint32_t leaf1_edx;         ///< CPUID(1).EDX: SSE, SSE2, CMOV, ...
    uint32_t leaf7_ebx;         ///< CPUID(7, 0).EBX: AVX2, BMI1, BMI2, AVX-512 F/DQ/CD/BW/VL.
    uint32_t leaf7_ecx;         ///< CPUID(7, 0).ECX.
    uint32_t extended1_ecx;     ///< CPUID(0x80000001).ECX: LAHF/SAHF, LZCNT.
    uint64_t xcr0;              ///< The register states the OS saves (XGETBV(0)).
} rnn_cpuid_words;

rnn_cpuid_words rnn_read_cpuid(void);

/// Floating-point control state, saved and restored around training so that
/// flushing denormals never leaks into the host program.
typedef struct { uint64_t bits; } rnn_fp_state;

/// Turns on flush-to-zero and denormals-are-zero (MXCSR on x86-64, FPCR.FZ on
/// arm64) and returns the previous state.
rnn_fp_state rnn_enable_flush_denormals(void);
void rnn_restore_fp_state(rnn_fp_state state);

/// Runs `body(context, i)` for i in 0..<iterations on Dispatch's worker
/// threads and returns when all are done: `DispatchQueue.concurrentPerform`'s
/// own primitive (dispatch_apply), reached through its C entry point because
/// the Swift overlay wraps every call in a heap-allocated block, and a
/// training step must not allocate.
void rnn_concurrent_perform(size_t iterations, void *context, void (*body)(void *context, size_t iteration));

/// The few atomic operations `WorkerTeam` synchronises with (C11 memory
/// orders on a plain 64-bit word, which Swift cannot express for macOS 13).
/// Inline, so that a spin loop costs no call.
static inline uint64_t rnn_atomic_load_acquire(const uint64_t *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}
static inline void rnn_atomic_store_release(uint64_t *word, uint64_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}
/// Replaces `expected` with `desired` if the word still holds it; returns 1 on success.
static inline int rnn_atomic_compare_exchange(uint64_t *word, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
/// Adds `value` to the word; returns what it held before.
static inline uint64_t rnn_atomic_add_release(uint64_t *word, uint64_t value) {
    return __atomic_fetch_add(word, value, __ATOMIC_RELEASE);
}

/// Asks the kernel to back `[address, address + bytes)` with transparent huge
/// pages where it can; a hint, without effect where they are unavailable.
void rnn_advise_huge_pages(void *address, size_t bytes);

/// Asks for the cache line holding `address` ahead of a read-modify-write:
/// the GEMM fetches the C tile it will load next while the current one runs.
static inline void rnn_prefetch_for_update(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/// One spin-wait iteration: the CPU's pause hint (x86 `pause`, arm64 `yield`).
static inline void rnn_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/// Gives the core to another runnable thread (sched_yield), for spin loops
/// that wait long enough to matter to an oversubscribed machine.
void rnn_yield_thread(void);

#endif
