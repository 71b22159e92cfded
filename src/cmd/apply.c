/* ferry apply PLAN|SAVED: converge the world to the plan; rerun to resume
 * after any failure. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd/cmd.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

enum {
  OPT_IO_THREADS = FERRY_OPT_LONG,
  OPT_CHECKPOINT_INTERVAL,
  OPT_REPLACE,
  OPT_WORKER,
};

static const struct ferry_option apply_options[] = {
    {"parallel", 'p', "N", "steps run at once (default 2)"},
    FERRY_OPTION_TARGET,
    FERRY_OPTION_PHASE,
    {"dry-run", 'n', NULL, "print what apply would do; write nothing"},
    {"yes", 'y', NULL, "do not ask for confirmation"},
    {"json", 'j', NULL, "one JSON object per event on stdout"},
    {"io-threads", OPT_IO_THREADS, "N", "conversion workers per disk"},
    {"checkpoint-interval", OPT_CHECKPOINT_INTERVAL, "SIZE",
     "how often a conversion records a durable checkpoint"},
    {"replace", OPT_REPLACE, "STEP",
     "apply STEP even if its check says done (repeatable)"},
    {"worker", OPT_WORKER, NULL,
     "join the plan's workers: take VMs one lock at a time, with other "
     "ferry processes on this or other hosts (docs/scale-out.md)"},
    {0},
};

/* What the user asked for on the command line. */
struct apply_args {
  unsigned parallel;            /* --parallel */
  bool dry_run, yes, json;      /* --dry-run, --yes, --json */
  bool worker;                  /* --worker */
  struct ferry_targets targets; /* --target */
  unsigned io_threads;          /* --io-threads (0: auto) */
  uint64_t checkpoint_interval; /* --checkpoint-interval (0: default) */
  char *replace[64];            /* --replace step ids */
  size_t n_replace;             /* used entries of replace */
};

struct apply_ui {
  bool json;            /* JSON events on stdout */
  bool tty;             /* stderr is a terminal: live progress line */
  pthread_mutex_t lock; /* guards the fields below */
  double last_line;     /* last progress print (plain mode) */
  bool live;            /* a live line is on screen */
};

static double
mono_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The text line of a finished step: "= id: detail", "+ id: detail (1.0s)"
 * or "! id: failed: why". */
static void
step_line (const struct ferry_step *step, const struct ferry_step_result *res,
           char *buf, size_t len)
{
  switch (res->status) {
  case FERRY_STATUS_UNCHANGED:
    snprintf (buf, len, "= %s: %s", step->id, res->obs.detail);
    break;
  case FERRY_STATUS_APPLIED:
    snprintf (buf, len, "%s %s: %s (%.1fs)", ferry_need_sign (res->obs.need),
              step->id, res->obs.detail, res->seconds);
    break;
  default:
    snprintf (buf, len, "! %s: %s: %s", step->id,
              ferry_status_name (res->status), res->msg);
    break;
  }
}

/* The JSON event of a step status change. */
static void
print_step_json (const struct ferry_step *step,
                 const struct ferry_step_result *res)
{
  cJSON *o = cJSON_CreateObject ();
  char *text;

  cJSON_AddStringToObject (o, "event", "step");
  cJSON_AddStringToObject (o, "step", step->id);
  cJSON_AddStringToObject (o, "status", ferry_status_name (res->status));
  if (res->status != FERRY_STATUS_RUNNING)
    cJSON_AddStringToObject (o, "action", ferry_need_name (res->obs.need));
  if (res->obs.detail[0])
    cJSON_AddStringToObject (o, "detail", res->obs.detail);
  if (res->msg[0])
    cJSON_AddStringToObject (o, "message", res->msg);
  text = cJSON_PrintUnformatted (o);
  printf ("%s\n", text);
  fflush (stdout);
  free (text);
  cJSON_Delete (o);
}

/* Engine event: a step changed status.  One line per finished step on
 * stdout and in the log file (with --json: an event for every change on
 * stdout, the same line in the log file). */
