// SVG line plots and file writing (report.h).
// SVG output is built in a bounded buf; file writes report JANUS_EIO.
// SPDX-License-Identifier: MIT
#include "sim/report.h"

#include "base/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W  760.0
#define H  460.0
#define ML 78.0 // margins: left, right, top, bottom
#define MR 190.0
#define MT 40.0
#define MB 58.0

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

static void esc(struct buf *o, const char *s, int *rc) {
    for (; s && *s && !*rc; s++) {
        const char *r = NULL;
        if (*s == '<')
            r = "&lt;";
        else if (*s == '>')
            r = "&gt;";
        else if (*s == '&')
            r = "&amp;";
        else if (*s == '"')
            r = "&quot;";
        *rc = r ? buf_appendf(o, "%s", r) : buf_append(o, s, 1);
    }
}

// A "nice" step (1, 2, 5 x 10^k) giving about n intervals over span.
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    double m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return m * p;
}

#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (!rc) rc = buf_appendf(o, __VA_ARGS__);                                                 \
    } while (0)

int report_svg(struct buf *o, const struct report_plot *p) {
    int rc = 0;
    double xmin = INFINITY, xmax = -INFINITY, ymax = -INFINITY, ymin = INFINITY;
    for (int s = 0; s < p->n_series; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y) || (p->logx && x <= 0)) continue;
            double xv = p->logx ? log2(x) : x;
            if (xv < xmin) xmin = xv;
            if (xv > xmax) xmax = xv;
            if (y > ymax) ymax = y;
            if (y < ymin) ymin = y;
        }
    if (!isfinite(xmin)) return JANUS_EINVAL;
    if (p->hline && isfinite(*p->hline) && *p->hline > ymax) ymax = *p->hline;
    if (xmax == xmin) xmax = xmin + 1;
    double y0 = ymin < 0 ? ymin : 0, y1 = ymax > 0 ? ymax : 1;
    if (p->ymin != 0 || p->ymax != 0) {
        y0 = p->ymin;
        y1 = p->ymax;
    }
    double ystep = nice_step(y1 - y0, 6);
    y1 = ceil(y1 / ystep - 1e-9) * ystep;
    if (y1 <= y0) y1 = y0 + ystep;
    double pw = W - ML - MR, ph = H - MT - MB;
#define PX(xv) (ML + ((xv)-xmin) / (xmax - xmin) * pw)
#define PY(yv) (MT + ph - ((yv)-y0) / (y1 - y0) * ph)
    OUT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
        "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
        W, H, W, H);
    OUT("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    OUT("<text x=\"%.1f\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">", (ML + W - MR) / 2);
    esc(o, p->title, &rc);
    OUT("</text>\n");
    // Grid and y ticks.
    for (double y = y0; y <= y1 + ystep * 1e-6; y += ystep) {
        OUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML, PY(y),
            ML + pw, PY(y));
        OUT("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ML - 6, PY(y) + 4,
            fabs(y) < ystep * 1e-6 ? 0.0 : y);
    }
    // x ticks: powers of two on a log axis, nice steps otherwise.
    if (p->logx) {
        for (double e = ceil(xmin); e <= xmax + 1e-9; e += (xmax - xmin > 12 ? 2 : 1)) {
            OUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PX(e),
                MT, PX(e), MT + ph);
            OUT("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(e),
                MT + ph + 16, pow(2, e));
        }
    } else {
        double xs = nice_step(xmax - xmin, 8);
        for (double x = ceil(xmin / xs) * xs; x <= xmax + xs * 1e-6; x += xs) {
            OUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PX(x),
                MT, PX(x), MT + ph);
            OUT("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(x),
                MT + ph + 16, fabs(x) < xs * 1e-6 ? 0.0 : x);
        }
    }
    OUT("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
        "stroke=\"black\"/>\n",
        ML, MT, pw, ph);
    OUT("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ML + pw / 2, H - 16);
    esc(o, p->xlabel, &rc);
    OUT("</text>\n<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">",
        MT + ph / 2);
    esc(o, p->ylabel, &rc);
    OUT("</text>\n");
    if (p->hline && isfinite(*p->hline) && *p->hline >= y0 && *p->hline <= y1) {
        OUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
            "stroke-dasharray=\"2,3\"/>\n",
            ML, PY(*p->hline), ML + pw, PY(*p->hline));
        OUT("<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", ML + 4, PY(*p->hline) - 4);
        esc(o, p->hline_label, &rc);
        OUT("</text>\n");
    }
    for (int s = 0; s < p->n_series; s++) {
        const struct report_series *se = &p->series[s];
        const char *col = palette[s % (int)(sizeof palette / sizeof palette[0])];
        int open = 0;
        for (int i = 0; i < se->n; i++) {
            double x = se->x[i], y = se->y[i];
            int ok = isfinite(x) && isfinite(y) && (!p->logx || x > 0) && y >= y0 && y <= y1;
            if (!ok) {
                if (open) OUT("\"/>\n");
                open = 0;
                continue;
            }
            double xv = p->logx ? log2(x) : x;
            if (!open) {
                OUT("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                    se->dashed ? " stroke-dasharray=\"6,4\"" : "");
                open = 1;
            }
            OUT("%.1f,%.1f ", PX(xv), PY(y));
        }
        if (open) OUT("\"/>\n");
        double ly = MT + 14 + s * 18;
        OUT("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2\"%s/>\n",
            W - MR + 12, ly, W - MR + 36, ly, col, se->dashed ? " stroke-dasharray=\"6,4\"" : "");
        OUT("<text x=\"%.1f\" y=\"%.1f\">", W - MR + 42, ly + 4);
        esc(o, se->name, &rc);
        OUT("</text>\n");
    }
    OUT("</svg>\n");
#undef PX
#undef PY
    return rc;
}
