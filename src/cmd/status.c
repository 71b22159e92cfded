/* ferry status PLAN: each step's state as the journal records it. */
#include <stdlib.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cmd/cmd.h"

enum { OPT_JSON = FERRY_OPT_LONG };

static const struct ferry_option status_options[] = {
    {"json", OPT_JSON, NULL, "machine-readable output"},
    {0},
};

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
