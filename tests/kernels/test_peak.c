// Arithmetic peaks (kernels/peak.h): every kind at every kernel level this CPU runs returns a
// positive rate and names the instruction of that level (no timing is asserted).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"

#include <string.h>

TEST(peak_levels_and_names) {
    const char *want_f32[] = {"scalar-fma", "avx2-fma", "avx512-fma"};
    for (int level = 0; level <= kern_level(kern_best()); level++) {
        struct peak_result f, i;
        ASSERT_EQ(peak_measure(NULL, PEAK_F32_FMA, level, 0.01, &f), JANUS_OK);
        ASSERT_EQ(peak_measure(NULL, PEAK_INT8_DOT, level, 0.01, &i), JANUS_OK);
        ASSERT(f.macs_per_s > 0 && i.macs_per_s > 0);
        ASSERT(strcmp(f.isa, want_f32[level]) == 0);
        if (level == 0) ASSERT(strcmp(i.isa, "scalar-int") == 0);
        if (level >= 1) ASSERT(strstr(i.isa, level == 2 ? "" : "avx") == i.isa);
        printf("level %d: %s %.1f GMAC/s, %s %.1f GMAC/s\n", level, f.isa, f.macs_per_s / 1e9,
               i.isa, i.macs_per_s / 1e9);
    }
}

TEST(peak_rejects_bad_arguments) {
    struct peak_result r;
    ASSERT_EQ(peak_measure(NULL, PEAK_F32_FMA, 0, 0, &r), JANUS_EINVAL);
    ASSERT_EQ(peak_measure(NULL, PEAK_F32_FMA, 0, 0.01, NULL), JANUS_EINVAL);
}
