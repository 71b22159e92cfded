/* The one sorted table of step modules: those of this build and those only
 * declared (planned), whose steps the graph shows blocked. */
#include "modules/module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

static const char *const need_signs[] = {"=", "+", "~", "!"};
static const char *const need_names[] = {"done", "create", "update", "blocked"};
_Static_assert(FERRY_ARRAY_SIZE (need_signs) == FERRY_NEED_LAST,
               "need_signs out of date");
_Static_assert(FERRY_ARRAY_SIZE (need_names) == FERRY_NEED_LAST,
               "need_names out of date");

static const char *const scope_names[] = {"plan", "vm", "disk", "port",
                                          "flavor"};
_Static_assert(FERRY_ARRAY_SIZE (scope_names) == FERRY_SCOPE_LAST,
               "scope_names out of date");

/* "=", "+", "~", "!" for a verdict. */
const char *
ferry_need_sign (enum ferry_need n)
{
  return n < FERRY_NEED_LAST ? need_signs[n] : "?";
}

/* "done", "create", "update", "blocked" for a verdict. */
const char *
ferry_need_name (enum ferry_need n)
{
  return n < FERRY_NEED_LAST ? need_names[n] : "unknown";
}

/* The name of a scope. */
const char *
ferry_scope_name (enum ferry_scope s)
{
  return s < FERRY_SCOPE_LAST ? scope_names[s] : "unknown";
}

/* Every declared module, sorted by name. */
static const struct ferry_module *const all_modules[] = {
    &ferry_module_boot,        &ferry_module_convert, &ferry_module_customize,
    &ferry_module_flavor,      &ferry_module_image,   &ferry_module_inject,
    &ferry_module_inspect,     &ferry_module_libvirt, &ferry_module_migrate,
    &ferry_module_port,        &ferry_module_precopy, &ferry_module_resize,
    &ferry_module_shutdown,    &ferry_module_stop,    &ferry_module_volume,
    &ferry_module_volume_swap,
};
const struct ferry_registry ferry_registry_builtin = {
    all_modules, FERRY_ARRAY_SIZE (all_modules)};

/* The available ones, sorted by name. */
const struct ferry_module *const ferry_modules[] = {
    &ferry_module_boot,        &ferry_module_convert, &ferry_module_customize,
    &ferry_module_flavor,      &ferry_module_image,   &ferry_module_inject,
    &ferry_module_inspect,     &ferry_module_libvirt, &ferry_module_migrate,
    &ferry_module_port,        &ferry_module_precopy, &ferry_module_resize,
    &ferry_module_shutdown,    &ferry_module_stop,    &ferry_module_volume,
    &ferry_module_volume_swap,
};
const size_t ferry_n_modules = FERRY_ARRAY_SIZE (ferry_modules);

