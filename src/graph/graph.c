/* Building the step graph from a plan, cycle check, topological order. */
#include "graph/graph.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* Growable step array while building. */
struct builder {
  const struct ferry_plan *plan;     /* the plan */
  const struct ferry_registry *reg;  /* the module declarations */
  const struct ferry_module **order; /* reg's modules, `after` first */
  struct ferry_graph *g;             /* the graph being built */
  size_t cap;                        /* allocated steps */
};

/* Add a step of MODULE for the object (VM, INDEX) of its scope; returns its
 * index or (size_t)-1 on allocation failure. */
static size_t
add_step (struct builder *b, const struct ferry_module *m,
          const struct ferry_vm *vm, const struct ferry_plan_target *target,
          size_t index)
{
  const char *sn = m->step_name ? m->step_name : m->name;
  struct ferry_step *s;
  int r = -1;

  if (b->g->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    s = realloc (b->g->steps, cap * sizeof *s);
    if (s == NULL)
      return (size_t) -1;
    b->g->steps = s;
    b->cap = cap;
  }
  s = &b->g->steps[b->g->n];
  memset (s, 0, sizeof *s);
  switch (m->scope) {
  case FERRY_SCOPE_PLAN:
    r = asprintf (&s->id, "%s", sn);
    s->obj.plan = b->plan;
    break;
  case FERRY_SCOPE_VM:
    r = asprintf (&s->id, "%s/%s", vm->name, sn);
    s->obj.vm = vm;
    break;
  case FERRY_SCOPE_DISK:
    r = asprintf (&s->id, "%s/%s/disk%zu", vm->name, sn, index);
    s->obj.disk = &vm->disks[index];
    break;
  case FERRY_SCOPE_PORT:
    r = asprintf (&s->id, "%s/%s/%zu", vm->name, sn, index);
    s->obj.port = &vm->ports[index];
    break;
  case FERRY_SCOPE_FLAVOR:
    r = asprintf (&s->id, "%s/%s", sn, b->plan->flavors[index].name);
    s->obj.flavor = &b->plan->flavors[index];
    break;
  case FERRY_SCOPE_LAST:
    break;
  }
  if (r < 0) {
    s->id = NULL;
    return (size_t) -1;
  }
  s->module_name = m->name;
  s->module = m;
  s->scope = m->scope;
  s->index = index;
  s->vm = vm;
  s->target = target;
  return b->g->n++;
}

/* Add the edge FROM needs TO. */
static int
add_dep (struct ferry_graph *g, size_t from, size_t to)
{
  struct ferry_step *s = &g->steps[from];
  size_t *d, i;

  for (i = 0; i < s->n_deps; i++)
    if (s->deps[i] == to)
      return 0;
  d = realloc (s->deps, (s->n_deps + 1) * sizeof *d);
  if (d == NULL)
    return -1;
  d[s->n_deps++] = to;
  s->deps = d;
  return 0;
}

/* The VM's target (its own or the default), or NULL. */
static const struct ferry_plan_target *
vm_target (const struct ferry_plan *plan, const struct ferry_vm *vm)
{
  const char *name = vm->target ? vm->target : plan->defaults.target;

  return name ? ferry_plan_target (plan, name) : NULL;
}

/* The name of the flavor VM uses, or NULL. */
static const char *
vm_flavor (const struct ferry_plan *plan, const struct ferry_vm *vm)
{
  return vm->flavor ? vm->flavor : plan->defaults.flavor;
}

/* Does module M run after module NAME? */
static bool
runs_after (const struct ferry_module *m, const char *name)
{
  const char *const *a;

  for (a = m->after; a && *a; a++)
    if (strcmp (*a, name) == 0)
      return true;
  return false;
}

/* Is step T (a candidate dependency) about the same thing as step S: the
 * same VM; the same disk or port when both have one; the VM's flavor; the
 * plan. */
