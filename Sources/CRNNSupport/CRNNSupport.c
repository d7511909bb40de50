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

rnn_cpuid_words rnn_read_cpuid(void) {
    rnn_cpuid_words words = {0};
    unsigned int eax, ebx, ecx, edx;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        words.leaf1_ecx = ecx;
        words.leaf1_edx = edx;
        /* XGETBV faults unless the OS has enabled it (OSXSAVE, bit 27). */
        if ((ecx >> 27) & 1) words.xcr0 = read_xcr0();
    }
    if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        words.leaf7_ebx = ebx;
        words.leaf7_ecx = ecx;
    }
    if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx)) words.extended1_ecx = ecx;
    return words;
}

enum { ftz_daz_bits = 0x8040 };  /* FTZ (bit 15) | DAZ (bit 6) */

rnn_fp_state rnn_enable_flush_denormals(void) {
    rnn_fp_state previous = { _mm_getcsr() };
    _mm_setcsr((unsigned int)previous.bits | ftz_daz_bits);
    return previous;
}

void rnn_restore_fp_state(rnn_fp_state state) { _mm_setcsr((unsigned int)state.bits); }

#elif defined(__aarch64__)

rnn_cpuid_words rnn_read_cpuid(void) {
    rnn_cpuid_words words = {0};
    return words;
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

#else

rnn_cpuid_words rnn_read_cpuid(void) { rnn_cpuid_words words = {0}; return words; }
rnn_fp_state rnn_enable_flush_denormals(void) { rnn_fp_state s = {0}; return s; }
void rnn_restore_fp_state(rnn_fp_state state) { (void)state; }

#endif