/* Binary search in a sorted table. */
static const struct ferry_module *
find_in (const struct ferry_module *const *mods, size_t n, const char *name)
{
  size_t lo = 0, hi = n, mid;
  int c;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    c = strcmp (name, mods[mid]->name);
    if (c == 0)
      return mods[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* An available module by name (the table is checked sorted at start-up). */
const struct ferry_module *
ferry_module_find (const char *name)
{
  return find_in (ferry_modules, ferry_n_modules, name);
}

/* A declared module of REG by name. */
const struct ferry_module *
ferry_registry_find (const struct ferry_registry *reg, const char *name)
{
  return find_in (reg->modules, reg->n, name);
}

/* Order REG's modules so that each comes after the modules it runs after
 * (ties: registry order) into RET (REG->n entries).  Repeatedly takes the
 * first module whose `after` modules are all placed; when none is left
 * to take, the rest is in a cycle, reported by the first module's name.
 * Used by the registry check and by the graph, so both agree. */
int
ferry_registry_order (const struct ferry_registry *reg,
                      const struct ferry_module **ret, struct ferry_err *err)
{
  bool *placed = calloc (reg->n + 1, sizeof *placed);
  const char *const *a;
  size_t k = 0, i, j;
  bool ready;

  if (placed == NULL)
    return ferry_err_set (err, ENOMEM, "module registry");
  while (k < reg->n) {
    for (i = 0; i < reg->n; i++) {
      if (placed[i])
        continue;
      ready = true;
      for (a = reg->modules[i]->after; a && *a && ready; a++)
        for (j = 0; j < reg->n; j++)
          if (!placed[j] && strcmp (reg->modules[j]->name, *a) == 0)
            ready = false;
      if (ready)
        break;
    }
    if (i == reg->n) {
      for (i = 0; placed[i]; i++)
        ;
      free (placed);
      return ferry_err_set (err, 0,
                            "module registry: '%s' is in a cycle of `after` "
                            "declarations",
                            reg->modules[i]->name);
    }
    placed[i] = true;
    ret[k++] = reg->modules[i];
  }
  free (placed);
  return 0;
}

/* No module runs, through `after`, after itself. */
static int
check_acyclic (const struct ferry_registry *reg, struct ferry_err *err)
{
  const struct ferry_module **order = calloc (reg->n + 1, sizeof *order);
  int r;

  if (order == NULL)
    return ferry_err_set (err, ENOMEM, "module registry");
  r = ferry_registry_order (reg, order, err);
  free (order);
  return r;
}

/* Sorted, unique, and each entry complete: a scope in range, callbacks
 * present exactly when not planned, `after` naming declared modules. */
int
ferry_registry_check (const struct ferry_registry *reg, struct ferry_err *err)
{
  const struct ferry_module *m;
  const char *const *a;
  bool has_callbacks, all_callbacks;
  size_t i;

  for (i = 0; i < reg->n; i++) {
    m = reg->modules[i];
    if (m == NULL || m->name == NULL || m->summary == NULL)
      return ferry_err_set (err, 0,
                            "module registry: entry %zu lacks a name or "
                            "summary",
                            i);
    if (i > 0 && strcmp (reg->modules[i - 1]->name, m->name) >= 0)
      return ferry_err_set (err, 0,
                            "module registry: '%s' is not sorted after '%s' "
                            "or is a duplicate",
                            m->name, reg->modules[i - 1]->name);
    if (m->scope >= FERRY_SCOPE_LAST)
      return ferry_err_set (err, 0, "module registry: '%s': bad scope",
                            m->name);
    if (m->vm_final && m->scope != FERRY_SCOPE_VM)
      return ferry_err_set (err, 0,
                            "module registry: '%s': only a vm-scope module "
                            "can be a vm's final step",
                            m->name);
    has_callbacks =
        m->check || m->describe || m->apply || m->verify || m->cleanup;
    all_callbacks = m->check && m->describe && m->apply && m->verify;
    if (m->planned ? has_callbacks : !all_callbacks)
      return ferry_err_set (err, 0, "module registry: '%s': %s", m->name,
                            m->planned ? "a planned module has callbacks"
                                       : "a mandatory callback is missing");
    for (a = m->after; a && *a; a++)
      if (ferry_registry_find (reg, *a) == NULL || strcmp (*a, m->name) == 0)
        return ferry_err_set (err, 0,
                              "module registry: '%s' runs after unknown "
                              "module '%s'",
                              m->name, *a);
  }
  return check_acyclic (reg, err);
}

/* The declared table, and the available one: sorted, each entry the
 * declared one and not planned. */
int
ferry_modules_check (struct ferry_err *err)
{
  size_t i;

  if (ferry_registry_check (&ferry_registry_builtin, err) < 0)
    return -1;
  for (i = 0; i < ferry_n_modules; i++) {
    if (i > 0 &&
        strcmp (ferry_modules[i - 1]->name, ferry_modules[i]->name) >= 0)
      return ferry_err_set (err, 0,
                            "module registry: '%s' is not sorted after '%s' "
                            "or is a duplicate",
                            ferry_modules[i]->name, ferry_modules[i - 1]->name);
    if (ferry_registry_find (&ferry_registry_builtin, ferry_modules[i]->name) !=
            ferry_modules[i] ||
        ferry_modules[i]->planned)
      return ferry_err_set (err, 0, "module registry: '%s' is not declared",
                            ferry_modules[i]->name);
  }
  return 0;
}
