#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H

#include <stddef.h>
#include <stdint.h>

/// Counts heap allocations made by every thread of the test process while
/// counting is on. The counter replaces malloc and friends for the whole test
/// executable and forwards them to glibc's implementations.
void allocation_counter_start(void);
/// Stops counting and returns the number of allocations since the start.
uint64_t allocation_counter_stop(void);
/// The largest single allocation, in bytes, between the last start and stop.
size_t allocation_counter_largest(void);
/// Of the allocations counted between the last start and stop, those whose
/// immediate caller is not code of the shared library whose path contains
/// `library` (for example "libdispatch").
uint64_t allocation_counter_made_outside(const char *library);
/// Writes the call stacks of the first few allocations counted between the
/// last start and stop to stderr (raw addresses and symbols), to find who
/// made them.
void allocation_counter_print_callers(void);

#endif
