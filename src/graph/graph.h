/* The dependency graph, built from the modules' declarations
 * (modules/module.h): one step per module and plan object of its scope for
 * which the module applies, edges from each module's `after` list, and
 * across VMs (depends_on: a VM's final step after the other VM's). */
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
int ferry_graph_build (const struct ferry_plan *plan, struct ferry_graph **ret,
                       struct ferry_err *err);
/* The same from the modules of REG (tests pass fake modules). */
int ferry_graph_build_with (const struct ferry_plan *plan,
                            const struct ferry_registry *reg,
                            struct ferry_graph **ret, struct ferry_err *err);
void ferry_graph_free (struct ferry_graph *g);
/* Index of the step with ID, or (size_t)-1. */
size_t ferry_graph_find (const struct ferry_graph *g, const char *id);
/* Which steps a run takes (apply --phase, docs/warm.md). */
enum ferry_phase {
  FERRY_PHASE_DEFAULT, /* cold VMs whole, warm VMs up to their pre-copy */
  FERRY_PHASE_PRECOPY, /* warm VMs' pre-copy steps only */
  FERRY_PHASE_CUTOVER, /* every step */
  FERRY_PHASE_LAST
};
/* "default", "precopy", "cutover"; and back (-1: unknown). */
const char *ferry_phase_name (enum ferry_phase p);
int ferry_phase_from_name (const char *s);
/* Narrow KEEP (n bools, in and out) to the steps PHASE runs and what they
 * depend on.  Returns the number of steps left out that KEEP had. */
size_t ferry_graph_select_phase (const struct ferry_graph *g,
                                 enum ferry_phase phase, bool *keep);
/* Mark in KEEP (n bools) the steps of the VMs named in VMS and everything
 * they depend on.  An unknown VM name is an error. */
int ferry_graph_select (const struct ferry_graph *g, char *const *vms,
                        size_t n_vms, bool *keep, struct ferry_err *err);
/* Render as text (one step per line with its dependencies) or Graphviz dot;
 * caller frees. */
char *ferry_graph_render (const struct ferry_graph *g, bool dot);

/* The final step of a VM (of a module declared vm_final), or (size_t)-1. */
size_t ferry_graph_vm_final (const struct ferry_graph *g, const char *vm);

#endif
