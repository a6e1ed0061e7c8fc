// PLACEHOLDER until the kernels helper's AVX2/FMA table lands (branch `kernels`): returns
// NULL, so kern_best() falls back to the scalar reference. On merge, take the kernels
// helper's avx2.c entirely; this file has no other content.
// SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#include <stddef.h>

const struct kern_ops *kern_avx2(void) { return NULL; }
