/* check → describe → apply → verify for every step, in dependency order. */
#include "engine/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/log.h"

static const char *const status_names[] = {"pending", "running", "unchanged",
                                           "applied", "failed",  "blocked",
                                           "skipped", "excluded"};
_Static_assert(FERRY_ARRAY_SIZE (status_names) == FERRY_STATUS_LAST,
               "status_names out of date");

/* The name of a status ("applied", "skipped"...). */
const char *
ferry_status_name (enum ferry_status s)
{
  return s < FERRY_STATUS_LAST ? status_names[s] : "unknown";
}

/* Run a step's check.  A planned module (not in this build) is a blocked
 * observation; a check that fails is an error: -1 with ERR set to a message
 * naming the step (the observation then says blocked, with that text). */
static int
observe_step (struct ferry_ctx *ctx, const struct ferry_step *s,
              struct ferry_observation *obs, struct ferry_err *err)
{
  struct ferry_err cerr = {0};

  memset (obs, 0, sizeof *obs);
  if (s->module->planned) {
    obs->need = FERRY_NEED_BLOCKED;
    snprintf (obs->detail, sizeof obs->detail,
              "module '%s' is not available in ferry %s", s->module_name,
              FERRY_VERSION);
    return 0;
  }
  if (s->module->check (ctx, s, obs, &cerr) < 0) {
    obs->need = FERRY_NEED_BLOCKED;
    snprintf (obs->detail, sizeof obs->detail, "%s", cerr.msg);
    if (!err->set) {
      ferry_err_set (err, 0, "%s: %s", s->id, cerr.msg);
      err->errnum = cerr.errnum; /* cerr.msg already ends with its text */
    }
    return -1;
  }
  return 0;
}

/* Observe in topological order; the first check error is returned after
 * every step was observed (its step is failed, its dependants blocked). */
int
ferry_engine_observe (struct ferry_ctx *ctx, const struct ferry_graph *g,
                      const bool *keep, struct ferry_step_result *res,
                      struct ferry_err *err)
{
  size_t k, i, j;
  int rc = 0;

  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    memset (&res[i], 0, sizeof res[i]);
    if (keep && !keep[i]) {
      res[i].status = FERRY_STATUS_EXCLUDED;
      continue;
    }
    for (j = 0; j < g->steps[i].n_deps; j++) {
      size_t d = g->steps[i].deps[j];
      if (res[d].obs.need == FERRY_NEED_BLOCKED) {
        res[i].obs.need = FERRY_NEED_BLOCKED;
        snprintf (res[i].obs.detail, sizeof res[i].obs.detail,
                  "needs blocked step %s", g->steps[d].id);
        break;
      }
    }
    res[i].status = FERRY_STATUS_PENDING;
    if (j == g->steps[i].n_deps &&
        observe_step (ctx, &g->steps[i], &res[i].obs, err) < 0) {
      rc = -1;
      res[i].status = FERRY_STATUS_FAILED;
      snprintf (res[i].msg, sizeof res[i].msg, "%s", res[i].obs.detail);
      continue;
    }
    if (res[i].obs.need == FERRY_NEED_BLOCKED)
      res[i].status = FERRY_STATUS_BLOCKED;
  }
  return rc;
}

struct run {
  struct ferry_ctx *ctx;                /* shared, read-only */
  const struct ferry_graph *g;          /* the graph */
  const struct ferry_engine_events *ev; /* callbacks */
  const bool *replace;                  /* apply --replace, or NULL */
  struct ferry_step_result *res;        /* guarded by lock */
  pthread_mutex_t lock;                 /* guards res, running, left */
  pthread_cond_t cond;                  /* a step finished */
  size_t left;                          /* steps not finished */
  unsigned running;                     /* steps in flight */
};

/* Monotonic seconds, for step timings. */
static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Tell the caller (under the lock: callbacks are serialised). */
static void
notify (struct run *r, size_t i)
{
  if (r->ev && r->ev->step)
    r->ev->step (r->ev->opaque, &r->g->steps[i], &r->res[i]);
}

