// Monotonic clock behind a narrow interface, so the simulator can substitute virtual time.
// Process-wide and thread-safe; no allocation.
// SPDX-License-Identifier: MIT
#ifndef JANUS_CLOCK_H
#define JANUS_CLOCK_H

#include <stdint.h>

int64_t clock_now_ns(void);  // CLOCK_MONOTONIC, nanoseconds
double clock_now_s(void);    // same, seconds
int64_t clock_wall_ms(void); // CLOCK_REALTIME, milliseconds since the epoch (for logs/APIs)
void clock_sleep_ns(int64_t ns);

#endif // JANUS_CLOCK_H
