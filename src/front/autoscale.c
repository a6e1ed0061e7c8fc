// The autoscaler (autoscale.h): the hysteresis decision, the calibrated planner query, and
// the thread that measures the load at the front every interval and rescales the deployment.
// SPDX-License-Identifier: MIT
#include "front/autoscale.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// ---- the decision

void autoscale_clamp(const struct autoscale_bounds *b, int *a, int *m) {
    *a = JANUS_MAX(b->min_attn, JANUS_MIN(b->max_attn, *a));
    *m = JANUS_MAX(b->min_moe, JANUS_MIN(b->max_moe, *m));
}

void autoscale_acted(struct autoscale_state *st, double t_s) {
    st->last_change_s = t_s;
    st->changed = 1;
    st->cand_attn = st->cand_moe = st->streak = 0;
}

void autoscale_decide(struct autoscale_state *st, const struct autoscale_policy *pol,
                      const struct autoscale_bounds *b, const struct autoscale_input *in,
                      struct autoscale_decision *d) {
    memset(d, 0, sizeof *d);
    d->action = AUTOSCALE_HOLD;
    int persist = pol->persist > 0 ? pol->persist : 1;
    if (in->cur_attn <= 0 || in->cur_moe <= 0) { // (no READY yet: nothing measured either)
        snprintf(d->reason, sizeof d->reason, "hold: the deployment is not ready");
        return;
    }
    if (in->rec_attn <= 0 || in->rec_moe <= 0) {
        st->cand_attn = st->cand_moe = st->streak = 0;
        snprintf(d->reason, sizeof d->reason, "hold: no recommendation");
        return;
    }
    int a = in->rec_attn, m = in->rec_moe;
    autoscale_clamp(b, &a, &m);
    d->to_attn = a;
    d->to_moe = m;
    if (a == in->cur_attn && m == in->cur_moe) {
        st->cand_attn = st->cand_moe = st->streak = 0;
        snprintf(d->reason, sizeof d->reason, "hold: the planner recommends the running (%d,%d)", a,
                 m);
        return;
    }
    if (a == st->cand_attn && m == st->cand_moe)
        st->streak++;
    else
        st->cand_attn = a, st->cand_moe = m, st->streak = 1;
    if (st->streak < persist) {
        snprintf(d->reason, sizeof d->reason, "hold: (%d,%d) recommended %d of %d times in a row",
                 a, m, st->streak, persist);
        return;
    }
    if (in->busy) {
        snprintf(d->reason, sizeof d->reason,
                 "hold: (%d,%d) recommended, but a rescale or a recovery is under way", a, m);
        return;
    }
    double since = in->t_s - st->last_change_s;
    if (st->changed && since < pol->dwell_s) {
        snprintf(d->reason, sizeof d->reason,
                 "hold: (%d,%d) recommended, but the last rescale was %.1f s ago (dwell %.1f s)", a,
                 m, since, pol->dwell_s);
        return;
    }
    d->action = AUTOSCALE_RESCALE;
    snprintf(d->reason, sizeof d->reason,
             "rescale (%d,%d) -> (%d,%d): recommended %d times in a row", in->cur_attn, in->cur_moe,
             a, m, st->streak);
}

// ---- the planner query