/* Settle pending steps whose dependencies can no longer succeed, and find
 * a ready one (all dependencies unchanged or applied).  Called with the
 * lock held; returns the index or (size_t)-1. */
static size_t
next_ready (struct run *r)
{
  const struct ferry_graph *g = r->g;
  size_t k, i, j;
  bool ready;
  bool stopping = r->ctx->stop && *r->ctx->stop;

  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    if (r->res[i].status != FERRY_STATUS_PENDING)
      continue;
    if (stopping) {
      r->res[i].status = FERRY_STATUS_SKIPPED;
      snprintf (r->res[i].msg, sizeof r->res[i].msg, "interrupted");
      r->left--;
      notify (r, i);
      continue;
    }
    ready = true;
    for (j = 0; j < g->steps[i].n_deps; j++) {
      size_t d = g->steps[i].deps[j];
      enum ferry_status ds = r->res[d].status;
      if (ds == FERRY_STATUS_FAILED || ds == FERRY_STATUS_BLOCKED ||
          ds == FERRY_STATUS_SKIPPED) {
        r->res[i].status = FERRY_STATUS_SKIPPED;
        snprintf (r->res[i].msg, sizeof r->res[i].msg, "dependency %s %s",
                  g->steps[d].id, ferry_status_name (ds));
        r->left--;
        notify (r, i);
        ready = false;
        break;
      }
      if (ds != FERRY_STATUS_UNCHANGED && ds != FERRY_STATUS_APPLIED &&
          ds != FERRY_STATUS_EXCLUDED)
        ready = false;
    }
    if (ready && r->res[i].status == FERRY_STATUS_PENDING)
      return i;
  }
  return (size_t) -1;
}

