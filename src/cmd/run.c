/* The run helper of the plan commands (validate, plan, apply, status,
 * graph, unlock): load the plan, select the --target VMs, open the
 * journal, take the lock; and the plan printer `plan` and `apply` share. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd/cmd.h"
#include "modules/module.h"
#include "util/log.h"

void
ferry_run_free (struct ferry_run *r)
{
  ferry_run_journal_close (r);
  ferry_graph_free (r->graph);
  ferry_plan_free (r->plan);
  free (r->journal_path);
  free (r->lock_path);
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

  if (t == NULL || t->n == 0)
    return 0;
  r->keep = calloc (r->graph->n + 1, sizeof *r->keep);
  if (r->keep == NULL) {
    ferry_error ("out of memory");
    return -1;
  }
  if (ferry_graph_select (r->graph, t->v, t->n, r->keep, &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  return 0;
}

int
ferry_run_load (const char *file, unsigned plan_flags,
                const struct ferry_targets *t, struct ferry_run *ret)
{
  struct ferry_diag diag = {0};
  struct ferry_err err = {0};
  size_t i;

  memset (ret, 0, sizeof *ret);
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
  if (ferry_graph_build (ret->plan, &ret->graph, &err) < 0) {
    ferry_error ("%s: %s", file, err.msg);
    return -1;
  }
  if (ret->plan->state.backend && strcmp (ret->plan->state.backend, "file")) {
    ferry_error ("%s: state backend '%s' is not available in "
                 "ferry %s (use backend: file)",
                 file, ret->plan->state.backend, FERRY_VERSION);
    return -1;
  }
  ret->journal_path = strdup (ret->plan->state.path);
  ret->res = calloc (ret->graph->n + 1, sizeof *ret->res);
  if (ret->journal_path == NULL || ret->res == NULL ||
      asprintf (&ret->lock_path, "%s.lock", ret->plan->state.path) < 0) {
    ret->lock_path = NULL;
    ferry_error ("out of memory");
    return -1;
  }
  return select_targets (ret, t);
}

/* Take the plan's lock; a lock left by a dead process on this host (a
 * crashed or killed apply) is taken over with a warning. */
static int
take_lock (const char *path, struct ferry_lock **ret)
{
  struct ferry_lock_owner owner;
  struct ferry_err err = {0};

  if (ferry_lock_acquire (path, ret, &err) == 0)
    return 0;
  if (ferry_lock_read (path, &owner, NULL) == 1 &&
      ferry_lock_is_stale (&owner)) {
    ferry_warn ("taking over the lock of pid %d on this host: that process "
                "is gone (crashed or killed)",
                (int) owner.pid);
    ferry_err_clear (&err);
    if (ferry_lock_break (path, false, &owner, &err) >= 0 &&
        ferry_lock_acquire (path, ret, &err) == 0)
      return 0;
  }
  ferry_die_err (&err);
  return -1;
}

int
ferry_run_journal (struct ferry_run *r, bool write)
{
  struct ferry_err err = {0};
  size_t first = 0, bad;

  if (write && take_lock (r->lock_path, &r->lock) < 0)
    return -1;
  if (ferry_journal_open (r->journal_path, !write, &r->journal, &err) < 0) {
    ferry_die_err (&err);
    return -1;
  }
  bad = ferry_journal_bad_lines (r->journal, &first);
  if (bad)
    ferry_warn ("journal '%s': %zu unreadable line%s ignored (first: line "
                "%zu; a torn line after a crash is expected)",
                r->journal_path, bad, bad == 1 ? "" : "s", first);
  return 0;
}

void
ferry_run_journal_close (struct ferry_run *r)
{
  ferry_journal_close (r->journal);
  r->journal = NULL;
  ferry_lock_release (r->lock);
  r->lock = NULL;
}

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