int autoscale_recommend(const struct planner *pl, double slo_s, const struct autoscale_bounds *b,
                        const struct autoscale_measure *m, struct autoscale_rec *out, char *err,
                        size_t err_len) {
    memset(out, 0, sizeof *out);
    out->calib = 1;
    if (!(slo_s > 0)) return status_errf(err, err_len, JANUS_EINVAL, "the TPOT SLO must be > 0");
    struct search_params p = {.slo_s = slo_s,
                              .rate = m->tok_rate > 1e-3 ? m->tok_rate : 1e-3,
                              .context = m->context > 1 ? m->context : 256,
                              .max_gpus = b->max_attn + b->max_moe};
    const struct baselines_system *sys = &pl->sys[BASELINES_JANUS];
    const struct amax_table *tab = &pl->tab[BASELINES_JANUS];
    if (!pl->built[BASELINES_JANUS] || tab->n_cfg == 0)
        return status_errf(err, err_len, JANUS_EINVAL, "the planner has no table for Janus");
    // Calibration: what the planner predicts for the running shape at this rate against what
    // is measured (bounded: a wild measurement must not push the SLO to nothing).
    if (m->tpot_s > 0 && m->cur_attn > 0 && m->cur_moe > 0) {
        struct search_point cur;
        if (search_eval(&pl->lm, &sys->lat, &sys->space, tab, &p, m->cur_attn, m->cur_moe, &cur) ==
                JANUS_OK &&
            cur.tpot > 0 && isfinite(cur.tpot))
            out->calib = JANUS_MAX(1e-2, JANUS_MIN(1e4, m->tpot_s / cur.tpot));
    }
    p.slo_s = slo_s / out->calib;
    struct search_point pt;
    int rc = search_plan(&pl->lm, &sys->lat, &sys->space, tab, &p, &pt);
    if (rc) return status_errf(err, err_len, rc, "the planner's search failed");
    out->feasible = pt.feasible;
    out->n_attn = pt.n_attn > 0 ? pt.n_attn : m->cur_attn;
    out->n_moe = pt.n_moe > 0 ? pt.n_moe : m->cur_moe;
    autoscale_clamp(b, &out->n_attn, &out->n_moe);
    out->tpot_pred_s = pt.tpot > 0 && isfinite(pt.tpot) ? pt.tpot * out->calib : 0;
    return JANUS_OK;
}

// ---- the thread

struct window { // front counters at the start of a window
    uint64_t submitted, tokens, tpot_n, finished, prompt, gen;
    double tpot_sum;
    int64_t t_ns;
};

static void sample(struct front *f, struct window *w, int *cur_attn, int *cur_moe, int *busy) {
    pthread_mutex_lock(&f->mu);
    w->submitted = f->next_id;
    w->tokens = f->m.tokens_out;
    w->tpot_n = f->m.tpot.n;
    w->tpot_sum = f->m.tpot.sum;
    w->finished = f->m.ttft.n;
    w->prompt = f->m.prompt_tokens;
    w->gen = f->m.gen_tokens;
    w->t_ns = clock_now_ns();
    *cur_attn = (int)f->ready.n_attn;
    *cur_moe = (int)f->ready.n_moe;
    *busy = f->rescaling || f->recovering || f->job != FRONT_JOB_READY;
    pthread_mutex_unlock(&f->mu);
}