/* Run one step outside the lock. */
static void
run_step (struct run *r, size_t i)
{
  struct ferry_ctx *ctx = r->ctx;
  const struct ferry_step *s = &r->g->steps[i];
  struct ferry_step_result *res = &r->res[i];
  struct ferry_observation obs;
  const struct ferry_step_record *rec;
  struct ferry_err err = {0};
  struct ferry_journal_entry e = {0};
  enum ferry_status st;
  double t0 = now ();

  e.step = s->id;
  if (observe_step (ctx, s, &obs, &err) < 0) {
    st = FERRY_STATUS_FAILED;
    snprintf (res->msg, sizeof res->msg, "%s", obs.detail);
    goto out;
  }
  ferry_debug ("%s: check: %s (%s)", s->id, ferry_need_name (obs.need),
               obs.detail);
  if (obs.need == FERRY_NEED_BLOCKED) {
    st = FERRY_STATUS_BLOCKED;
    snprintf (res->msg, sizeof res->msg, "%s", obs.detail);
    goto out;
  }
  if (obs.need == FERRY_NEED_DONE && r->replace && r->replace[i]) {
    char was[sizeof obs.detail];
    /* apply --replace: the operator says the world is wrong; run it */
    memcpy (was, obs.detail, sizeof was);
    obs.need = FERRY_NEED_UPDATE;
    snprintf (obs.detail, sizeof obs.detail,
              "replace requested (check said done: %.900s)", was);
  }
  if (obs.need == FERRY_NEED_DONE) {
    st = FERRY_STATUS_UNCHANGED;
    /* the world says done; make the journal say it too (evidence) */
    rec = ctx->state ? ferry_state_step (ctx->state, s->id) : NULL;
    if (!ctx->dry_run && ctx->state &&
        (rec == NULL || rec->last != FERRY_EVENT_DONE)) {
      e.event = FERRY_EVENT_DONE;
      if (ferry_state_append (ctx->state, &e, &err) < 0) {
        st = FERRY_STATUS_FAILED;
        snprintf (res->msg, sizeof res->msg, "%s", err.msg);
      }
    }
    goto out;
  }
  if (ctx->dry_run) {
    st = FERRY_STATUS_APPLIED;
    goto out;
  }
  ferry_debug ("%s: apply (module %s)", s->id, s->module->name);
  e.event = FERRY_EVENT_BEGIN;
  if (ferry_state_append (ctx->state, &e, &err) < 0 ||
      s->module->apply (ctx, s, &err) < 0 ||
      s->module->verify (ctx, s, &err) < 0) {
    struct ferry_err jerr = {0};
    st = FERRY_STATUS_FAILED;
    snprintf (res->msg, sizeof res->msg, "%s", err.msg);
    if (err.errnum == EINTR) {
      st = FERRY_STATUS_SKIPPED;
      snprintf (res->msg, sizeof res->msg, "interrupted");
    } else {
      e.event = FERRY_EVENT_FAIL;
      e.msg = err.msg;
      ferry_state_append (ctx->state, &e, &jerr);
    }
    goto out;
  }
  e.event = FERRY_EVENT_DONE;
  if (ferry_state_append (ctx->state, &e, &err) < 0) {
    st = FERRY_STATUS_FAILED;
    snprintf (res->msg, sizeof res->msg, "%s", err.msg);
    goto out;
  }
  st = FERRY_STATUS_APPLIED;
  /* the world matches: temporaries the apply left can go; failing to
   * remove them does not undo the step */
  if (s->module->cleanup && s->module->cleanup (ctx, s, &err) < 0)
    ferry_warn ("%s: cleanup: %s", s->id, err.msg);

out:
  pthread_mutex_lock (&r->lock);
  res->obs = obs;
  res->status = st;
  res->seconds = now () - t0;
  r->left--;
  r->running--;
  notify (r, i);
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* A worker thread: take ready steps until none is left or none can run. */
static void *
worker (void *arg)
{
  struct run *r = arg;
  size_t i;

  pthread_mutex_lock (&r->lock);
  for (;;) {
    if (r->left == 0)
      break;
    i = next_ready (r);
    if (i == (size_t) -1) {
      if (r->left == 0 || r->running == 0)
        break; /* nothing runnable and nothing in flight */
      pthread_cond_wait (&r->cond, &r->lock);
      continue;
    }
    r->res[i].status = FERRY_STATUS_RUNNING;
    r->running++;
    notify (r, i);
    pthread_mutex_unlock (&r->lock);
    run_step (r, i);
    pthread_mutex_lock (&r->lock);
  }
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
  return NULL;
}

/* Start the workers, wait for them, and sum up the results. */
int
ferry_engine_apply (struct ferry_ctx *ctx, const struct ferry_graph *g,
                    const bool *keep, const bool *replace, unsigned parallel,
                    const struct ferry_engine_events *ev,
                    struct ferry_step_result *res, struct ferry_err *err)
{
  struct run r;
  pthread_t *tids;
  unsigned i, started = 0;
  size_t k;
  int rc = 0;

  if (parallel == 0)
    parallel = 1;
  memset (&r, 0, sizeof r);
  r.ctx = ctx;
  r.g = g;
  r.ev = ev;
  r.replace = replace;
  r.res = res;
  pthread_mutex_init (&r.lock, NULL);
  pthread_cond_init (&r.cond, NULL);
  for (k = 0; k < g->n; k++) {
    memset (&res[k], 0, sizeof res[k]);
    if (keep && !keep[k])
      res[k].status = FERRY_STATUS_EXCLUDED;
    else
      r.left++;
  }
  tids = calloc (parallel, sizeof *tids);
  if (tids == NULL)
    return ferry_err_set (err, ENOMEM, "cannot start workers");
  for (i = 0; i < parallel; i++) {
    if (pthread_create (&tids[i], NULL, worker, &r) != 0)
      break;
    started++;
  }
  if (started == 0) {
    free (tids);
    return ferry_err_set (err, EAGAIN, "cannot start workers");
  }
  for (i = 0; i < started; i++)
    pthread_join (tids[i], NULL);
  free (tids);
  pthread_mutex_destroy (&r.lock);
  pthread_cond_destroy (&r.cond);
  for (k = 0; k < g->n; k++)
    if (res[k].status != FERRY_STATUS_UNCHANGED &&
        res[k].status != FERRY_STATUS_APPLIED &&
        res[k].status != FERRY_STATUS_EXCLUDED)
      rc = 1;
  return rc;
}