static bool
related (const struct ferry_plan *plan, const struct ferry_step *s,
         const struct ferry_step *t)
{
  const char *fl;

  if (t->scope == FERRY_SCOPE_PLAN || s->scope == FERRY_SCOPE_PLAN)
    return true;
  if (t->scope == FERRY_SCOPE_FLAVOR) {
    if (s->scope == FERRY_SCOPE_FLAVOR)
      return s->index == t->index;
    fl = vm_flavor (plan, s->vm);
    return fl && strcmp (fl, plan->flavors[t->index].name) == 0;
  }
  if (s->scope == FERRY_SCOPE_FLAVOR)
    return t->vm && (fl = vm_flavor (plan, t->vm)) != NULL &&
           strcmp (fl, plan->flavors[s->index].name) == 0;
  if (s->vm != t->vm)
    return false;
  if (s->scope == t->scope &&
      (s->scope == FERRY_SCOPE_DISK || s->scope == FERRY_SCOPE_PORT))
    return s->index == t->index;
  return true;
}

/* Does M apply to the VM's target and source kinds? */
static bool
kinds_match (const struct ferry_plan *plan, const struct ferry_module *m,
             const struct ferry_vm *vm, const struct ferry_plan_target *t)
{
  const char *sname = vm->source ? vm->source : plan->defaults.source;
  const struct ferry_source *src =
      sname ? ferry_plan_source (plan, sname) : NULL;
  /* a missing target or source (NONE) matches no declared kind */
  if (m->targets &&
      !(m->targets & FERRY_KIND (t ? t->type : FERRY_PLAN_TARGET_NONE)))
    return false;
  if (m->sources &&
      !(m->sources & FERRY_KIND (src ? src->type : FERRY_SOURCE_NONE)))
    return false;
  return true;
}

/* Add a step of M for (VM, INDEX) unless its `applies` says no. */
static int
try_add (struct builder *b, const struct ferry_module *m,
         const struct ferry_vm *vm, const struct ferry_plan_target *t,
         size_t index)
{
  struct ferry_step probe = {0};

  probe.module = m;
  probe.module_name = m->name;
  probe.scope = m->scope;
  probe.index = index;
  probe.vm = vm;
  probe.target = t;
  if (vm && m->scope == FERRY_SCOPE_DISK)
    probe.obj.disk = &vm->disks[index];
  else if (vm && m->scope == FERRY_SCOPE_PORT)
    probe.obj.port = &vm->ports[index];
  else if (vm)
    probe.obj.vm = vm;
  else if (m->scope == FERRY_SCOPE_FLAVOR)
    probe.obj.flavor = &b->plan->flavors[index];
  else
    probe.obj.plan = b->plan;
  if (m->applies && !m->applies (b->plan, &probe))
    return 0;
  return add_step (b, m, vm, t, index) == (size_t) -1 ? -1 : 0;
}

/* Expand one VM, in this order: per disk (disk by disk) the disk steps,
 * then the VM steps, per port the port steps, and the VM's final step;
 * within each group modules come in declaration (`after`) order. */
static int
expand_vm (struct builder *b, const struct ferry_vm *vm)
{
  const struct ferry_plan_target *t = vm_target (b->plan, vm);
  const struct ferry_module *m;
  size_t i, k, n = b->reg->n;

  for (i = 0; i < vm->n_disks; i++)
    for (k = 0; k < n; k++) {
      m = b->order[k];
      if (m->scope == FERRY_SCOPE_DISK && kinds_match (b->plan, m, vm, t) &&
          try_add (b, m, vm, t, i) < 0)
        return -1;
    }
  for (k = 0; k < n; k++) {
    m = b->order[k];
    if (m->scope == FERRY_SCOPE_VM && !m->vm_final &&
        kinds_match (b->plan, m, vm, t) && try_add (b, m, vm, t, 0) < 0)
      return -1;
  }
  for (i = 0; i < vm->n_ports; i++)
    for (k = 0; k < n; k++) {
      m = b->order[k];
      if (m->scope == FERRY_SCOPE_PORT && kinds_match (b->plan, m, vm, t) &&
          try_add (b, m, vm, t, i) < 0)
        return -1;
    }
  for (k = 0; k < n; k++) {
    m = b->order[k];
    if (m->scope == FERRY_SCOPE_VM && m->vm_final &&
        kinds_match (b->plan, m, vm, t) && try_add (b, m, vm, t, 0) < 0)
      return -1;
  }
  return 0;
}

