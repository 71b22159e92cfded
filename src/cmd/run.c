/* The run helper of the plan commands (validate, plan, apply, status,
 * graph, unlock): load the plan, select the --target VMs, open the
 * journal, take the lock; and the plan printer `plan` and `apply` share. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cmd/cmd.h"
#include "modules/guest.h"
#include "modules/lvsource.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "util/log.h"

/* Release everything ferry_run_load and the state helpers took: the
 * lock, the state, the graph, the plan; R is zeroed. */
void
ferry_run_free (struct ferry_run *r)
{
  ferry_guests_free (r->guests);
  ferry_run_state_close (r);
  ferry_os_sessions_free (r->os);
  ferry_graph_free (r->graph);
  ferry_plan_free (r->plan);
  free (r->keep);
  free (r->res);
  memset (r, 0, sizeof *r);
}

/* --target VM... → selection mask (left NULL when no --target): the one
 * implementation of --target. */
static int
select_targets (struct ferry_run *r, const struct ferry_targets *t)
{
  struct ferry_err err = {0};
  size_t i, n_warm = 0, left_out;

  for (i = 0; i < r->plan->n_vms; i++)
    n_warm += r->plan->vms[i].warm;
  if (t == NULL ||
      (t->n == 0 && (t->phase == FERRY_PHASE_CUTOVER ||
                     (t->phase == FERRY_PHASE_DEFAULT && n_warm == 0))))
    return 0;
  r->keep = calloc (r->graph->n + 1, sizeof *r->keep);
  if (r->keep == NULL) {
    ferry_error ("out of memory");
    return -1;
  }
  if (t->n == 0)
    memset (r->keep, 1, r->graph->n * sizeof *r->keep);
  else if (ferry_graph_select (r->graph, t->v, t->n, r->keep, &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  left_out = ferry_graph_select_phase (r->graph, t->phase, r->keep);
  if (t->phase == FERRY_PHASE_DEFAULT && left_out > 0)
    ferry_info ("%zu step%s of warm VMs wait for the cutover (apply --phase "
                "cutover, once their sources are shut down)",
                left_out, left_out == 1 ? "" : "s");
  return 0;
}

/* The first half of every plan command: load and validate FILE (every
 * diagnostic printed), build the graph and apply --target.  Prints; 0, or
 * -1 when the command should exit 1. */
int
ferry_run_load (const char *file, unsigned plan_flags,
                const struct ferry_targets *t, struct ferry_run *ret)
{
  struct ferry_diag diag = {0};
  struct ferry_err err = {0};
  size_t i;

  memset (ret, 0, sizeof *ret);
  ret->os = ferry_os_sessions_new ();
  ret->guests = ferry_guests_new ();
  if (ret->os == NULL || ret->guests == NULL) {
    ferry_error ("cannot allocate memory");
    return -1;
  }
  if (ferry_plan_load (file, plan_flags, &ret->plan, &diag, &err) < 0) {
    for (i = 0; i < diag.n; i++)
      ferry_say (stderr, FERRY_LOG_ERROR, "%s", diag.lines[i]);
    if (err.set)
      ferry_error ("%s", err.msg);
    else if (diag.n)
      ferry_error ("%s: %zu problem%s found", file, diag.n,
                   diag.n == 1 ? "" : "s");
    ferry_diag_free (&diag);
    return -1;
  }
  ferry_diag_free (&diag);
  /* libvirt source: the domains' disks and NICs before the graph */
  if (ferry_lvsource_discover (ret->plan, &err) < 0) {
    ferry_error ("%s: %s", file, err.msg);
    return -1;
  }
  if (ferry_graph_build (ret->plan, &ret->graph, &err) < 0) {
    ferry_error ("%s: %s", file, err.msg);
    return -1;
  }
  ret->res = calloc (ret->graph->n + 1, sizeof *ret->res);
  if (ret->res == NULL) {
    ferry_error ("out of memory");
    return -1;
  }
  return select_targets (ret, t);
}

/* Take the plan's lock; a lock left by a dead process on this host (a
 * crashed or killed apply) is taken over, atomically, with a warning. */
static int
take_lock (struct ferry_run *r)
{
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  struct ferry_lock_owner taken;
  struct ferry_err err = {0};

  memset (&taken, 0, sizeof taken);
  if (ferry_state_lock_acquire (r->state, &plan, FERRY_LOCK_TAKE_STALE,
                                &r->lock, &taken, &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  if (taken.pid != 0)
    ferry_warn ("taking over the lock of pid %d on this host: that process "
                "is gone (crashed or killed)",
                (int) taken.pid);
  ferry_test_gate ("FERRY_TEST_PLAN_LOCK_GATE");
  return 0;
}

/* Open the plan's state through the state interface (the backend comes
 * from the plan's state block); a writer also takes the plan lock.  See
 * cmd.h. */
int
ferry_run_state (struct ferry_run *r, bool write)
{
  struct ferry_err err = {0};
  size_t first = 0, bad;

  if (ferry_state_open (&r->plan->state, !write, &r->state, &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  if (write) {
    /* the lock lives with the state; replay again once it is held, so
     * that events of the run that held it before are folded in */
    if (take_lock (r) < 0) {
      ferry_run_state_close (r);
      return -1;
    }
    ferry_state_close (r->state);
    r->state = NULL;
    if (ferry_state_open (&r->plan->state, false, &r->state, &err) < 0) {
      ferry_die_err (&err);
      ferry_run_state_close (r);
      return -1;
    }
  }
  bad = ferry_state_bad_lines (r->state, &first);
  if (bad)
    ferry_warn ("%s: %zu unreadable line%s ignored (first: line "
                "%zu; a torn line after a crash is expected)",
                ferry_state_where (r->state), bad, bad == 1 ? "" : "s", first);
  return 0;
}

/* Release the plan lock (if held) and close the state. */
void
ferry_run_state_close (struct ferry_run *r)
{
  ferry_state_lock_release (r->wave);
  r->wave = NULL;
  ferry_state_lock_release (r->lock);
  r->lock = NULL;
  ferry_state_close (r->state);
  r->state = NULL;
}

/* The journal record that says which plan file wrote the state last: a
 * DONE whose identity is the plan file's real path.  Not a step id any
 * plan can make (ids are VM and object names joined by '/'); older ferry
 * versions fold it as a step no graph has, and never show it. */
#define PLAN_RECORD "@plan"

/* The plan file that last wrote R's state (malloc'd path) when it is
 * another file than R's plan that still exists, else NULL. */
static char *
other_writer (struct ferry_run *r)
{
  const struct ferry_step_record *rec =
      ferry_state_step (r->state, PLAN_RECORD);
  struct stat mine, theirs;

  if (rec == NULL || rec->done_ident == NULL ||
      stat (r->plan->file, &mine) < 0 || stat (rec->done_ident, &theirs) < 0)
    return NULL;
  if (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)
    return NULL;
  return strdup (rec->done_ident);
}

/* Warn when another existing plan file wrote R's state last. */
void
ferry_run_check_writer (struct ferry_run *r)
{
  char *other = other_writer (r);

  if (other == NULL)
    return;
  ferry_warn ("state '%s' was last written by plan '%s'; two plans share "
              "metadata.name '%s' — give each its own metadata.name or "
              "state.path",
              r->plan->state.path ? r->plan->state.path
                                  : ferry_state_where (r->state),
              other, r->plan->name);
  free (other);
}

/* Record R's plan file (its real path) as the state's writer, once per
 * change of writer, so the journal does not grow on every apply. */
int
ferry_run_record_writer (struct ferry_run *r)
{
  const struct ferry_step_record *rec =
      ferry_state_step (r->state, PLAN_RECORD);
  struct ferry_journal_entry e = {.step = PLAN_RECORD,
                                  .event = FERRY_EVENT_DONE};
  struct ferry_err err = {0};
  char real[PATH_MAX];

  if (realpath (r->plan->file, real) == NULL)
    return 0; /* no name to record; nothing depends on it */
  if (rec != NULL && rec->done_ident != NULL &&
      strcmp (rec->done_ident, real) == 0)
    return 0;
  e.ident = real;
  if (ferry_state_append (r->state, &e, &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  return 0;
}

/* Count the selected steps by what check said: to create, to update,
 * done, and blocked (anything else). */
void
ferry_count_need (const struct ferry_run *r, struct ferry_need_counts *c)
{
  const struct ferry_step_result *res = r->res;
  size_t i;

  memset (c, 0, sizeof *c);
  for (i = 0; i < r->graph->n; i++) {
    if (res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    switch (res[i].obs.need) {
    case FERRY_NEED_CREATE:
      c->create++;
      break;
    case FERRY_NEED_UPDATE:
      c->update++;
      break;
    case FERRY_NEED_DONE:
      c->done++;
      break;
    default:
      c->blocked++;
      break;
    }
  }
}

/* The JSON form of ferry_print_plan. */
static void
print_plan_json (const struct ferry_run *r, const struct ferry_need_counts *c,
                 FILE *out)
{
  const struct ferry_graph *g = r->graph;
  const struct ferry_step_result *res = r->res;
  cJSON *root = cJSON_CreateObject (), *steps = cJSON_CreateArray (), *s;
  char *text;
  size_t k, i;

  cJSON_AddStringToObject (root, "plan", r->plan->name);
  cJSON_AddStringToObject (root, "file", r->plan->file);
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    if (res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    s = cJSON_CreateObject ();
    cJSON_AddStringToObject (s, "id", g->steps[i].id);
    cJSON_AddStringToObject (s, "module", g->steps[i].module_name);
    cJSON_AddStringToObject (s, "action", ferry_need_name (res[i].obs.need));
    cJSON_AddStringToObject (s, "detail", res[i].obs.detail);
    cJSON_AddItemToArray (steps, s);
  }
  cJSON_AddItemToObject (root, "steps", steps);
  s = cJSON_CreateObject ();
  cJSON_AddNumberToObject (s, "create", (double) c->create);
  cJSON_AddNumberToObject (s, "update", (double) c->update);
  cJSON_AddNumberToObject (s, "done", (double) c->done);
  cJSON_AddNumberToObject (s, "blocked", (double) c->blocked);
  cJSON_AddItemToObject (root, "summary", s);
  text = cJSON_Print (root);
  fprintf (out, "%s\n", text);
  free (text);
  cJSON_Delete (root);
}

/* Print what `plan` observed: one line per selected step in topological
 * order ("+", "~", "=", "!" and the module's description) and the summary
 * counts, or the JSON form. */
void
ferry_print_plan (const struct ferry_run *r, bool json, FILE *out)
{
  const struct ferry_graph *g = r->graph;
  const struct ferry_step_result *res = r->res;
  struct ferry_need_counts c;
  char line[1200];
  size_t k, i;

  ferry_count_need (r, &c);
  if (json) {
    print_plan_json (r, &c, out);
    return;
  }
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    const struct ferry_step *s = &g->steps[i];
    if (res[i].status == FERRY_STATUS_EXCLUDED)
      continue;
    if (s->module && res[i].obs.need != FERRY_NEED_BLOCKED)
      s->module->describe (s, &res[i].obs, line, sizeof line);
    else
      snprintf (line, sizeof line, "%s", res[i].obs.detail);
    ferry_say (out, FERRY_LOG_INFO, "%s %s: %s%s%s",
               ferry_need_sign (res[i].obs.need), s->id,
               res[i].obs.need == FERRY_NEED_BLOCKED ? "blocked (" : "", line,
               res[i].obs.need == FERRY_NEED_BLOCKED ? ")" : "");
  }
  fputc ('\n', out);
  ferry_say (out, FERRY_LOG_INFO,
             "%zu to create, %zu to update, %zu done, %zu blocked", c.create,
             c.update, c.done, c.blocked);
}
