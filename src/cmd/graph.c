/* ferry graph PLAN: the dependency graph of the plan's steps. */
#include <stdlib.h>

#include "cmd/cmd.h"

enum { OPT_DOT = FERRY_OPT_LONG };

static const struct ferry_option graph_options[] = {
    {"dot", OPT_DOT, NULL, "Graphviz format"},
    {0},
};

/* Load the plan and render its graph. */
static int
graph_run (int argc, char **argv)
{
  struct ferry_run r;
  bool dot = false;
  char *text = NULL;
  int c;

  while ((c = ferry_cmd_getopt (&ferry_cmd_graph, argc, argv)) != -1) {
    if (c == OPT_DOT)
      dot = true;
    else if (c == 'h') {
      ferry_command_usage (&ferry_cmd_graph, stdout);
      return FERRY_EXIT_OK;
    } else
      return FERRY_EXIT_ERROR;
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_graph);
  if (ferry_run_load (argv[optind], FERRY_PLAN_NO_DISK_CHECK, NULL, &r) == 0) {
    text = ferry_graph_render (r.graph, dot);
    if (text)
      fputs (text, stdout);
  }
  ferry_run_free (&r);
  free (text);
  return text ? FERRY_EXIT_OK : FERRY_EXIT_ERROR;
}

const struct ferry_command ferry_cmd_graph = {
    .name = "graph",
    .run = graph_run,
    .usage = "PLAN",
    .summary = "the dependency graph (--dot)",
    .description = "Print the dependency graph of the plan's steps.",
    .options = graph_options,
};
