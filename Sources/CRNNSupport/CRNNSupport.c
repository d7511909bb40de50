#include "CRNNSupport.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

/* From <dispatch/dispatch.h>; a NULL queue is DISPATCH_APPLY_AUTO. */
extern void dispatch_apply_f(size_t iterations, void *queue, void *context, void (*work)(void *, size_t));

void rnn_concurrent_perform(size_t iterations, void *context, void (*body)(void *context, size_t iteration)) {
    dispatch_apply_f(iterations, NULL, context, body);
}

void rnn_yield_thread(void) { sched_yield(); }

void rnn_advise_huge_pages(void *address, size_t bytes) {
#if defined(MADV_HUGEPAGE)
    /* madvise takes whole pages; only 2 MiB-aligned extents inside the range become huge pages. */
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), huge = 2u << 20;
    uintptr_t first = ((uintptr_t)address + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)address + bytes) & ~(page - 1);
    if (end >= first + huge) madvise((void *)first, end - first, MADV_HUGEPAGE);
#else
    (void)address;
    (void)bytes;
#endif
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <xmmintrin.h>

static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

rnn_cpu_features rnn_detect_cpu_features(void) {
    rnn_cpu_features features = {0, 0, 0};
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return features;
    int has_fma = (ecx >> 12) & 1;
    int has_osxsave = (ecx >> 27) & 1;
    int has_avx = (ecx >> 28) & 1;
    if (!(has_osxsave && has_avx)) return features;
    uint64_t xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;
    int os_zmm = (xcr0 & 0xE6) == 0xE6;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return features;
    int has_avx2 = (ebx >> 5) & 1;
    int has_avx512f = (ebx >> 16) & 1;
    features.has_avx2_fma = has_avx2 && has_fma && os_ymm;
    features.has_avx512f = features.has_avx2_fma && has_avx512f && os_zmm;
    return features;
}

enum { ftz_daz_bits = 0x8040 };  /* FTZ (bit 15) | DAZ (bit 6) */

rnn_fp_state rnn_enable_flush_denormals(void) {
    rnn_fp_state previous = { _mm_getcsr() };
    _mm_setcsr((unsigned int)previous.bits | ftz_daz_bits);
    return previous;
}

void rnn_restore_fp_state(rnn_fp_state state) { _mm_setcsr((unsigned int)state.bits); }

int rnn_flush_denormals_enabled(void) { return (_mm_getcsr() & ftz_daz_bits) == ftz_daz_bits; }

#elif defined(__aarch64__)

rnn_cpu_features rnn_detect_cpu_features(void) {
    rnn_cpu_features features = {0, 0, 1};
    return features;
}

static uint64_t read_fpcr(void) { uint64_t v; __asm__ volatile("mrs %0, fpcr" : "=r"(v)); return v; }
static void write_fpcr(uint64_t v) { __asm__ volatile("msr fpcr, %0" : : "r"(v)); }
enum { fpcr_fz = 1 << 24 };

rnn_fp_state rnn_enable_flush_denormals(void) {
    rnn_fp_state previous = { read_fpcr() };
    write_fpcr(previous.bits | fpcr_fz);
    return previous;
}

void rnn_restore_fp_state(rnn_fp_state state) { write_fpcr(state.bits); }

int rnn_flush_denormals_enabled(void) { return (read_fpcr() & fpcr_fz) != 0; }

#else

rnn_cpu_features rnn_detect_cpu_features(void) { rnn_cpu_features f = {0, 0, 0}; return f; }
rnn_fp_state rnn_enable_flush_denormals(void) { rnn_fp_state s = {0}; return s; }
void rnn_restore_fp_state(rnn_fp_state state) { (void)state; }
int rnn_flush_denormals_enabled(void) { return 0; }

#endif