/* Is the flavor/plan object of a would-be step of M needed: does a step
 * made so far run after M about that object? */
static bool
demanded (struct builder *b, const struct ferry_module *m, size_t index)
{
  struct ferry_step probe = {0};
  size_t j;

  probe.module = m;
  probe.scope = m->scope;
  probe.index = index;
  for (j = 0; j < b->g->n; j++)
    if (runs_after (b->g->steps[j].module, m->name) &&
        related (b->plan, &b->g->steps[j], &probe))
      return true;
  return false;
}

/* Plan-level steps after all VMs: per flavor, then once per plan. */
static int
expand_plan (struct builder *b)
{
  const struct ferry_module *m;
  size_t i, k;

  for (i = 0; i < b->plan->n_flavors; i++)
    for (k = 0; k < b->reg->n; k++) {
      m = b->order[k];
      if (m->scope == FERRY_SCOPE_FLAVOR &&
          (!m->on_demand || demanded (b, m, i)) &&
          try_add (b, m, NULL, NULL, i) < 0)
        return -1;
    }
  for (k = 0; k < b->reg->n; k++) {
    m = b->order[k];
    if (m->scope == FERRY_SCOPE_PLAN && (!m->on_demand || demanded (b, m, 0)) &&
        try_add (b, m, NULL, NULL, 0) < 0)
      return -1;
  }
  return 0;
}

/* Order the registry's modules so that each comes after the modules it
 * runs after (ferry_registry_order).  A cycle among declarations is an
 * error. */
static int
order_modules (struct builder *b, struct ferry_err *err)
{
  b->order = calloc (b->reg->n + 1, sizeof *b->order);
  if (b->order == NULL)
    return ferry_err_set (err, ENOMEM, "cannot build the step graph");
  return ferry_registry_order (b->reg, b->order, err);
}

/* Is TO reachable from FROM following deps?  SEEN (g->n stamps) and
 * STACK are scratch; *STAMP is bumped per call so SEEN needs no clearing. */
static bool
reachable (const struct ferry_graph *g, size_t from, size_t to, unsigned *seen,
           unsigned *stamp, size_t *stack)
{
  size_t sp = 0, i, j, d;
  unsigned mark = ++*stamp;

  stack[sp++] = from;
  seen[from] = mark;
  while (sp > 0) {
    i = stack[--sp];
    if (i == to)
      return true;
    for (j = 0; j < g->steps[i].n_deps; j++) {
      d = g->steps[i].deps[j];
      if (seen[d] != mark) {
        seen[d] = mark;
        stack[sp++] = d;
      }
    }
  }
  return false;
}

/* The `after` edges: each step needs every related step of the modules it
 * runs after (in `after` order), then edges implied by others are dropped
 * (boot needs customize, not also inject and the disks). */
static int
add_after_edges (struct builder *b)
{
  struct ferry_graph *g = b->g;
  const char *const *a;
  size_t i, j, k, lo, hi, plan_lo;
  unsigned *seen = NULL, stamp = 0;
  size_t *stack = NULL;
  bool redundant;
  int r = -1;

  /* steps of one VM are contiguous; plan-level steps come last */
  for (plan_lo = 0; plan_lo < g->n && g->steps[plan_lo].vm; plan_lo++)
    ;
  for (lo = 0, hi = 0, i = 0; i < g->n; i++) {
    const struct ferry_step *s = &g->steps[i];
    if (s->vm == NULL) {
      lo = 0; /* plan-level: any step */
      hi = g->n;
    } else if (i == 0 || s->vm != g->steps[i - 1].vm) {
      for (lo = i, hi = i; hi < g->n && g->steps[hi].vm == s->vm; hi++)
        ;
    }
    for (a = s->module->after; a && *a; a++)
      for (j = lo; j < g->n; j++) {
        if (j == hi && hi < plan_lo)
          j = plan_lo; /* a VM step may also run after plan-level steps */
        if (j == g->n)
          break;
        if (j != i && strcmp (g->steps[j].module->name, *a) == 0 &&
            related (b->plan, s, &g->steps[j]) && add_dep (g, i, j) < 0)
          goto out;
      }
  }
  seen = calloc (g->n + 1, sizeof *seen);
  stack = calloc (g->n + 1, sizeof *stack);
  if (seen == NULL || stack == NULL)
    goto out;
  for (i = 0; i < g->n; i++) {
    struct ferry_step *s = &g->steps[i];
    for (j = 0; j < s->n_deps;) {
      redundant = false;
      for (k = 0; k < s->n_deps && !redundant; k++)
        if (k != j &&
            reachable (g, s->deps[k], s->deps[j], seen, &stamp, stack))
          redundant = true;
      if (redundant) {
        memmove (&s->deps[j], &s->deps[j + 1],
                 (s->n_deps - j - 1) * sizeof *s->deps);
        s->n_deps--;
      } else
        j++;
    }
  }
  r = 0;
out:
  free (seen);
  free (stack);
  return r;
}