static void
ui_step (void *opaque, const struct ferry_step *step,
         const struct ferry_step_result *res)
{
  struct apply_ui *ui = opaque;
  enum ferry_log_level level;
  char line[2600];

  pthread_mutex_lock (&ui->lock);
  if (ui->json)
    print_step_json (step, res);
  if (res->status != FERRY_STATUS_RUNNING) {
    step_line (step, res, line, sizeof line);
    level = res->status == FERRY_STATUS_UNCHANGED ||
                    res->status == FERRY_STATUS_APPLIED
                ? FERRY_LOG_INFO
                : FERRY_LOG_ERROR;
    if (ui->json)
      ferry_log_file_only (level, "%s", line);
    else {
      if (ui->live) {
        fputs ("\r\033[K", stderr);
        ui->live = false;
      }
      ferry_say (stdout, level, "%s", line);
      fflush (stdout);
    }
  }
  pthread_mutex_unlock (&ui->lock);
}

/* Engine progress: a live line on a TTY, a plain line every 10 s
 * otherwise, JSON events with --json. */
static void
ui_progress (struct ferry_ctx *ctx, const struct ferry_step *step,
             uint64_t done, uint64_t total, double elapsed, bool final)
{
  struct apply_ui *ui = ctx->opaque;
  double rate = elapsed > 0 ? (double) done / elapsed : 0;
  double eta = rate > 0 ? (double) (total - done) / rate : 0;
  double t = mono_now ();

  pthread_mutex_lock (&ui->lock);
  if (ui->json) {
    printf ("{\"event\":\"progress\",\"step\":\"%s\",\"done\":%llu,"
            "\"total\":%llu,\"rate\":%.0f,\"eta\":%.0f}\n",
            step->id, (unsigned long long) done, (unsigned long long) total,
            rate, eta);
    fflush (stdout);
  } else if (ui->tty) {
    fprintf (stderr, "\r\033[K%s: %5.1f%% %llu/%llu MiB %.0f MiB/s ETA %.0fs",
             step->id, total ? 100.0 * (double) done / (double) total : 100,
             (unsigned long long) (done >> 20),
             (unsigned long long) (total >> 20), rate / 1048576, eta);
    ui->live = !final;
    if (final)
      fputs ("\r\033[K", stderr);
  } else if (t - ui->last_line >= 10 || final) {
    ui->last_line = t;
    fprintf (stderr, "%s: %.1f%% %llu/%llu MiB %.0f MiB/s ETA %.0fs\n",
             step->id, total ? 100.0 * (double) done / (double) total : 100,
             (unsigned long long) (done >> 20),
             (unsigned long long) (total >> 20), rate / 1048576, eta);
  }
  pthread_mutex_unlock (&ui->lock);
}

