// Report writers of the simulator (SPEC §8): a small SVG line-plot writer of our own
// (axes, ticks, legend, one polyline per series; linear or log2 x axis) and a helper that
// writes a text buffer to a file. Output is a pure function of the input (fixed number
// formatting), so same inputs give byte-identical files. No I/O: callers write the text with
// file_write_all (base/file.h). SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_REPORT_H
#define JANUS_SIM_REPORT_H

#include "base/base.h"
#include "base/buf.h"

struct report_series {
    const char *name;
    const double *x; // (n)
    const double *y; // (n); non-finite values break the line
    int n;
    int dashed;
};

struct report_plot {
    const char *title;
    const char *xlabel, *ylabel;
    int logx;            // log2 x axis (x > 0)
    double ymin, ymax;   // both 0: automatic (from 0 to the max, rounded up)
    const double *hline; // optional horizontal reference line (e.g. the SLO), NULL: none
    const char *hline_label;
    const struct report_series *series;
    int n_series;
};

// Appends an SVG document to out. JANUS_OK, JANUS_EINVAL (no data), JANUS_ELIMIT (buffer).
JANUS_WUR int report_svg(struct buf *out, const struct report_plot *p);

#endif // JANUS_SIM_REPORT_H