/* Linear search by id. */
size_t
ferry_graph_find (const struct ferry_graph *g, const char *id)
{
  size_t i;

  for (i = 0; i < g->n; i++)
    if (strcmp (g->steps[i].id, id) == 0)
      return i;
  return (size_t) -1;
}

/* The VM's final step: the last step of a module declared vm_final. */
size_t
ferry_graph_vm_final (const struct ferry_graph *g, const char *vm)
{
  size_t i, found = (size_t) -1;

  for (i = 0; i < g->n; i++)
    if (g->steps[i].vm && g->steps[i].module->vm_final &&
        strcmp (g->steps[i].vm->name, vm) == 0)
      found = i;
  return found;
}

/* Kahn's algorithm; on a cycle, walk it from a remaining node and print
 * it. */
static int
topo_sort (struct ferry_graph *g, struct ferry_err *err)
{
  size_t *indeg = NULL, *queue = NULL, head = 0, tail = 0, i, j, k;
  size_t **users = NULL, *n_users = NULL;
  int r = -1;

  indeg = calloc (g->n + 1, sizeof *indeg);
  queue = calloc (g->n + 1, sizeof *queue);
  n_users = calloc (g->n + 1, sizeof *n_users);
  users = calloc (g->n + 1, sizeof *users);
  g->order = calloc (g->n + 1, sizeof *g->order);
  if (!indeg || !queue || !n_users || !users || !g->order) {
    ferry_err_set (err, ENOMEM, "cannot build the step graph");
    goto out;
  }
  for (i = 0; i < g->n; i++) {
    indeg[i] = g->steps[i].n_deps;
    for (j = 0; j < g->steps[i].n_deps; j++)
      n_users[g->steps[i].deps[j]]++;
  }
  for (i = 0; i < g->n; i++) {
    users[i] = calloc (n_users[i] + 1, sizeof **users);
    if (users[i] == NULL) {
      ferry_err_set (err, ENOMEM, "cannot build the step graph");
      goto out;
    }
    n_users[i] = 0;
  }
  for (i = 0; i < g->n; i++)
    for (j = 0; j < g->steps[i].n_deps; j++) {
      k = g->steps[i].deps[j];
      users[k][n_users[k]++] = i;
    }
  for (i = 0; i < g->n; i++)
    if (indeg[i] == 0)
      queue[tail++] = i;
  while (head < tail) {
    i = queue[head];
    g->order[head++] = i;
    for (j = 0; j < n_users[i]; j++)
      if (--indeg[users[i][j]] == 0)
        queue[tail++] = users[i][j];
  }
  if (tail != g->n) {
    /* follow unresolved deps until a step repeats: that is a cycle */
    char buf[768] = "";
    size_t start = 0, cur, steps = 0, len;
    for (i = 0; i < g->n; i++)
      if (indeg[i] > 0) {
        start = i;
        break;
      }
    cur = start;
    for (steps = 0; steps < g->n; steps++) {
      for (j = 0; j < g->steps[cur].n_deps; j++)
        if (indeg[g->steps[cur].deps[j]] > 0) {
          cur = g->steps[cur].deps[j];
          break;
        }
    }
    start = cur;
    do {
      len = strlen (buf);
      snprintf (buf + len, sizeof buf - len, "%s%s", len ? " -> " : "",
                g->steps[cur].id);
      for (j = 0; j < g->steps[cur].n_deps; j++)
        if (indeg[g->steps[cur].deps[j]] > 0) {
          cur = g->steps[cur].deps[j];
          break;
        }
    } while (cur != start && strlen (buf) < sizeof buf - 80);
    len = strlen (buf);
    snprintf (buf + len, sizeof buf - len, " -> %s", g->steps[start].id);
    ferry_err_set (err, 0, "dependency cycle: %s", buf);
    goto out;
  }
  r = 0;
out:
  if (users)
    for (i = 0; i < g->n; i++)
      free (users[i]);
  free (users);
  free (n_users);
  free (indeg);
  free (queue);
  return r;
}

