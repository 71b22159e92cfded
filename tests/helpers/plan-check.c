/* plan-check [--no-disk-check] PLAN...: load each plan with the C validator
 * and print every diagnostic line; exit 1 if any plan has a problem.  Lets
 * shell tests exercise src/plan/ directly. */
#include <stdio.h>
#include <string.h>

#include "plan/plan.h"

int
main (int argc, char **argv)
{
  unsigned flags = 0;
  int i, status = 0;
  size_t j;

  for (i = 1; i < argc; i++) {
    struct ferry_err err = {0};
    struct ferry_diag diag = {0};
    struct ferry_plan *plan = NULL;

    if (strcmp (argv[i], "--no-disk-check") == 0) {
      flags |= FERRY_PLAN_NO_DISK_CHECK;
      continue;
    }
    if (ferry_plan_load (argv[i], flags, &plan, &diag, &err) < 0) {
      for (j = 0; j < diag.n; j++)
        printf ("%s\n", diag.lines[j]);
      if (err.set)
        printf ("plan-check: error: %s\n", err.msg);
      ferry_diag_free (&diag);
      status = 1;
      continue;
    }
    ferry_plan_free (plan);
  }
  return status;
}
