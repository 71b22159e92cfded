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
  struct ferry_graph *g;
  size_t cap;
};

/* Add a step; returns its index or (size_t)-1 on allocation failure. */
static size_t
add_step (struct builder *b, const char *module, const struct ferry_vm *vm,
          const struct ferry_plan_target *target, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

static size_t
add_step (struct builder *b, const char *module, const struct ferry_vm *vm,
          const struct ferry_plan_target *target, const char *fmt, ...)
{
  struct ferry_step *s;
  va_list ap;

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
  va_start (ap, fmt);
  if (vasprintf (&s->id, fmt, ap) < 0)
    s->id = NULL;
  va_end (ap);
  if (s->id == NULL)
    return (size_t) -1;
  s->module_name = module;
  s->module = ferry_module_find (module);
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

static const struct ferry_plan_target *
vm_target (const struct ferry_plan *plan, const struct ferry_vm *vm)
{
  const char *name = vm->target ? vm->target : plan->defaults.target;

  return name ? ferry_plan_target (plan, name) : NULL;
}

static bool
has_customize (const struct ferry_vm *vm)
{
  const struct ferry_customize *c = &vm->customize;

  return vm->has_customize && (c->n_files || c->n_firstboot || c->hostname ||
                               c->has_autologon);
}

/* Expand one VM.  Local and libvirt targets: convert per disk, then the
 * guest steps, then the libvirt definition.  OpenStack: volume → convert per
 * disk, guest steps, ports, boot. */
static int
expand_vm (struct builder *b, const struct ferry_plan *plan,
           const struct ferry_vm *vm, size_t *ret_final)
{
  struct ferry_graph *g = b->g;
  const struct ferry_plan_target *t = vm_target (plan, vm);
  bool openstack = t && strcmp (t->type, "openstack") == 0;
  size_t i, s, prev_tail, first_conv = g->n, final;
  size_t *tails = NULL;
  size_t n_tails = 0;

  /* per disk: [volume →] convert */
  for (i = 0; i < vm->n_disks; i++) {
    size_t vol = (size_t) -1;
    if (openstack) {
      vol = add_step (b, "volume", vm, t, "%s/volume/disk%zu", vm->name, i);
      if (vol == (size_t) -1)
        return -1;
      g->steps[vol].disk = i;
    }
    s = add_step (b, "convert", vm, t, "%s/convert/disk%zu", vm->name, i);
    if (s == (size_t) -1)
      return -1;
    g->steps[s].disk = i;
    if (vol != (size_t) -1 && add_dep (g, s, vol) < 0)
      return -1;
  }
  /* the chain after all disks are converted */
  prev_tail = (size_t) -1;
  tails = calloc (vm->n_disks + 1, sizeof *tails);
  if (tails == NULL)
    return -1;
  for (i = first_conv; i < g->n; i++)
    if (strcmp (g->steps[i].module_name, "convert") == 0)
      tails[n_tails++] = i;

#define CHAIN(MOD, FMT)                                                      \
  do {                                                                       \
    s = add_step (b, MOD, vm, t, FMT, vm->name);                             \
    if (s == (size_t) -1)                                                    \
      goto fail;                                                             \
    if (prev_tail != (size_t) -1) {                                          \
      if (add_dep (g, s, prev_tail) < 0)                                     \
        goto fail;                                                           \
    } else {                                                                 \
      for (i = 0; i < n_tails; i++)                                          \
        if (add_dep (g, s, tails[i]) < 0)                                    \
          goto fail;                                                         \
    }                                                                        \
    prev_tail = s;                                                           \
  } while (0)

  if (vm->n_disks > 0 && vm->disks[0].size_gb > 0)
    CHAIN ("resize", "%s/resize");
  if (vm->has_customize && vm->customize.virtio)
    CHAIN ("inject", "%s/inject");
  if (has_customize (vm))
    CHAIN ("customize", "%s/customize");
  if (openstack) {
    size_t guest_tail = prev_tail;
    size_t *ports = calloc (vm->n_ports + 1, sizeof *ports);
    if (ports == NULL)
      goto fail;
    for (i = 0; i < vm->n_ports; i++) {
      ports[i] = add_step (b, "port", vm, t, "%s/port/%zu", vm->name, i);
      if (ports[i] == (size_t) -1) {
        free (ports);
        goto fail;
      }
      g->steps[ports[i]].port = i;
    }
    final = add_step (b, "boot", vm, t, "%s/boot", vm->name);
    if (final == (size_t) -1) {
      free (ports);
      goto fail;
    }
    for (i = 0; i < vm->n_ports; i++)
      if (add_dep (g, final, ports[i]) < 0) {
        free (ports);
        goto fail;
      }
    free (ports);
    if (guest_tail != (size_t) -1) {
      if (add_dep (g, final, guest_tail) < 0)
        goto fail;
    } else {
      for (i = 0; i < n_tails; i++)
        if (add_dep (g, final, tails[i]) < 0)
          goto fail;
    }
  } else {
    CHAIN ("libvirt", "%s/define");
    final = prev_tail;
  }
#undef CHAIN
  free (tails);
  *ret_final = final;
  return 0;

fail:
  free (tails);
  return -1;
}

size_t
ferry_graph_find (const struct ferry_graph *g, const char *id)
{
  size_t i;

  for (i = 0; i < g->n; i++)
    if (strcmp (g->steps[i].id, id) == 0)
      return i;
  return (size_t) -1;
}

size_t
ferry_graph_vm_final (const struct ferry_graph *g, const char *vm)
{
  size_t i, n = strlen (vm), found = (size_t) -1;

  for (i = 0; i < g->n; i++)
    if (g->steps[i].vm && strcmp (g->steps[i].vm->name, vm) == 0 &&
        (strcmp (g->steps[i].id + n, "/boot") == 0 ||
         strcmp (g->steps[i].id + n, "/define") == 0))
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

int
ferry_graph_build (const struct ferry_plan *plan, struct ferry_graph **ret,
                   struct ferry_err *err)
{
  struct builder b = {0};
  size_t *finals = NULL, i, j, s, dep;

  b.g = calloc (1, sizeof *b.g);
  finals = calloc (plan->n_vms + 1, sizeof *finals);
  if (b.g == NULL || finals == NULL)
    goto nomem;
  for (i = 0; i < plan->n_vms; i++)
    if (expand_vm (&b, plan, &plan->vms[i], &finals[i]) < 0)
      goto nomem;
  /* plan-level flavor steps, for the flavors a boot step uses */
  for (i = 0; i < plan->n_flavors; i++) {
    bool used = false;
    for (j = 0; j < b.g->n; j++) {
      const struct ferry_step *st = &b.g->steps[j];
      const char *fl = st->vm && st->vm->flavor ? st->vm->flavor
                                                : plan->defaults.flavor;
      if (strcmp (st->module_name, "boot") == 0 && fl &&
          strcmp (fl, plan->flavors[i].name) == 0)
        used = true;
    }
    if (!used)
      continue;
    s = add_step (&b, "flavor", NULL, NULL, "flavor/%s",
                  plan->flavors[i].name);
    if (s == (size_t) -1)
      goto nomem;
    b.g->steps[s].flavor = &plan->flavors[i];
    for (j = 0; j < b.g->n; j++) {
      const struct ferry_step *st = &b.g->steps[j];
      const char *fl = st->vm && st->vm->flavor ? st->vm->flavor
                                                : plan->defaults.flavor;
      if (strcmp (st->module_name, "boot") == 0 && fl &&
          strcmp (fl, plan->flavors[i].name) == 0 &&
          add_dep (b.g, j, s) < 0)
        goto nomem;
    }
  }
  /* depends_on: final step after the other VM's final step */
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
  *ret = b.g;
  return 0;

nomem:
  ferry_err_set (err, ENOMEM, "cannot build the step graph");
fail:
  free (finals);
  ferry_graph_free (b.g);
  return -1;
}

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

int
ferry_graph_select (const struct ferry_graph *g, char *const *vms,
                    size_t n_vms, bool *keep, struct ferry_err *err)
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
               s->module_name, s->module ? "" : " style=dashed");
      for (j = 0; j < s->n_deps; j++)
        fprintf (f, "  \"%s\" -> \"%s\";\n", g->steps[s->deps[j]].id, s->id);
    } else {
      fprintf (f, "%s [%s%s]", s->id, s->module_name,
               s->module ? "" : ", not available");
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