/* Steps from the declarations of REG's modules, then the `after` edges,
 * then depends_on (a VM's final step after the other VM's), then order. */
int
ferry_graph_build_with (const struct ferry_plan *plan,
                        const struct ferry_registry *reg,
                        struct ferry_graph **ret, struct ferry_err *err)
{
  struct builder b = {0};
  size_t *finals = NULL, i, j, k, first, dep;

  b.plan = plan;
  b.reg = reg;
  if (ferry_registry_check (reg, err) < 0 || order_modules (&b, err) < 0)
    goto fail;
  b.g = calloc (1, sizeof *b.g);
  finals = calloc (plan->n_vms + 1, sizeof *finals);
  if (b.g == NULL || finals == NULL)
    goto nomem;
  for (i = 0; i < plan->n_vms; i++) {
    first = b.g->n;
    if (expand_vm (&b, &plan->vms[i]) < 0)
      goto nomem;
    finals[i] = (size_t) -1;
    for (k = first; k < b.g->n; k++)
      if (b.g->steps[k].module->vm_final)
        finals[i] = k;
  }
  if (expand_plan (&b) < 0 || add_after_edges (&b) < 0)
    goto nomem;
  for (i = 0; i < plan->n_vms; i++)
    for (j = 0; j < plan->vms[i].n_depends_on; j++) {
      const struct ferry_vm *other =
          ferry_plan_vm (plan, plan->vms[i].depends_on[j]);
      if (other == NULL) {
        ferry_err_set (err, 0, "vm '%s' depends on unknown vm '%s'",
                       plan->vms[i].name, plan->vms[i].depends_on[j]);
        goto fail;
      }
      dep = finals[other - plan->vms];
      if (finals[i] != (size_t) -1 && dep != (size_t) -1 &&
          add_dep (b.g, finals[i], dep) < 0)
        goto nomem;
    }
  if (topo_sort (b.g, err) < 0)
    goto fail;
  free (finals);
  free (b.order);
  *ret = b.g;
  return 0;

nomem:
  ferry_err_set (err, ENOMEM, "cannot build the step graph");
fail:
  free (finals);
  free (b.order);
  ferry_graph_free (b.g);
  return -1;
}

/* The graph of this build's modules. */
int
ferry_graph_build (const struct ferry_plan *plan, struct ferry_graph **ret,
                   struct ferry_err *err)
{
  return ferry_graph_build_with (plan, &ferry_registry_builtin, ret, err);
}

/* Free the steps, their ids and edges; NULL is fine. */
void
ferry_graph_free (struct ferry_graph *g)
{
  size_t i;

  if (g == NULL)
    return;
  for (i = 0; i < g->n; i++) {
    free (g->steps[i].id);
    free (g->steps[i].deps);
  }
  free (g->steps);
  free (g->order);
  free (g);
}

/* Depth-first from the named VMs' steps along deps. */
int
ferry_graph_select (const struct ferry_graph *g, char *const *vms, size_t n_vms,
                    bool *keep, struct ferry_err *err)
{
  size_t i, j, k, *stack, sp = 0;
  bool found;

  memset (keep, 0, g->n * sizeof *keep);
  stack = calloc (g->n + 1, sizeof *stack);
  if (stack == NULL)
    return ferry_err_set (err, ENOMEM, "cannot select steps");
  for (k = 0; k < n_vms; k++) {
    found = false;
    for (i = 0; i < g->n; i++)
      if (g->steps[i].vm && strcmp (g->steps[i].vm->name, vms[k]) == 0) {
        found = true;
        if (!keep[i]) {
          keep[i] = true;
          stack[sp++] = i;
        }
      }
    if (!found) {
      free (stack);
      return ferry_err_set (err, 0, "--target '%s': no such vm in the plan",
                            vms[k]);
    }
  }
  while (sp > 0) {
    i = stack[--sp];
    for (j = 0; j < g->steps[i].n_deps; j++)
      if (!keep[g->steps[i].deps[j]]) {
        keep[g->steps[i].deps[j]] = true;
        stack[sp++] = g->steps[i].deps[j];
      }
  }
  free (stack);
  return 0;
}

