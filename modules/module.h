/* The step-module contract (docs/ferry-modules.7.md).
 *
 * A module is a `static const struct ferry_module` with designated
 * initialisers, registered in modules/registry.c (one sorted table).  It
 * declares its steps: a scope (one step per plan, VM, disk, port or flavor),
 * the target and source kinds it applies to, the modules it runs after and
 * whether it is the VM's final step; src/graph builds the graph from these
 * declarations alone.  The engine calls, for every step of the graph:
 *
 *   check    observe the world, read-only: done / create / update / blocked
 *   describe the one-line text `ferry plan` prints for that observation
 *   apply    converge (idempotent: temporary names and a final rename;
 *            "already exists" is success; resume from the journal's
 *            evidence, e.g. convert checkpoints)
 *   verify   confirm the world now matches (after apply)
 *   cleanup  optional: after apply+verify succeeded, remove temporaries
 *            that apply left (a failed apply keeps them: resume evidence)
 *
 * "The world is the truth; the journal is the evidence." */
#ifndef FERRY_MODULE_H
#define FERRY_MODULE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"
#include "state/state.h"
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

/* What a module instantiates one step for (docs/ferry-modules.7.md). */
enum ferry_scope {
  FERRY_SCOPE_PLAN,   /* once per plan */
  FERRY_SCOPE_VM,     /* once per VM */
  FERRY_SCOPE_DISK,   /* once per disk of a VM */
  FERRY_SCOPE_PORT,   /* once per port of a VM */
  FERRY_SCOPE_FLAVOR, /* once per flavor of the plan */
  FERRY_SCOPE_LAST
};
/* "plan", "vm", "disk", "port", "flavor" */
const char *ferry_scope_name (enum ferry_scope s);

/* The target and source kinds a module applies to, as bits in
 * ferry_module.targets (enum ferry_plan_target_type) and
 * ferry_module.sources (enum ferry_source_type): the plan's own enums
 * (plan/plan.h), parsed once from target.type and source.type. */
#define FERRY_KIND(k) (1u << (k))

struct ferry_module;

/* One node of the dependency graph. */
struct ferry_step {
  char *id;                               /* "web01/convert/disk0" */
  const char *module_name;                /* "convert", "boot", ... */
  const struct ferry_module *module;      /* its declaration (never NULL) */
  enum ferry_scope scope;                 /* = module->scope */
  size_t index;                           /* disk, port or flavor index */
  const struct ferry_vm *vm;              /* NULL for plan/flavor steps */
  const struct ferry_plan_target *target; /* the VM's target, or NULL */
  union {
    const struct ferry_plan *plan;      /* FERRY_SCOPE_PLAN */
    const struct ferry_vm *vm;          /* FERRY_SCOPE_VM */
    const struct ferry_disk_spec *disk; /* FERRY_SCOPE_DISK: vm->disks[index] */
    const struct ferry_port *port;      /* FERRY_SCOPE_PORT: vm->ports[index] */
    const struct ferry_flavor *flavor;  /* FERRY_SCOPE_FLAVOR */
  } obj;                                /* the plan object, by scope */
  size_t *deps;                         /* indices of steps this one needs */
  size_t n_deps;
};

/* What check observed. */
struct ferry_observation {
  enum ferry_need need; /* verdict */
  char detail[1024];    /* "+": what, "~": "key: old → new", "!": why */
  uint64_t work_bytes;  /* bytes apply will move, for progress (0 = n/a) */
};

struct ferry_ctx;
struct ferry_os_sessions;
struct ferry_guests;

/* Progress of a long step: bytes done of total. */
typedef void (*ferry_progress_fn) (struct ferry_ctx *ctx,
                                   const struct ferry_step *step, uint64_t done,
                                   uint64_t total, double elapsed, bool final);

