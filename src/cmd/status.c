/* ferry status PLAN: each step's state as the journal records it, the VMs'
 * totals, and who holds the plan's locks (a wave of workers). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cmd/cmd.h"
#include "util/cleanup.h"

enum { OPT_JSON = FERRY_OPT_LONG };

static const struct ferry_option status_options[] = {
    {"json", OPT_JSON, NULL, "machine-readable output"},
    {0},
};

/* Wall-clock ms since the epoch. */
static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The state word and the time of a step's last record. */
static const char *
record_state (const struct ferry_step_record *rec, char *when, size_t len)
{
  time_t t;
  struct tm tm;

  when[0] = '\0';
  if (rec == NULL)
    return "not started";
  t = (time_t) (rec->time_ms / 1000);
  gmtime_r (&t, &tm);
  strftime (when, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return rec->last == FERRY_EVENT_DONE   ? "done"
         : rec->last == FERRY_EVENT_FAIL ? "failed"
                                         : "in progress";
}

/* Progress of VM V's steps in progress (conversions): bytes copied by
 * their current attempts (since the BEGIN they resumed from) into *BYTES,
 * and their summed rate in bytes/s into *RATE. */
static void
vm_progress (const struct ferry_run *r, size_t v, uint64_t *bytes, double *rate)
{
  const struct ferry_graph *g = r->graph;
  const struct ferry_step_record *rec;
  size_t i;

  for (i = 0; i < g->n; i++) {
    if (g->steps[i].vm != &r->plan->vms[v])
      continue;
    rec = ferry_state_step (r->state, g->steps[i].id);
    if (rec == NULL || rec->last != FERRY_EVENT_BEGIN || !rec->has_checkpoint ||
        rec->checkpoint < rec->begin_offset)
      continue;
    *bytes += rec->checkpoint - rec->begin_offset;
    if (rec->time_ms > rec->begin_ms)
      *rate += (double) (rec->checkpoint - rec->begin_offset) * 1000.0 /
               (double) (rec->time_ms - rec->begin_ms);
  }
}

/* The workers of a wave, by host: how many VMs each host runs now (the
 * VM locks it holds, stale ones apart), the bytes their conversions copied
 * so far and at what rate (from the checkpoints).  Prints (or adds "hosts"
 * to ROOT); -1 when a lock cannot be read. */
static int
print_hosts (struct ferry_run *r, cJSON *root)
{
  size_t n = r->plan->n_vms, n_hosts = 0, v, h;
  CLEANUP_FREE char (*hosts)[256] = calloc (n + 1, sizeof *hosts);
  CLEANUP_FREE size_t *count = calloc (n + 1, sizeof *count);
  CLEANUP_FREE uint64_t *bytes = calloc (n + 1, sizeof *bytes);
  CLEANUP_FREE double *rate = calloc (n + 1, sizeof *rate);
  struct ferry_lock_owner who;
  struct ferry_err err = {0};
  cJSON *o = root ? cJSON_CreateObject () : NULL, *ho;
  int k;

  if (hosts == NULL || count == NULL || bytes == NULL || rate == NULL) {
    cJSON_Delete (o);
    ferry_error ("out of memory");
    return -1;
  }
  for (v = 0; v < n; v++) {
    const struct ferry_lock_scope scope = {.kind = FERRY_LOCK_SCOPE_VM,
                                           .vm = r->plan->vms[v].name};
    k = ferry_state_lock_read (r->state, &scope, &who, &err);
    if (k < 0) {
      cJSON_Delete (o);
      ferry_die_err (&err);
      return -1;
    }
    if (k == 0 || ferry_lock_is_stale (&who))
      continue;
    for (h = 0; h < n_hosts && strcmp (hosts[h], who.host) != 0; h++)
      ;
    if (h == n_hosts)
      snprintf (hosts[n_hosts++], sizeof hosts[0], "%s", who.host);
    count[h]++;
    vm_progress (r, v, &bytes[h], &rate[h]);
  }
  for (h = 0; h < n_hosts; h++) {
    if (o) {
      ho = cJSON_CreateObject ();
      cJSON_AddNumberToObject (ho, "running", (double) count[h]);
      cJSON_AddNumberToObject (ho, "bytes", (double) bytes[h]);
      cJSON_AddNumberToObject (ho, "bytes_per_second", rate[h]);
      cJSON_AddItemToObject (o, hosts[h], ho);
    } else
      printf ("%s%s: %zu VM%s running, %.1f MiB copied at %.1f MiB/s",
              h ? "; " : "\nhosts: ", hosts[h], count[h],
              count[h] == 1 ? "" : "s", (double) bytes[h] / 1048576.0,
              rate[h] / 1048576.0);
  }
  if (o)
    cJSON_AddItemToObject (root, "hosts", o);
  else if (n_hosts)
    putchar ('\n');
  return 0;
}

/* Per step of R's graph: true when it failed, or needs (directly or not)
 * a step that failed.  Malloc'd, NULL out of memory. */
static bool *
failed_or_behind (const struct ferry_run *r)
{
  const struct ferry_graph *g = r->graph;
  const struct ferry_step_record *rec;
  bool *bad = calloc (g->n + 1, sizeof *bad);
  size_t k, i, d;

  for (k = 0; bad && k < g->n; k++) {
    i = g->order[k]; /* a step's needs come before it */
    rec = ferry_state_step (r->state, g->steps[i].id);
    bad[i] = rec && rec->last == FERRY_EVENT_FAIL;
    for (d = 0; d < g->steps[i].n_deps && !bad[i]; d++)
      bad[i] = bad[g->steps[i].deps[d]];
  }
  return bad;
}

/* Per-VM totals from the journal, and who holds which lock (plan, VMs):
 * what an operator of a wave of workers looks at.  A VM is blocked when it
 * needs a step of another VM (or a plan-wide one) that failed or is itself
 * blocked.  Prints (or adds to ROOT); -1 when a lock cannot be read. */
static int
print_vms_and_locks (struct ferry_run *r, cJSON *root)
{
  const struct ferry_graph *g = r->graph;
  size_t n_vm = r->plan->n_vms, counts[6] = {0}, v, i, d;
  static const char *const names[6] = {"done",    "running",     "failed",
                                       "blocked", "in progress", "not started"};
  CLEANUP_FREE bool *bad = failed_or_behind (r);
  cJSON *locks = root ? cJSON_CreateArray () : NULL, *o;
  struct ferry_lock_owner who;
  struct ferry_err err = {0};
  char desc[512];
  bool any = false;
  int k;

  if (bad == NULL) {
    cJSON_Delete (locks);
    ferry_error ("out of memory");
    return -1;
  }
  if (root)
    cJSON_AddItemToObject (root, "locks", locks);
  else
    printf ("\nlocks:\n");
  for (v = 0; v <= n_vm; v++) {
    const struct ferry_lock_scope scope = {
        .kind = v == n_vm ? FERRY_LOCK_SCOPE_PLAN : FERRY_LOCK_SCOPE_VM,
        .vm = v == n_vm ? NULL : r->plan->vms[v].name};
    bool all_done = true, failed = false, begun = false, blocked = false;
    k = ferry_state_lock_read (r->state, &scope, &who, &err);
    if (k < 0) {
      ferry_die_err (&err);
      return -1;
    }
    if (k == 1) {
      bool stale = ferry_lock_is_stale (&who);
      any = true;
      ferry_lock_describe (&who, desc, sizeof desc);
      if (root) {
        o = cJSON_CreateObject ();
        cJSON_AddStringToObject (o, "scope",
                                 ferry_lock_scope_name (scope.kind));
        if (scope.vm)
          cJSON_AddStringToObject (o, "vm", scope.vm);
        cJSON_AddStringToObject (o, "host", who.host);
        cJSON_AddNumberToObject (o, "pid", (double) who.pid);
        cJSON_AddNumberToObject (o, "since", (double) who.started);
        cJSON_AddStringToObject (o, "version", who.version);
        cJSON_AddBoolToObject (o, "stale", stale);
        if (who.renewed_ms)
          cJSON_AddNumberToObject (o, "renewed_ms", (double) who.renewed_ms);
        cJSON_AddItemToArray (locks, o);
      } else {
        printf ("  %s%s%s: %s%s", scope.vm ? "vm '" : "plan",
                scope.vm ? scope.vm : "", scope.vm ? "'" : "", desc,
                stale ? " (stale: that process is gone; 'ferry unlock')" : "");
        if (who.renewed_ms)
          printf (", renewed %llds ago",
                  (long long) ((now_ms () - who.renewed_ms) / 1000));
        putchar ('\n');
      }
    }
    if (v == n_vm)
      break;
    for (i = 0; i < g->n; i++) {
      const struct ferry_step_record *rec;
      if (g->steps[i].vm != &r->plan->vms[v])
        continue;
      rec = ferry_state_step (r->state, g->steps[i].id);
      if (rec == NULL || rec->last != FERRY_EVENT_DONE)
        all_done = false;
      if (rec && rec->last == FERRY_EVENT_FAIL)
        failed = true;
      if (rec)
        begun = true;
      for (d = 0; d < g->steps[i].n_deps; d++)
        if (g->steps[g->steps[i].deps[d]].vm != g->steps[i].vm &&
            bad[g->steps[i].deps[d]])
          blocked = true;
    }
    counts[all_done  ? 0
           : k == 1  ? 1
           : failed  ? 2
           : blocked ? 3
           : begun   ? 4
                     : 5]++;
  }
  if (!root && !any)
    printf ("  none held\n");
  if (print_hosts (r, root) < 0)
    return -1;
  if (root) {
    o = cJSON_CreateObject ();
    for (i = 0; i < 6; i++)
      cJSON_AddNumberToObject (o, names[i], (double) counts[i]);
    cJSON_AddItemToObject (root, "vms", o);
  } else {
    printf ("\nVMs: %zu", n_vm);
    for (i = 0; i < 6; i++)
      printf (", %zu %s", counts[i], names[i]);
    printf ("\n");
  }
  return 0;
}

/* Load the plan, read the journal, print one line (or object) per step. */
static int
status_run (int argc, char **argv)
{
  const struct ferry_step_record *rec;
  struct ferry_run r;
  bool json = false;
  char when[64];
  cJSON *root = NULL, *arr = NULL, *o;
  size_t k, i;
  int c, rc = FERRY_EXIT_ERROR;

  while ((c = ferry_cmd_getopt (&ferry_cmd_status, argc, argv)) != -1) {
    if (c == OPT_JSON)
      json = true;
    else if (c == 'h') {
      ferry_command_usage (&ferry_cmd_status, stdout);
      return FERRY_EXIT_OK;
    } else
      return FERRY_EXIT_ERROR;
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_status);
  if (ferry_run_load (argv[optind], FERRY_PLAN_NO_DISK_CHECK, NULL, &r) < 0 ||
      ferry_run_state (&r, false) < 0)
    goto out;
  if (json) {
    root = cJSON_CreateObject ();
    arr = cJSON_CreateArray ();
    cJSON_AddStringToObject (root, "plan", r.plan->name);
    cJSON_AddStringToObject (root, "backend", ferry_state_backend (r.state));
    cJSON_AddStringToObject (root, "journal",
                             r.plan->state.path ? r.plan->state.path
                                                : ferry_state_where (r.state));
    cJSON_AddItemToObject (root, "steps", arr);
  }
  for (k = 0; k < r.graph->n; k++) {
    i = r.graph->order[k];
    const char *id = r.graph->steps[i].id, *state;
    rec = ferry_state_step (r.state, id);
    state = record_state (rec, when, sizeof when);
    if (json) {
      o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "id", id);
      cJSON_AddStringToObject (o, "state", state);
      if (rec) {
        cJSON_AddStringToObject (o, "changed", when);
        if (rec->has_checkpoint)
          cJSON_AddNumberToObject (o, "checkpoint", (double) rec->checkpoint);
        if (rec->msg)
          cJSON_AddStringToObject (o, "message", rec->msg);
      }
      cJSON_AddItemToArray (arr, o);
    } else {
      printf ("%-40s %-12s %s", id, state, when);
      if (rec && rec->has_checkpoint && rec->last != FERRY_EVENT_DONE)
        printf ("  checkpoint %llu MiB",
                (unsigned long long) (rec->checkpoint >> 20));
      if (rec && rec->last == FERRY_EVENT_FAIL && rec->msg)
        printf ("  %s", rec->msg);
      putchar ('\n');
    }
  }
  if (print_vms_and_locks (&r, root) < 0) {
    cJSON_Delete (root);
    goto out;
  }
  if (json) {
    char *text = cJSON_Print (root);
    printf ("%s\n", text);
    free (text);
    cJSON_Delete (root);
  }
  rc = FERRY_EXIT_OK;
out:
  ferry_run_free (&r);
  return rc;
}

const struct ferry_command ferry_cmd_status = {
    .name = "status",
    .run = status_run,
    .usage = "PLAN",
    .summary = "per-step state from the journal",
    .description = "Show each step's state as the journal records it.",
    .options = status_options,
};