static const char *const phase_names[] = {"default", "precopy", "cutover"};

/* See graph.h. */
const char *
ferry_phase_name (enum ferry_phase p)
{
  return p < FERRY_PHASE_LAST ? phase_names[p] : "?";
}

/* See graph.h. */
int
ferry_phase_from_name (const char *s)
{
  int i;

  for (i = 0; i < FERRY_PHASE_LAST; i++)
    if (strcmp (s, phase_names[i]) == 0)
      return i;
  return -1;
}

/* Does PHASE itself run STEP (before the dependencies are added)? */
static bool
phase_runs (const struct ferry_step *step, enum ferry_phase phase)
{
  if (phase == FERRY_PHASE_CUTOVER)
    return true;
  if (step->vm == NULL) /* plan and flavor steps: as dependencies */
    return false;
  if (step->vm->warm)
    return step->module->precopy;
  return phase == FERRY_PHASE_DEFAULT;
}

/* See graph.h: the steps PHASE itself runs, then everything they need
 * (a depth-first walk of the edges), within KEEP. */
size_t
ferry_graph_select_phase (const struct ferry_graph *g, enum ferry_phase phase,
                          bool *keep)
{
  bool *want = calloc (g->n + 1, sizeof *want);
  size_t *stack = calloc (g->n + 1, sizeof *stack);
  size_t i, j, sp = 0, dropped = 0;

  if (want == NULL || stack == NULL) {
    free (want);
    free (stack);
    return 0; /* out of memory: keep everything, the safe superset */
  }
  for (i = 0; i < g->n; i++)
    if (keep[i] && phase_runs (&g->steps[i], phase)) {
      want[i] = true;
      stack[sp++] = i;
    }
  while (sp > 0) {
    i = stack[--sp];
    for (j = 0; j < g->steps[i].n_deps; j++)
      if (!want[g->steps[i].deps[j]]) {
        want[g->steps[i].deps[j]] = true;
        stack[sp++] = g->steps[i].deps[j];
      }
  }
  for (i = 0; i < g->n; i++) {
    if (keep[i] && !want[i])
      dropped++;
    keep[i] = keep[i] && want[i];
  }
  free (want);
  free (stack);
  return dropped;
}

/* One line per step in topological order ("ID [MODULE] <- DEPS"), or a
 * Graphviz digraph with planned modules dashed. */
char *
ferry_graph_render (const struct ferry_graph *g, bool dot)
{
  char *buf = NULL;
  size_t len = 0, i, j, k;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  if (dot)
    fprintf (f, "digraph ferry {\n  rankdir=LR;\n  node [shape=box];\n");
  for (k = 0; k < g->n; k++) {
    i = g->order[k];
    const struct ferry_step *s = &g->steps[i];
    if (dot) {
      fprintf (f, "  \"%s\" [label=\"%s\\n(%s)\"%s];\n", s->id, s->id,
               s->module_name, s->module->planned ? " style=dashed" : "");
      for (j = 0; j < s->n_deps; j++)
        fprintf (f, "  \"%s\" -> \"%s\";\n", g->steps[s->deps[j]].id, s->id);
    } else {
      fprintf (f, "%s [%s%s]", s->id, s->module_name,
               s->module->planned ? ", not available" : "");
      for (j = 0; j < s->n_deps; j++)
        fprintf (f, "%s%s", j ? ", " : " <- ", g->steps[s->deps[j]].id);
      fputc ('\n', f);
    }
  }
  if (dot)
    fprintf (f, "}\n");
  fclose (f);
  return buf;
}