/* What a module may use while it runs. */
struct ferry_ctx {
  const struct ferry_plan *plan; /* the validated plan */
  struct ferry_state *state;     /* journal and locks; read-only in check */
  bool dry_run;                  /* never write anything */
  bool cutover;                  /* apply --phase cutover: warm VMs' sources
                                    are shut down (docs/warm.md) */
  volatile sig_atomic_t *stop;   /* Ctrl-C: finish the chunk, stop */
  ferry_progress_fn progress;    /* may be NULL */
  void *opaque;                  /* for the progress callback */
  unsigned io_threads;           /* convert workers per step (0 = auto) */
  uint64_t checkpoint_interval;  /* convert checkpoints (0 = 1 GiB) */
  struct ferry_os_sessions *os;  /* OpenStack sessions (modules/openstack.h) */
  struct ferry_guests *guests;   /* guest appliances, one per VM
                                    (modules/guest.h) */
};

struct ferry_module {
  const char *name;    /* registry key, lower case */
  const char *summary; /* one line for `ferry modules` and docs */

  /* Declaration: which steps the graph makes and their edges. */
  enum ferry_scope scope;   /* one step per plan object of this scope */
  const char *step_name;    /* id component if not name ("define") */
  unsigned targets;         /* FERRY_KIND (FERRY_PLAN_TARGET_*); 0 = any */
  unsigned sources;         /* FERRY_KIND (FERRY_SOURCE_*); 0 = any */
  const char *const *after; /* NULL-terminated module names it runs after */
  bool vm_final;            /* the VM's last step: depends_on edges attach */
  bool on_demand;           /* only for objects a step runs after (flavors) */
  bool planned;             /* declared, no callbacks: steps show blocked */
  bool precopy; /* a warm VM's pre-copy phase (apply --phase precopy) */
  /* Optional further condition on a step about to be made (vm, target,
   * index and obj are filled in). */
  bool (*applies) (const struct ferry_plan *plan,
                   const struct ferry_step *step);

  /* Callbacks (all NULL when planned). */
  int (*check) (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_observation *ret, struct ferry_err *err);
  int (*describe) (const struct ferry_step *step,
                   const struct ferry_observation *obs, char *buf, size_t len);
  int (*apply) (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err);
  int (*verify) (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_err *err);
  /* optional: called after a successful apply+verify, never in dry-run */
  int (*cleanup) (struct ferry_ctx *ctx, const struct ferry_step *step,
                  struct ferry_err *err);
};

/* A table of module declarations, sorted by name. */
struct ferry_registry {
  const struct ferry_module *const *modules; /* sorted by name */
  size_t n;                                  /* entries */
};

/* Every module this build knows: available and planned (modules/registry.c).
 * The graph uses it; tests pass their own table. */
extern const struct ferry_registry ferry_registry_builtin;
/* The modules available in this build (for `ferry modules`): sorted. */
extern const struct ferry_module *const ferry_modules[];
extern const size_t ferry_n_modules;
/* An available module by name, or NULL. */
const struct ferry_module *ferry_module_find (const char *name);
/* A declared module of REG by name, or NULL. */
const struct ferry_module *
ferry_registry_find (const struct ferry_registry *reg, const char *name);
/* Sanity of a table: sorted, unique, scope in range, callbacks present
 * exactly when not planned, `after` names declared. */
int ferry_registry_check (const struct ferry_registry *reg,
                          struct ferry_err *err);
/* REG's modules in an order where each follows the modules it runs after
 * (ties: registry order), into RET (REG->n entries); -1 on a cycle. */
int ferry_registry_order (const struct ferry_registry *reg,
                          const struct ferry_module **ret,
                          struct ferry_err *err);
/* ferry_registry_check of the built-in tables. */
int ferry_modules_check (struct ferry_err *err);

/* The modules. */
extern const struct ferry_module ferry_module_boot;
extern const struct ferry_module ferry_module_convert;
extern const struct ferry_module ferry_module_customize;
extern const struct ferry_module ferry_module_flavor;
extern const struct ferry_module ferry_module_image;
extern const struct ferry_module ferry_module_inject;
extern const struct ferry_module ferry_module_inspect;
extern const struct ferry_module ferry_module_libvirt;
extern const struct ferry_module ferry_module_migrate;
extern const struct ferry_module ferry_module_port;
extern const struct ferry_module ferry_module_precopy;
extern const struct ferry_module ferry_module_resize;
extern const struct ferry_module ferry_module_shutdown;
extern const struct ferry_module ferry_module_stop;
extern const struct ferry_module ferry_module_volume;
extern const struct ferry_module ferry_module_volume_swap;

#endif
