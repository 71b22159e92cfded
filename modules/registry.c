/* The one sorted table of step modules. */
#include "modules/module.h"

#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"

const struct ferry_module *const ferry_modules[] = {
    &ferry_module_convert,
    &ferry_module_libvirt,
};
const size_t ferry_n_modules = FERRY_ARRAY_SIZE (ferry_modules);

static const char *const need_signs[] = {"=", "+", "~", "!"};
static const char *const need_names[] = {"done", "create", "update",
                                         "blocked"};
_Static_assert (FERRY_ARRAY_SIZE (need_signs) == FERRY_NEED_LAST,
                "need_signs out of date");
_Static_assert (FERRY_ARRAY_SIZE (need_names) == FERRY_NEED_LAST,
                "need_names out of date");

const char *
ferry_need_sign (enum ferry_need n)
{
  return n < FERRY_NEED_LAST ? need_signs[n] : "?";
}

const char *
ferry_need_name (enum ferry_need n)
{
  return n < FERRY_NEED_LAST ? need_names[n] : "unknown";
}

/* Binary search: the table is sorted (checked at start-up). */
const struct ferry_module *
ferry_module_find (const char *name)
{
  size_t lo = 0, hi = ferry_n_modules, mid;
  int c;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    c = strcmp (name, ferry_modules[mid]->name);
    if (c == 0)
      return ferry_modules[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

int
ferry_modules_check (struct ferry_err *err)
{
  const struct ferry_module *m;
  size_t i;

  for (i = 0; i < ferry_n_modules; i++) {
    m = ferry_modules[i];
    if (m == NULL || m->name == NULL || m->summary == NULL ||
        m->check == NULL || m->describe == NULL || m->apply == NULL ||
        m->verify == NULL)
      return ferry_err_set (err, 0,
                            "module registry: entry %zu lacks a mandatory "
                            "field",
                            i);
    if (i > 0 && strcmp (ferry_modules[i - 1]->name, m->name) >= 0)
      return ferry_err_set (err, 0,
                            "module registry: '%s' is not sorted after '%s' "
                            "or is a duplicate",
                            m->name, ferry_modules[i - 1]->name);
  }
  return 0;
}

int
ferry_describe_detail (const struct ferry_step *step,
                       const struct ferry_observation *obs, char *buf,
                       size_t len)
{
  (void) step;
  return snprintf (buf, len, "%s", obs->detail);
}

int
ferry_ctx_record (struct ferry_ctx *ctx, const struct ferry_step *step,
                  enum ferry_event ev, uint64_t offset, const char *id,
                  struct ferry_err *err)
{
  struct ferry_journal_entry e = {0};

  if (ctx->dry_run || ctx->journal == NULL)
    return 0;
  /* an object already on record (a rerun re-adopting it) is not news */
  if (ev == FERRY_EVENT_CREATED) {
    const struct ferry_step_record *rec =
        ferry_journal_step (ctx->journal, step->id);
    size_t i;
    for (i = 0; rec && i < rec->n_created; i++)
      if (strcmp (rec->created[i], id) == 0)
        return 0;
  }
  e.step = step->id;
  e.event = ev;
  e.offset = offset;
  e.id = id;
  return ferry_journal_append (ctx->journal, &e, err);
}
