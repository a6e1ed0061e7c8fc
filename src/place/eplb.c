// The EPLB baseline (place.h, SPEC §6): a C reproduction of DeepSeek's expert-parallelism
// load balancer (github.com/deepseek-ai/EPLB, eplb.py: balanced_packing, replicate_experts,
// rebalance_experts_hierarchical, rebalance_experts) for one layer. Arithmetic in float32
// as the reference (weight.float()); argmax takes the first maximum; the descending sort is
// stable (ties keep ascending index); the lightest pack with room wins, first on ties.
// Reproduces the published behaviour, including two replicas of one expert on one GPU.
// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "place/place.h"

// Stable descending order of w[0..n) into idx (insertion sort: n is at most a few
// thousand and this runs at planning time).
static void sort_desc(const float *w, int32_t n, int32_t *idx) {
    for (int32_t i = 0; i < n; i++) {
        int32_t v = idx[i] = i, j = i;
        while (j > 0 && w[idx[j - 1]] < w[v]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

// balanced_packing: n items into m packs of n/m items each. pack/rank: out (n).
// scratch: idx (n), pw (m), pn (m).
static void balanced_packing(const float *w, int32_t n, int32_t m, int32_t *pack, int32_t *rank,
                             int32_t *idx, float *pw, int32_t *pn) {
    int32_t per = n / m;
    if (per == 1) {
        for (int32_t i = 0; i < n; i++) {
            pack[i] = i;
            rank[i] = 0;
        }
        return;
    }
    sort_desc(w, n, idx);
    for (int32_t p = 0; p < m; p++) {
        pw[p] = 0.0f;
        pn[p] = 0;
    }
    for (int32_t t = 0; t < n; t++) {
        int32_t it = idx[t], best = -1;
        for (int32_t p = 0; p < m; p++)
            if (pn[p] < per && (best < 0 || pw[p] < pw[best])) best = p;
        pack[it] = best;
        rank[it] = pn[best];
        pw[best] += w[it];
        pn[best]++;
    }
}

// replicate_experts: num_log logical -> num_phy physical. phy2log, rank: (num_phy);
// cnt: (num_log).
static void replicate_experts(const float *w, int32_t num_log, int32_t num_phy, int32_t *phy2log,
                              int32_t *rank, int32_t *cnt) {
    for (int32_t i = 0; i < num_log; i++) {
        phy2log[i] = i;
        rank[i] = 0;
        cnt[i] = 1;
    }
    for (int32_t i = num_log; i < num_phy; i++) {
        int32_t best = 0;
        float best_v = w[0] / (float)cnt[0];
        for (int32_t e = 1; e < num_log; e++) {
            float v = w[e] / (float)cnt[e];
            if (v > best_v) {
                best_v = v;
                best = e;
            }
        }
        phy2log[i] = best;
        rank[i] = cnt[best];
        cnt[best]++;
    }
}

int eplb_rebalance(const float *weight, int32_t n_experts, const struct eplb_params *p,
                   int32_t *phy2log, int32_t *phyrank, int32_t *logcnt, char *err, size_t err_len) {
    int32_t E = n_experts, P = p->n_phys, M = p->n_gpus, G = p->n_groups, N = p->n_nodes;
    if (E < 1 || E > LIMIT_MAX_EXPERTS || M < 1 || P < E || P > LIMIT_MAX_EXPERTS * 64)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "eplb: need 1 <= experts <= physical slots and gpus >= 1");
    for (int32_t e = 0; e < E; e++)
        if (!(weight[e] >= 0) || !isfinite(weight[e]))
            return status_errf(err, err_len, JANUS_EINVAL,
                               "eplb: weight of expert %d is not a finite number >= 0", e);
    int hier;
    switch (p->policy) {
    case EPLB_POLICY_AUTO: hier = G >= 1 && N >= 1 && G % N == 0; break;
    case EPLB_POLICY_HIERARCHICAL: hier = 1; break;
    case EPLB_POLICY_GLOBAL: hier = 0; break;
    default: return status_errf(err, err_len, JANUS_EINVAL, "eplb: unknown policy");
    }
    if (!hier) {
        G = 1;
        N = 1;
    }
    if (G < 1 || N < 1 || E % G || G % N || M % N || P % M)
        return status_errf(
            err, err_len, JANUS_EINVAL,
            "eplb: need experts %% groups == 0, groups %% nodes == 0, gpus %% nodes == "
            "0 and slots %% gpus == 0 (E=%d groups=%d nodes=%d gpus=%d slots=%d)",
            E, G, N, M, P);
    int32_t gsize = E / G, gpn = G / N, per_gpu = P / M, lpn = E / N, ppn = P / N;
    size_t big = (size_t)(P > E ? P : E) + (size_t)G + 8;
    int32_t *ibuf = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * big * 16);
    float *fbuf = mem_alloc(MEM_TAG_SCHED, sizeof(float) * big * 4);
    if (!ibuf || !fbuf) {
        mem_free(ibuf);
        mem_free(fbuf);
        return JANUS_ENOMEM;
    }
    int32_t *gpack = ibuf, *grank = gpack + big, *log2mlog = grank + big,
            *mlog2log = log2mlog + big, *phy2mlog = mlog2log + big, *prank = phy2mlog + big,
            *mcnt = prank + big, *pack = mcnt + big, *rank = pack + big, *pphy2phy = rank + big,
            *idx = pphy2phy + big, *pn = idx + big, *out_p2l = pn + big, *out_rank = out_p2l + big;
    float *gw = fbuf, *mw = gw + big, *phw = mw + big, *pw = phw + big;

    // Step 1: pack groups to nodes.
    for (int32_t g = 0; g < G; g++) {
        float s = 0.0f;
        for (int32_t i = 0; i < gsize; i++)
            s += weight[g * gsize + i];
        gw[g] = s;
    }
    balanced_packing(gw, G, N, gpack, grank, idx, pw, pn);
    for (int32_t g = 0; g < G; g++)
        for (int32_t i = 0; i < gsize; i++)
            log2mlog[g * gsize + i] = (gpack[g] * gpn + grank[g]) * gsize + i;
    for (int32_t e = 0; e < E; e++)
        mlog2log[log2mlog[e]] = e;

    // Steps 2 and 3, per node: replicate within the node, then pack to its GPUs.
    for (int32_t nd = 0; nd < N; nd++) {
        for (int32_t m = 0; m < lpn; m++)
            mw[m] = weight[mlog2log[nd * lpn + m]];
        int32_t *p2m = phy2mlog + nd * ppn, *pr = prank + nd * ppn, *mc = mcnt + nd * lpn;
        replicate_experts(mw, lpn, ppn, p2m, pr, mc);
        for (int32_t q = 0; q < ppn; q++)
            phw[q] = mw[p2m[q]] / (float)mc[p2m[q]];
        balanced_packing(phw, ppn, M / N, pack, rank, idx, pw, pn);
        for (int32_t q = 0; q < ppn; q++)
            pphy2phy[pack[q] * per_gpu + rank[q]] = q;
        for (int32_t q = 0; q < ppn; q++) {
            int32_t src = pphy2phy[q];
            out_p2l[nd * ppn + q] = mlog2log[p2m[src] + nd * lpn];
            out_rank[nd * ppn + q] = pr[src];
        }
    }
    memcpy(phy2log, out_p2l, sizeof(int32_t) * (size_t)P);
    if (phyrank) memcpy(phyrank, out_rank, sizeof(int32_t) * (size_t)P);
    if (logcnt)
        for (int32_t e = 0; e < E; e++)
            logcnt[e] = mcnt[log2mlog[e]];
    mem_free(ibuf);
    mem_free(fbuf);
    return JANUS_OK;
}

int32_t eplb_count_duplicates(const int32_t *phy2log, int32_t n_phys, int32_t n_gpus) {
    int32_t per = n_phys / n_gpus, dup = 0;
    for (int32_t g = 0; g < n_gpus; g++)
        for (int32_t s = 0; s < per; s++)
            for (int32_t s2 = 0; s2 < s; s2++)
                if (phy2log[g * per + s2] == phy2log[g * per + s]) {
                    dup++;
                    break;
                }
    return dup;
}
