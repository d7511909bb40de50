#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H

#include <stdint.h>

/// Counts heap allocations made by every thread of the test process while
/// counting is on. The counter replaces malloc and friends for the whole test
/// executable and forwards them to glibc's implementations.
void allocation_counter_start(void);
/// Stops counting and returns the number of allocations since the start.
uint64_t allocation_counter_stop(void);

#endif
