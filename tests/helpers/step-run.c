/* step-run PLAN STEP [check]: run one step's module by hand, outside the
 * engine: check, then (unless "check" is given or the check says done or
 * blocked) apply and verify, with the plan's journal open for writing.
 * Prints "VERDICT: detail" after each check and "applied" after a verify.
 * Lets a lab test drive one module while the modules it runs after are
 * not in this build (the engine would show it blocked behind them).
 * Exit 0, or 1 with the error on stderr. */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "modules/guest.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "plan/plan.h"
#include "state/state.h"

/* Run the step's check and print its verdict. */
static int
check (struct ferry_ctx *ctx, const struct ferry_step *s,
       struct ferry_observation *obs, struct ferry_err *err)
{
  memset (obs, 0, sizeof *obs);
  if (s->module->check (ctx, s, obs, err) < 0)
    return -1;
  printf ("%s: %s\n", ferry_need_name (obs->need), obs->detail);
  return 0;
}

int
main (int argc, char **argv)
{
  struct ferry_err err = {0};
  struct ferry_diag diag = {0};
  struct ferry_plan *plan = NULL;
  struct ferry_graph *g = NULL;
  struct ferry_ctx ctx = {0};
  struct ferry_observation obs;
  const struct ferry_step *s;
  size_t i;
  int rc = 1;

  if (argc < 3 || argc > 4 || (argc == 4 && strcmp (argv[3], "check"))) {
    fprintf (stderr, "usage: step-run PLAN STEP [check]\n");
    return 1;
  }
  ctx.os = ferry_os_sessions_new ();
  ctx.guests = ferry_guests_new ();
  if (ferry_plan_load (argv[1], 0, &plan, &diag, &err) < 0 ||
      ferry_graph_build (plan, &g, &err) < 0)
    goto out;
  i = ferry_graph_find (g, argv[2]);
  if (i == (size_t) -1) {
    ferry_err_set (&err, 0, "no step '%s'", argv[2]);
    goto out;
  }
  s = &g->steps[i];
  if (s->module->planned) {
    ferry_err_set (&err, 0, "module '%s' is planned", s->module_name);
    goto out;
  }
  ctx.plan = plan;
  ctx.dry_run = argc == 4;
  if (ferry_state_open (&plan->state, ctx.dry_run, &ctx.state, &err) < 0 ||
      check (&ctx, s, &obs, &err) < 0)
    goto out;
  if (ctx.dry_run || obs.need == FERRY_NEED_DONE ||
      obs.need == FERRY_NEED_BLOCKED) {
    rc = 0;
    goto out;
  }
  if (s->module->apply (&ctx, s, &err) < 0 ||
      s->module->verify (&ctx, s, &err) < 0)
    goto out;
  printf ("applied\n");
  rc = check (&ctx, s, &obs, &err) < 0;
out:
  for (i = 0; i < diag.n; i++)
    fprintf (stderr, "%s\n", diag.lines[i]);
  if (err.set)
    fprintf (stderr, "step-run: error: %s\n", err.msg);
  ferry_diag_free (&diag);
  ferry_state_close (ctx.state);
  ferry_guests_free (ctx.guests);
  ferry_os_sessions_free (ctx.os);
  ferry_graph_free (g);
  ferry_plan_free (plan);
  return rc;
}
