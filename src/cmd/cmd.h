/* The command line: one table of commands (src/cmd/table.c), one file per
 * command (src/cmd/<name>.c, the shape of git's builtin/), and the helpers
 * they share (src/cmd/common.c, src/cmd/run.c).  This is CLI code: it
 * prints and picks exit codes; the library under it never does. */
#ifndef FERRY_CMD_H
#define FERRY_CMD_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "graph/graph.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/err.h"
#include "util/log.h"

/* Exit codes (docs/ferry.1.md, EXIT STATUS). */
enum {
  FERRY_EXIT_OK = 0,
  FERRY_EXIT_ERROR = 1,   /* error, invalid plan, failed steps, lock held */
  FERRY_EXIT_CHANGES = 2, /* plan --detailed-exitcode: changes pending */
  FERRY_EXIT_INTERRUPTED = 130,
};

/* One option of a command.  The table drives getopt, --help and the docs
 * test (`ferry help --list-options`). */
struct ferry_option {
  const char *name; /* long name without "--" */
  int key;          /* getopt value: a short letter, or >= 256 for none */
  const char *arg;  /* argument name ("N", "SIZE"), NULL for a flag */
  const char *help; /* one line; NULL hides the option */
};

/* Keys of long-only options start here. */
#define FERRY_OPT_LONG 256

/* The shared --target row of the plan commands. */
#define FERRY_OPTION_TARGET                                                    \
  {                                                                            \
    "target", 't', "VM", "only this VM and what it depends on (repeatable)"    \
  }

/* The shared --phase row of plan and apply (docs/warm.md). */
#define FERRY_OPTION_PHASE                                                     \
  {                                                                            \
    "phase", FERRY_OPT_PHASE, "PHASE",                                         \
        "precopy: warm VMs' pre-copies; cutover: everything; default: cold "   \
        "VMs whole, warm VMs up to their pre-copy"                             \
  }
#define FERRY_OPT_PHASE (FERRY_OPT_LONG + 100)

/* One command of `ferry`. */
struct ferry_command {
  const char *name;                   /* argv[1] */
  int (*run) (int argc, char **argv); /* argv[0] is the command name */
  const char *usage;                  /* arguments after the name */
  const char *summary;                /* one line for `ferry --help` */
  const char *description;            /* `ferry CMD --help`, may be NULL */
  const struct ferry_option *options; /* ended by a {0} row, may be NULL */
  bool hidden;                        /* left out of `ferry --help` */
};

/* The table (src/cmd/table.c), sorted by name. */
extern const struct ferry_command *const ferry_commands[];
extern const size_t ferry_n_commands;
/* Global options (before the command). */
extern const struct ferry_option ferry_global_options[];

extern const struct ferry_command ferry_cmd_apply;
extern const struct ferry_command ferry_cmd_convert;
extern const struct ferry_command ferry_cmd_destroy;
extern const struct ferry_command ferry_cmd_graph;
extern const struct ferry_command ferry_cmd_help;
extern const struct ferry_command ferry_cmd_inspect;
extern const struct ferry_command ferry_cmd_modules;
extern const struct ferry_command ferry_cmd_plan;
extern const struct ferry_command ferry_cmd_schema;
extern const struct ferry_command ferry_cmd_status;
extern const struct ferry_command ferry_cmd_unlock;
extern const struct ferry_command ferry_cmd_validate;
extern const struct ferry_command ferry_cmd_version;

const struct ferry_command *ferry_command_find (const char *name);
/* Table sanity: sorted, unique, name/run/usage/summary present, options
 * with unique names and keys. */
int ferry_commands_check (struct ferry_err *err);

/* ---- usage (src/cmd/table.c) ---- */

/* `ferry --help`: global options and every command's summary. */
void ferry_usage (FILE *f);
/* `ferry CMD --help`: usage line, description, options. */
void ferry_command_usage (const struct ferry_command *cmd, FILE *f);
/* Whether CMD has an option --help shows. */
bool ferry_command_has_options (const struct ferry_command *cmd);

/* ---- common helpers (src/cmd/common.c) ---- */

/* Set by SIGINT/SIGTERM once install_signals ran. */
extern volatile sig_atomic_t ferry_arg_stop;
void ferry_install_signals (void);

/* The one reporting path: print one line (no newline in FMT) on OUT and
 * write it to the log file too. */