static void *autoscale_main(void *arg) {
    struct autoscaler *as = arg;
    struct front *f = as->f;
    struct window w0, w1;
    int ca, cm, busy;
    sample(f, &w0, &ca, &cm, &busy);
    char last_logged[192] = "";
    while (!as->stop && !f->stopping) {
        int64_t until = clock_now_ns() + (int64_t)(as->p.interval_s * 1e9);
        while (!as->stop && !f->stopping && clock_now_ns() < until)
            clock_sleep_ns(50 * 1000000);
        if (as->stop || f->stopping) break;
        sample(f, &w1, &ca, &cm, &busy);
        double dt = (double)(w1.t_ns - w0.t_ns) * 1e-9;
        struct autoscale_measure m = {.cur_attn = ca, .cur_moe = cm};
        if (dt > 0) {
            m.req_rate = (double)(w1.submitted - w0.submitted) / dt;
            m.tok_rate = (double)(w1.tokens - w0.tokens) / dt;
        }
        if (w1.tpot_n > w0.tpot_n)
            m.tpot_s = (w1.tpot_sum - w0.tpot_sum) / (double)(w1.tpot_n - w0.tpot_n);
        else { // nothing finished in the window: the median gap between tokens, if known
            pthread_mutex_lock(&f->mu);
            double med = 0;
            (void)front_watchdog_limit(f, &med);
            pthread_mutex_unlock(&f->mu);
            if (m.tok_rate > 0) m.tpot_s = med;
        }
        if (w1.finished > w0.finished)
            m.context = ((double)(w1.prompt - w0.prompt) + 0.5 * (double)(w1.gen - w0.gen)) /
                        (double)(w1.finished - w0.finished);
        w0 = w1;
        struct autoscale_rec rec;
        char err[JANUS_ERR_LEN] = "";
        int rc = autoscale_recommend(as->p.planner, as->p.slo_tpot_s, &as->p.bounds, &m, &rec, err,
                                     sizeof err);
        double t_s = (double)clock_now_ns() * 1e-9;
        struct autoscale_input in = {.t_s = t_s,
                                     .cur_attn = ca,
                                     .cur_moe = cm,
                                     .rec_attn = rc ? 0 : rec.n_attn,
                                     .rec_moe = rc ? 0 : rec.n_moe,
                                     .busy = busy};
        struct autoscale_decision d;
        pthread_mutex_lock(&as->mu);
        autoscale_decide(&as->st, &as->p.policy, &as->p.bounds, &in, &d);
        as->evaluations++;
        as->last_m = m;
        as->last_rec = rec;
        as->last = d;
        pthread_mutex_unlock(&as->mu);
        // One line per decision that differs from the previous one (a steady hold is not
        // repeated every interval), with its inputs.
        if (d.action == AUTOSCALE_RESCALE || strcmp(d.reason, last_logged) != 0) {
            LOG_WARN("front: autoscale: %s [running (%d,%d); %.2f req/s, %.1f tok/s, TPOT %.1f ms "
                     "(SLO %.1f ms), context %.0f; planner (%d,%d)%s, calibration x%.2f%s%s]",
                     d.reason, ca, cm, m.req_rate, m.tok_rate, m.tpot_s * 1e3,
                     as->p.slo_tpot_s * 1e3, m.context, rec.n_attn, rec.n_moe,
                     rec.feasible ? "" : " (infeasible: the largest capacity)", rec.calib,
                     rc ? "; planner error: " : "", rc ? err : "");
            snprintf(last_logged, sizeof last_logged, "%s", d.reason);
        }
        if (d.action != AUTOSCALE_RESCALE) continue;
        char why[256];
        snprintf(why, sizeof why, "autoscale: %.1f tok/s, TPOT %.1f ms (SLO %.1f ms)", m.tok_rate,
                 m.tpot_s * 1e3, as->p.slo_tpot_s * 1e3);
        struct front_rescale_args a = {.n_attn = d.to_attn, .n_moe = d.to_moe, .reason = why};
        struct front_rescale_info info;
        rc = front_rescale(f, &a, &info, err, sizeof err);
        pthread_mutex_lock(&as->mu);
        autoscale_acted(&as->st, (double)clock_now_ns() * 1e-9);
        if (rc)
            as->failures++;
        else
            as->rescales++;
        pthread_mutex_unlock(&as->mu);
        if (rc && !f->stopping) LOG_WARN("front: autoscale: the rescale failed: %s", err);
        sample(f, &w0, &ca, &cm, &busy); // the next window starts after the rescale
    }
    return NULL;
}

int autoscale_start(struct autoscaler *as, struct front *f, const struct autoscale_params *p,
                    char *err, size_t err_len) {
    memset(as, 0, sizeof *as);
    as->p = *p;
    as->f = f;
    if (as->p.interval_s <= 0) as->p.interval_s = 10;
    pthread_mutex_init(&as->mu, NULL);
    if (pthread_create(&as->thread, NULL, autoscale_main, as) != 0)
        return status_errf(err, err_len, JANUS_EIO, "cannot start the autoscaler thread");
    as->started = 1;
    return JANUS_OK;
}

void autoscale_stop(struct autoscaler *as) {
    if (!as->started) return;
    as->stop = 1;
    pthread_join(as->thread, NULL);
    as->started = 0;
    pthread_mutex_destroy(&as->mu);
}
