/* The dependency graph: every VM expands into steps; edges inside a VM
 * (convert → resize → inject → customize → port → boot) and across VMs
 * (depends_on: boot after the other VM's boot). */
#ifndef FERRY_GRAPH_H
#define FERRY_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "modules/module.h"
#include "plan/plan.h"
#include "util/err.h"

struct ferry_graph {
  struct ferry_step *steps; /* all steps */
  size_t n;                 /* number of steps */
  size_t *order;            /* a topological order (indices into steps) */
};

/* Expand PLAN into steps and edges, and order them.  A cycle is an error
 * that prints the cycle. */
int ferry_graph_build (const struct ferry_plan *plan,
                       struct ferry_graph **ret, struct ferry_err *err);
void ferry_graph_free (struct ferry_graph *g);
/* Index of the step with ID, or (size_t)-1. */
size_t ferry_graph_find (const struct ferry_graph *g, const char *id);
/* Mark in KEEP (n bools) the steps of the VMs named in VMS and everything
 * they depend on.  An unknown VM name is an error. */
int ferry_graph_select (const struct ferry_graph *g, char *const *vms,
                        size_t n_vms, bool *keep, struct ferry_err *err);
/* Render as text (one step per line with its dependencies) or Graphviz dot;
 * caller frees. */
char *ferry_graph_render (const struct ferry_graph *g, bool dot);

/* The last step of a VM (its boot/define step), or (size_t)-1. */
size_t ferry_graph_vm_final (const struct ferry_graph *g, const char *vm);

#endif
