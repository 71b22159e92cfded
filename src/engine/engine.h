/* The engine: observe every step (plan), converge (apply) with a pool of
 * workers in dependency order. */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"
#include "modules/module.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/err.h"

enum ferry_status {
  FERRY_STATUS_PENDING,   /* not run yet */
  FERRY_STATUS_RUNNING,   /* a worker has it */
  FERRY_STATUS_UNCHANGED, /* check said done */
  FERRY_STATUS_APPLIED,   /* applied and verified (or would be: dry-run) */
  FERRY_STATUS_FAILED,    /* apply or verify failed */
  FERRY_STATUS_BLOCKED,   /* could not run (module missing, check said so) */
  FERRY_STATUS_SKIPPED,   /* a dependency failed, or stopped by Ctrl-C */
  FERRY_STATUS_EXCLUDED,  /* not selected by --target */
  FERRY_STATUS_LAST
};
const char *ferry_status_name (enum ferry_status s);

struct ferry_step_result {
  enum ferry_status status;     /* outcome */
  struct ferry_observation obs; /* what check saw */
  char msg[1024];               /* failure or skip reason */
  double seconds;               /* time in apply */
};

struct ferry_engine_events {
  /* A step changes status (called from worker threads, serialised). */
  void (*step) (void *opaque, const struct ferry_step *step,
                const struct ferry_step_result *res);
  ferry_progress_fn progress; /* long-running progress */
  void *opaque;
};

/* Observe (read-only) every selected step in topological order.  KEEP may
 * be NULL (all).  Dependants of a blocked step are blocked.  A check that
 * fails is an error: every step is still observed, the failing one is
 * FERRY_STATUS_FAILED, and -1 is returned with the first error in ERR
 * ("STEP: message"). */
int ferry_engine_observe (struct ferry_ctx *ctx, const struct ferry_graph *g,
                          const bool *keep, struct ferry_step_result *res,
                          struct ferry_err *err);

/* Converge: PARALLEL workers run ready steps; a failure (of check, apply
 * or verify) stops only its dependants; a module's cleanup runs after each
 * verified apply.  REPLACE (may be NULL): steps applied even when their
 * check says done (apply --replace).  Returns 0 if every selected step ended
 * unchanged or applied, 1 if some failed/blocked/skipped, -1 on an engine
 * error. */
int ferry_engine_apply (struct ferry_ctx *ctx, const struct ferry_graph *g,
                        const bool *keep, const bool *replace,
                        unsigned parallel, const struct ferry_engine_events *ev,
                        struct ferry_step_result *res, struct ferry_err *err);

#endif