void ferry_say (FILE *out, enum ferry_log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* "ferry: error: MSG" on stderr and in the log file. */
void ferry_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* Print "ferry: error: MSG" (and log it); return FERRY_EXIT_ERROR. */
int ferry_die_err (const struct ferry_err *err);

/* getopt_long over CMD's option table (plus --help, returned as 'h').
 * Returns the option's key, '?' on an unknown option, -1 at the end. */
int ferry_cmd_getopt (const struct ferry_command *cmd, int argc, char **argv);
/* Print "usage: ferry CMD USAGE [options] (see --help)" on stderr and
 * return FERRY_EXIT_ERROR. */
int ferry_cmd_usage_error (const struct ferry_command *cmd);

/* A test hook: when the environment variable VAR names a PATH, create
 * PATH.<pid>, then wait (up to 60 s) until PATH exists, so that a test can
 * act while this process stands at a known point (FERRY_TEST_WORKER_GATE:
 * a worker holding its share of the wave lock; FERRY_TEST_PLAN_LOCK_GATE:
 * an apply or destroy holding the plan lock, before its wave lock). */
void ferry_test_gate (const char *var);

/* Parse a size with optional K/M/G/T suffix (powers of 1024). */
int ferry_parse_size (const char *s, uint64_t *ret);
/* Size option of at least MIN / count option in 1..MAX: print the error. */
int ferry_opt_size (const char *name, const char *arg, uint64_t min,
                    uint64_t *ret);
int ferry_opt_count (const char *name, const char *arg, unsigned max,
                     unsigned *ret);

/* What a plan command selects: --target VM (repeatable) and --phase. */
struct ferry_targets {
  char *v[256];           /* VM names from argv */
  size_t n;               /* used entries */
  enum ferry_phase phase; /* --phase (default: FERRY_PHASE_DEFAULT) */
};
/* Add one --target; prints the error when there are too many. */
int ferry_targets_add (struct ferry_targets *t, char *vm);
/* --phase NAME; prints the error when NAME is not a phase. */
int ferry_targets_phase (struct ferry_targets *t, const char *name);

/* ---- the run helper of the plan commands (src/cmd/run.c) ---- */

/* A loaded plan and what a command built around it. */
struct ferry_run {
  struct ferry_plan *plan;       /* validated plan */
  struct ferry_graph *graph;     /* its steps */
  bool *keep;                    /* --target selection, NULL: all */
  struct ferry_step_result *res; /* one per step */
  struct ferry_state *state;     /* once ferry_run_state ran */
  struct ferry_state_lock *lock; /* the plan lock of a writing run */
  struct ferry_state_lock *wave; /* its exclusive wave lock (apply, destroy:
                                    ferry_run_check_workers) */
  struct ferry_os_sessions *os;  /* OpenStack sessions of this run */
  struct ferry_guests *guests;   /* guest appliances of this run */
};

/* Load, validate and expand FILE (PLAN_FLAGS: FERRY_PLAN_*), select the
 * --target VMs (T may be NULL); print every problem.  0 or -1; RET is
 * always safe to pass to ferry_run_free. */
int ferry_run_load (const char *file, unsigned plan_flags,
                    const struct ferry_targets *t, struct ferry_run *ret);
/* Open the plan's state (its `state:` block) read-only (a missing
 * journal is empty), or open it for writing and take the plan lock.
 * Prints; 0 or -1. */
int ferry_run_state (struct ferry_run *r, bool write);
/* Release the lock and close the state. */
void ferry_run_state_close (struct ferry_run *r);
/* Warn when the open state was last written by another plan file (two
 * plans sharing metadata.name, hence one journal). */
void ferry_run_check_writer (struct ferry_run *r);
/* Record the plan file's real path as the state's last writer (apply,
 * with the lock held).  Prints; 0 or -1. */
int ferry_run_record_writer (struct ferry_run *r);
void ferry_run_free (struct ferry_run *r);

/* ---- apply --worker (src/cmd/worker.c) ---- */

/* Apply R's selected VMs together with the other workers of the plan:
 * VM locks decide who runs which VM (see worker.c).  CTX is the run's
 * context (its state is opened here, without the plan lock); PARALLEL VMs
 * at a time.  Prints; returns the exit code. */
int ferry_apply_worker (struct ferry_run *r, struct ferry_ctx *ctx,
                        unsigned parallel,
                        const struct ferry_engine_events *ev);
/* With the plan lock held: refuse (-1, printed) when a live worker holds a
 * VM lock of R's plan, or holds the wave lock (between VMs), so a plain
 * apply or destroy does not run beside a wave of workers; else take the
 * wave lock exclusively (R->wave, released by ferry_run_state_close) so
 * that no worker starts until this run ends; then refuse when the plan
 * lock is no longer this process's (unlock --force removed it before the
 * wave lock was taken). */
int ferry_run_check_workers (struct ferry_run *r);
/* Take the wave lock exclusively for a moment (stale holders taken over):
 * 0 and *RET held when no run of the plan is alive (no worker, no plain
 * apply or destroy), else -1 and ERR (EBUSY, FERRY_LOCK_ETAG). */
int ferry_run_wave_exclusive (struct ferry_run *r,
                              struct ferry_state_lock **ret,
                              struct ferry_err *err);

/* Print the observations as `ferry plan` does (text or JSON). */
void ferry_print_plan (const struct ferry_run *r, bool json, FILE *out);

/* Counts of the observed needs of the selected steps. */
struct ferry_need_counts {
  size_t create, update, done, blocked;
};
void ferry_count_need (const struct ferry_run *r, struct ferry_need_counts *c);

/* ---- saved plans (src/cmd/saved.c) ---- */

/* Digest of what was observed: id, verdict and detail of every step. */
void ferry_observations_hash (const struct ferry_run *r, char out[65]);
/* SHA-256 of a file's contents as hex (-1 if unreadable). */
int ferry_sha256_file (const char *path, char out[65]);
/* Refuse OUT when it is PLAN_FILE itself (device and inode: through
 * symlinks and hard links too) or an existing non-empty file that is not a
 * saved plan, so `plan -o` never destroys a file it did not write.  Prints;
 * 0 or -1. */
int ferry_saved_check_target (const char *out, const char *plan_file);
/* Write the saved plan OUT for R (checked as above); prints; 0 or -1. */
int ferry_saved_write (const char *out, const struct ferry_run *r);
/* If FILE is a saved plan, fill the plan path and the expected hashes
 * (*RET_IS_SAVED); prints; 0 or -1. */
int ferry_saved_read (const char *file, char **ret_plan, char *plan_hash,
                      char *obs_hash, bool *ret_is_saved);

#endif
