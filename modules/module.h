/* The step-module contract (docs/ferry-modules.7.md).
 *
 * A module is a `static const struct ferry_module` with designated
 * initialisers, registered in modules/registry.c (one sorted table).  The
 * engine calls, for every step of the graph:
 *
 *   check    observe the world, read-only: done / create / update / blocked
 *   describe the one-line text `ferry plan` prints for that observation
 *   apply    converge (idempotent: temporary names and a final rename;
 *            "already exists" is success; resume from the journal's
 *            evidence, e.g. convert checkpoints)
 *   verify   confirm the world now matches (after apply)
 *   cleanup  optional: remove temporaries ferry itself created
 *
 * "The world is the truth; the journal is the evidence." */
#ifndef FERRY_MODULE_H
#define FERRY_MODULE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"
#include "state/journal.h"
#include "util/err.h"

enum ferry_need {
  FERRY_NEED_DONE,    /* "=": nothing to do */
  FERRY_NEED_CREATE,  /* "+": the object does not exist */
  FERRY_NEED_UPDATE,  /* "~": exists but differs (or half-done) */
  FERRY_NEED_BLOCKED, /* "!": cannot run (reason in detail) */
  FERRY_NEED_LAST
};

/* "=", "+", "~", "!" and "done", "create", "update", "blocked" */
const char *ferry_need_sign (enum ferry_need n);
const char *ferry_need_name (enum ferry_need n);

struct ferry_module;

/* One node of the dependency graph. */
struct ferry_step {
  char *id;                           /* "web01/convert/disk0" */
  const char *module_name;            /* "convert", "boot", ... */
  const struct ferry_module *module;  /* NULL: not available in this build */
  const struct ferry_vm *vm;          /* NULL for plan-level steps */
  const struct ferry_plan_target *target;/* the VM's target, or NULL */
  const struct ferry_flavor *flavor;  /* flavor steps */
  size_t disk;                        /* per-disk steps: index in vm->disks */
  size_t port;                        /* port steps: index in vm->ports */
  size_t *deps;                       /* indices of steps this one needs */
  size_t n_deps;
};

/* What check observed. */
struct ferry_observation {
  enum ferry_need need;  /* verdict */
  char detail[1024];     /* "+": what, "~": "key: old → new", "!": why */
  uint64_t work_bytes;   /* bytes apply will move, for progress (0 = n/a) */
};

struct ferry_ctx;

/* Progress of a long step: bytes done of total. */
typedef void (*ferry_progress_fn) (struct ferry_ctx *ctx,
                                   const struct ferry_step *step,
                                   uint64_t done, uint64_t total,
                                   double elapsed, bool final);

/* What a module may use while it runs. */
struct ferry_ctx {
  const struct ferry_plan *plan;   /* the validated plan */
  struct ferry_journal *journal;   /* read-only during check */
  bool dry_run;                    /* never write anything */
  volatile sig_atomic_t *stop;     /* Ctrl-C: finish the chunk, stop */
  ferry_progress_fn progress;      /* may be NULL */
  void *opaque;                    /* for the progress callback */
  unsigned io_threads;             /* convert workers per step (0 = auto) */
  uint64_t checkpoint_interval;    /* convert checkpoints (0 = 1 GiB) */
};

struct ferry_module {
  const char *name;    /* registry key, lower case */
  const char *summary; /* one line for `ferry modules` and docs */
  int (*check) (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_observation *ret, struct ferry_err *err);
  int (*describe) (const struct ferry_step *step,
                   const struct ferry_observation *obs, char *buf,
                   size_t len);
  int (*apply) (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err);
  int (*verify) (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_err *err);
  int (*cleanup) (struct ferry_ctx *ctx, const struct ferry_step *step,
                  struct ferry_err *err); /* optional */
};

/* The registry (modules/registry.c): sorted by name. */
extern const struct ferry_module *const ferry_modules[];
extern const size_t ferry_n_modules;
const struct ferry_module *ferry_module_find (const char *name);
/* Registry sanity: sorted, unique, mandatory callbacks present. */
int ferry_modules_check (struct ferry_err *err);

/* Append a CREATED/CHECKPOINT... event for STEP (no-op in dry-run). */
int ferry_ctx_record (struct ferry_ctx *ctx, const struct ferry_step *step,
                      enum ferry_event ev, uint64_t offset, const char *id,
                      struct ferry_err *err);

/* A describe callback for modules whose check already wrote the whole
 * line into obs->detail. */
int ferry_describe_detail (const struct ferry_step *step,
                           const struct ferry_observation *obs, char *buf,
                           size_t len);

/* The modules. */
extern const struct ferry_module ferry_module_convert;
extern const struct ferry_module ferry_module_libvirt;

#endif
