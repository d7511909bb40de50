#define _GNU_SOURCE /* dladdr */
#include "AllocationCounter.h"

#include <stdatomic.h>
#include <stddef.h>

/* Under a sanitizer the runtime owns malloc: a replacement would bypass it,
   and it calls malloc while starting, before instrumented code may run. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ALLOCATION_COUNTER_UNDER_SANITIZER 1
#endif
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(ALLOCATION_COUNTER_UNDER_SANITIZER)

#include <dlfcn.h>
#include <execinfo.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static atomic_int counting;
static atomic_uint_fast64_t allocations;
static atomic_size_t largest;

/* The call stacks of the first few allocations counted, to find their callers. */
enum { recordCount = 8, recordDepth = 32 };
static void *records[recordCount][recordDepth];
static int recordDepths[recordCount];
static _Thread_local int recordingHere;

/* The code that called the allocator, for each allocation counted (up to a bound). */
enum { callerCapacity = 4096 };
static void *callers[callerCapacity];

static inline void count(size_t size, void *caller) {
    if (!atomic_load_explicit(&counting, memory_order_relaxed)) return;
    uint_fast64_t index = atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    if (index < callerCapacity) callers[index] = caller;
    size_t seen = atomic_load_explicit(&largest, memory_order_relaxed);
    while (size > seen && !atomic_compare_exchange_weak(&largest, &seen, size)) {}
    /* backtrace may allocate itself: not from inside its own call. */
    if (index < recordCount && !recordingHere) {
        recordingHere = 1;
        recordDepths[index] = backtrace(records[index], recordDepth);
        recordingHere = 0;
    }
}

void *malloc(size_t size) { count(size, __builtin_return_address(0)); return __libc_malloc(size); }
void *calloc(size_t count_, size_t size) { count(count_ * size, __builtin_return_address(0)); return __libc_calloc(count_, size); }
void *realloc(void *pointer, size_t size) { count(size, __builtin_return_address(0)); return __libc_realloc(pointer, size); }
void free(void *pointer) { __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { count(size, __builtin_return_address(0)); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(size, __builtin_return_address(0)); return __libc_memalign(alignment, size); }
int posix_memalign(void **result, size_t alignment, size_t size) {
    count(size, __builtin_return_address(0));
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer) return 12; /* ENOMEM */
    *result = pointer;
    return 0;
}

void allocation_counter_start(void) {
    /* The first backtrace loads the unwinder, which allocates: do it now. */
    void *warm[2];
    backtrace(warm, 2);
    for (int index = 0; index < recordCount; index++) recordDepths[index] = 0;
    atomic_store(&allocations, 0);
    atomic_store(&largest, 0);
    atomic_store(&counting, 1);
}

uint64_t allocation_counter_stop(void) {
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}

size_t allocation_counter_largest(void) { return atomic_load(&largest); }

uint64_t allocation_counter_made_outside(const char *library) {
    uint_fast64_t counted = atomic_load(&allocations), outside = 0;
    for (uint_fast64_t index = 0; index < counted; index++) {
        Dl_info info;
        if (index >= callerCapacity || !dladdr(callers[index], &info) || !info.dli_fname
            || !strstr(info.dli_fname, library)) outside++;
    }
    return outside;
}

void allocation_counter_print_callers(void) {
    uint_fast64_t counted = atomic_load(&allocations);
    for (uint_fast64_t index = 0; index < counted && index < recordCount; index++) {
        if (recordDepths[index] == 0) continue;
        static const char header[] = "--- a counted allocation, called from:\n";
        (void)!write(2, header, sizeof header - 1);
        backtrace_symbols_fd(records[index], recordDepths[index], 2);
    }
}

#else

void allocation_counter_start(void) {}
uint64_t allocation_counter_stop(void) { return UINT64_MAX; }
size_t allocation_counter_largest(void) { return 0; }
uint64_t allocation_counter_made_outside(const char *library) { (void)library; return UINT64_MAX; }
void allocation_counter_print_callers(void) {}

#endif