/* Parse the options into A.  Returns -1 to go on, else the exit code. */
static int
parse_args (int argc, char **argv, struct apply_args *a)
{
  int c;

  a->parallel = 2;
  while ((c = ferry_cmd_getopt (&ferry_cmd_apply, argc, argv)) != -1) {
    switch (c) {
    case 'p':
      if (ferry_opt_count ("parallel", optarg, 256, &a->parallel) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case 't':
      if (ferry_targets_add (&a->targets, optarg) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case FERRY_OPT_PHASE:
      if (ferry_targets_phase (&a->targets, optarg) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case 'n':
      a->dry_run = true;
      break;
    case 'y':
      a->yes = true;
      break;
    case 'j':
      a->json = true;
      break;
    case OPT_IO_THREADS:
      if (ferry_opt_count ("io-threads", optarg, 64, &a->io_threads) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case OPT_CHECKPOINT_INTERVAL:
      if (ferry_opt_size ("checkpoint-interval", optarg, 4096,
                          &a->checkpoint_interval) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case OPT_REPLACE:
      if (a->n_replace == FERRY_ARRAY_SIZE (a->replace)) {
        ferry_error ("too many --replace options");
        return FERRY_EXIT_ERROR;
      }
      a->replace[a->n_replace++] = optarg;
      break;
    case OPT_WORKER:
      a->worker = true;
      break;
    case 'h':
      ferry_command_usage (&ferry_cmd_apply, stdout);
      return FERRY_EXIT_OK;
    default:
      return FERRY_EXIT_ERROR;
    }
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_apply);
  if (a->worker && (a->dry_run || !a->yes || a->n_replace)) {
    ferry_error ("--worker runs unattended: it needs --yes, and takes "
                 "neither --dry-run nor --replace (run 'ferry plan' to see "
                 "what the wave will do)");
    return FERRY_EXIT_ERROR;
  }
  return -1;
}

/* FILE may be a saved plan: check that the plan file it names did not
 * change and return that file's name in *RET_PLAN (NULL: FILE is a plan).
 * 0 or -1 (printed). */
static int
resolve_saved (const char *file, char **ret_plan, char *ret_obs_hash)
{
  char saved_hash[65], hash[65];
  char *plan = NULL;
  bool is_saved = false;

  *ret_plan = NULL;
  if (ferry_saved_read (file, &plan, saved_hash, ret_obs_hash, &is_saved) < 0)
    return -1;
  if (!is_saved)
    return 0;
  if (ferry_sha256_file (plan, hash) < 0) {
    ferry_error ("cannot read plan '%s' named by saved "
                 "plan '%s'",
                 plan, file);
    free (plan);
    return -1;
  }
  if (strcmp (hash, saved_hash) != 0) {
    ferry_error ("saved plan '%s' is stale: '%s' changed since "
                 "it was saved; run 'ferry plan' again",
                 file, plan);
    free (plan);
    return -1;
  }
  *ret_plan = plan;
  return 0;
}

/* --replace STEP...: a mask over the graph (NULL when none).  An id that
 * is not a step of the plan, or a step --target left out, is an error
 * (printed). */
static int
select_replace (const struct ferry_run *r, const struct apply_args *a,
                bool **ret)
{
  bool *mask;
  size_t k, i;

  *ret = NULL;
  if (a->n_replace == 0)
    return 0;
  mask = calloc (r->graph->n + 1, sizeof *mask);
  if (mask == NULL) {
    ferry_error ("out of memory");
    return -1;
  }
  for (k = 0; k < a->n_replace; k++) {
    for (i = 0; i < r->graph->n; i++)
      if (strcmp (r->graph->steps[i].id, a->replace[k]) == 0)
        break;
    if (i == r->graph->n) {
      ferry_error ("--replace: '%s' is not a step of plan '%s' (see 'ferry "
                   "graph')",
                   a->replace[k], r->plan->file);
      free (mask);
      return -1;
    }
    if (r->keep && !r->keep[i]) {
      ferry_error ("--replace: step '%s' is not selected by --target",
                   a->replace[k]);
      free (mask);
      return -1;
    }
    mask[i] = true;
  }
  *ret = mask;
  return 0;
}

/* Before a saved plan runs, or before asking: observe (read-only), compare
 * with the saved observations, show the plan and ask.  0 to go on. */
static int
observe_and_confirm (struct ferry_run *r, const struct apply_args *a,
                     const bool *replace, const char *saved,
                     const char *saved_obs)
{
  size_t i;
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  char hash[65], answer[16] = "";

  ctx.plan = r->plan;
  ctx.os = r->os;
  ctx.guests = r->guests;
  ctx.dry_run = true;
  ctx.cutover = a->targets.phase == FERRY_PHASE_CUTOVER;
  if (ferry_run_state (r, false) < 0)
    return -1;
  ctx.state = r->state;
  ferry_engine_observe (&ctx, r->graph, r->keep, r->res, &err);
  ferry_run_state_close (r);
  if (saved) {
    ferry_observations_hash (r, hash);
    if (strcmp (hash, saved_obs) != 0) {
      ferry_error ("saved plan '%s' is stale: the world changed "
                   "since it was saved; run 'ferry plan' again",
                   saved);
      return -1;
    }
  }
  if (a->yes || a->dry_run)
    return 0;
  for (i = 0; replace && i < r->graph->n; i++)
    if (replace[i] && r->res[i].obs.need == FERRY_NEED_DONE) {
      r->res[i].obs.need = FERRY_NEED_UPDATE;
      snprintf (r->res[i].obs.detail, sizeof r->res[i].obs.detail,
                "replace requested");
    }
  ferry_print_plan (r, false, stdout);
  printf ("\nApply these changes? Only 'yes' is accepted: ");
  fflush (stdout);
  if (fgets (answer, sizeof answer, stdin) == NULL ||
      strcmp (answer, "yes\n") != 0) {
    ferry_say (stderr, FERRY_LOG_WARN, "ferry: apply cancelled");
    return -1;
  }
  return 0;
}

/* Print the summary line (or event) and pick the exit code. */
static int
summarize (const struct ferry_run *r, const struct apply_args *a)
{
  size_t n_ok = 0, n_unch = 0, n_fail = 0, n_skip = 0, i;
  char line[200];
  int rc;

  for (i = 0; i < r->graph->n; i++) {
    switch (r->res[i].status) {
    case FERRY_STATUS_APPLIED:
      n_ok++;
      break;
    case FERRY_STATUS_UNCHANGED:
      n_unch++;
      break;
    case FERRY_STATUS_EXCLUDED:
      break;
    case FERRY_STATUS_SKIPPED:
      n_skip++;
      break;
    default:
      n_fail++;
      break;
    }
  }
  snprintf (line, sizeof line,
            "%s: %zu %s, %zu unchanged, %zu failed, %zu skipped",
            a->dry_run ? "Dry run" : "Apply", n_ok,
            a->dry_run ? "would change" : "applied", n_unch, n_fail, n_skip);
  if (a->json) {
    printf ("{\"event\":\"summary\",\"applied\":%zu,\"unchanged\":%zu,"
            "\"failed\":%zu,\"skipped\":%zu,\"dry_run\":%s}\n",
            n_ok, n_unch, n_fail, n_skip, a->dry_run ? "true" : "false");
    ferry_log_file_only (FERRY_LOG_INFO, "%s", line);
  } else {
    putchar ('\n');
    ferry_say (stdout, FERRY_LOG_INFO, "%s", line);
  }
  if (ferry_arg_stop)
    rc = FERRY_EXIT_INTERRUPTED;
  else
    rc = n_fail || n_skip ? FERRY_EXIT_ERROR : FERRY_EXIT_OK;
  if (rc == FERRY_EXIT_ERROR)
    ferry_error ("%zu step%s failed, %zu skipped; fix the "
                 "cause and run apply again to resume",
                 n_fail, n_fail == 1 ? "" : "s", n_skip);
  return rc;
}

/* The OpenStack API traffic of the run, when there was any: requests,
 * seconds in requests and in waits for objects to settle (make bench reads
 * this line). */
static void
report_openstack (const struct ferry_run *r)
{
  struct ferry_os_stats st;

  ferry_os_sessions_stats (r->os, &st);
  if (st.requests == 0)
    return;
  ferry_info ("openstack: %lu API requests, %.1f s in requests, %.1f s "
              "waiting for objects",
              st.requests, st.http_seconds, st.wait_seconds);
}

/* apply --worker: the same context and progress as a plain apply; the
 * worker (worker.c) opens the state and takes the locks. */
static int
apply_worker (struct ferry_run *r, const struct apply_args *a)
{
  struct ferry_engine_events ev = {0};
  struct apply_ui ui = {0};
  struct ferry_ctx ctx = {0};
  int rc;

  ctx.plan = r->plan;
  ctx.os = r->os;
  ctx.guests = r->guests;
  ctx.cutover = a->targets.phase == FERRY_PHASE_CUTOVER;
  ctx.io_threads = a->io_threads;
  ctx.checkpoint_interval = a->checkpoint_interval;
  ctx.stop = &ferry_arg_stop;
  ctx.progress = ui_progress;
  ctx.opaque = &ui;
  ui.json = a->json;
  ui.tty = isatty (2);
  pthread_mutex_init (&ui.lock, NULL);
  ev.step = ui_step;
  ev.opaque = &ui;
  ferry_install_signals ();
  rc = ferry_apply_worker (r, &ctx, a->parallel, &ev);
  report_openstack (r);
  pthread_mutex_destroy (&ui.lock);
  return rc;
}

/* Load (a saved plan names its plan), confirm, lock, converge, report. */
static int
apply_run (int argc, char **argv)
{
  struct apply_args a = {0};
  CLEANUP_FREE char *saved_plan = NULL;
  CLEANUP_FREE bool *replace = NULL;
  char saved_obs[65];
  struct ferry_engine_events ev = {0};
  struct apply_ui ui = {0};
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  const char *file;
  struct ferry_run r;
  int rc;

  rc = parse_args (argc, argv, &a);
  if (rc >= 0)
    return rc;
  file = argv[optind];
  if (resolve_saved (file, &saved_plan, saved_obs) < 0)
    return FERRY_EXIT_ERROR;
  if (!a.yes && !a.dry_run && !isatty (0)) {
    ferry_error ("refusing to apply without --yes "
                 "(standard input is not a terminal)");
    return FERRY_EXIT_ERROR;
  }
  rc = FERRY_EXIT_ERROR;
  if (ferry_run_load (saved_plan ? saved_plan : file, 0, &a.targets, &r) < 0 ||
      select_replace (&r, &a, &replace) < 0)
    goto out;
  if ((saved_plan || (!a.yes && !a.dry_run)) &&
      observe_and_confirm (&r, &a, replace, saved_plan ? file : NULL,
                           saved_obs) < 0)
    goto out;
  if (a.worker) {
    rc = apply_worker (&r, &a);
    goto out;
  }
  if (ferry_run_state (&r, !a.dry_run) < 0 ||
      (!a.dry_run && ferry_run_check_workers (&r) < 0))
    goto out;
  ferry_run_check_writer (&r);
  if (!a.dry_run && ferry_run_record_writer (&r) < 0)
    goto out;
  ctx.plan = r.plan;
  ctx.os = r.os;
  ctx.guests = r.guests;
  ctx.state = r.state;
  ctx.dry_run = a.dry_run;
  ctx.cutover = a.targets.phase == FERRY_PHASE_CUTOVER;
  ctx.io_threads = a.io_threads;
  ctx.checkpoint_interval = a.checkpoint_interval;
  ctx.stop = &ferry_arg_stop;
  ctx.progress = ui_progress;
  ctx.opaque = &ui;
  ui.json = a.json;
  ui.tty = isatty (2);
  pthread_mutex_init (&ui.lock, NULL);
  ev.step = ui_step;
  ev.opaque = &ui;
  ferry_install_signals ();
  ferry_info ("%s %s: %zu steps, %u parallel", a.dry_run ? "dry-run" : "apply",
              r.plan->file, r.graph->n, a.parallel);
  if (ferry_engine_apply (&ctx, r.graph, r.keep, replace, a.parallel, &ev,
                          r.res, &err) < 0) {
    ferry_die_err (&err);
    goto out;
  }
  rc = summarize (&r, &a);
  report_openstack (&r);
out:
  ferry_run_free (&r);
  return rc;
}

const struct ferry_command ferry_cmd_apply = {
    .name = "apply",
    .run = apply_run,
    .usage = "PLAN|SAVED",
    .summary = "converge; rerun to resume",
    .description = "Converge the world to the plan; rerun to resume after "
                   "any failure.",
    .options = apply_options,
};
