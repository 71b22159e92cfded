/* The plan's kinds (source and target types, state backends) and their
 * spelling in the plan file: one table each, indexed by the enum, so that a new
 * kind is one enum value and one row (the static_assert catches a missing row).
 */
#include "plan/plan.h"

#include <assert.h>
#include <string.h>

#include "util/cleanup.h"

static const char *const source_type_names[] = {
    [FERRY_SOURCE_NONE] = NULL,
    [FERRY_SOURCE_DIRECTORY] = "directory",
    [FERRY_SOURCE_RBD] = "rbd",
    [FERRY_SOURCE_LIBVIRT] = "libvirt",
};
static_assert (FERRY_ARRAY_SIZE (source_type_names) == FERRY_SOURCE_LAST,
               "source_type_names must name every source type");

static const char *const target_type_names[] = {
    [FERRY_PLAN_TARGET_NONE] = NULL,
    [FERRY_PLAN_TARGET_LOCAL] = "local",
    [FERRY_PLAN_TARGET_OPENSTACK] = "openstack",
    [FERRY_PLAN_TARGET_LIBVIRT] = "libvirt",
};
static_assert (FERRY_ARRAY_SIZE (target_type_names) == FERRY_PLAN_TARGET_LAST,
               "target_type_names must name every target type");

static const char *const state_backend_names[] = {
    [FERRY_STATE_FILE] = "file",
    [FERRY_STATE_RADOS] = "rados",
    [FERRY_STATE_MEMORY] = "memory",
};
static_assert (FERRY_ARRAY_SIZE (state_backend_names) ==
                   FERRY_STATE_BACKEND_LAST,
               "state_backend_names must name every state backend");

/* Index of NAME in TABLE of N rows (row 0, NONE, never matches), or -1. */
static int
from_name (const char *const *table, size_t n, const char *name)
{
  size_t i;

  for (i = 1; name != NULL && i < n; i++)
    if (strcmp (table[i], name) == 0)
      return (int) i;
  return -1;
}

/* "directory", "rbd", "libvirt"; NULL for NONE or out of range. */
const char *
ferry_source_type_name (enum ferry_source_type t)
{
  if ((unsigned) t >= FERRY_SOURCE_LAST)
    return NULL;
  return source_type_names[t];
}

/* The source type spelt NAME, or -1. */
int
ferry_source_type_from_name (const char *name)
{
  return from_name (source_type_names, FERRY_SOURCE_LAST, name);
}

/* "local", "openstack", "libvirt"; NULL for NONE or out of range. */
const char *
ferry_plan_target_type_name (enum ferry_plan_target_type t)
{
  if ((unsigned) t >= FERRY_PLAN_TARGET_LAST)
    return NULL;
  return target_type_names[t];
}

/* The target type spelt NAME, or -1. */
int
ferry_plan_target_type_from_name (const char *name)
{
  return from_name (target_type_names, FERRY_PLAN_TARGET_LAST, name);
}

/* "file", "rados", "memory"; NULL out of range. */
const char *
ferry_state_backend_name (enum ferry_state_backend b)
{
  if ((unsigned) b >= FERRY_STATE_BACKEND_LAST)
    return NULL;
  return state_backend_names[b];
}

/* The state backend spelt NAME, or -1. */
int
ferry_state_backend_from_name (const char *name)
{
  size_t i;

  /* no NONE row here: FILE, the default, is 0 */
  for (i = 0; name != NULL && i < FERRY_STATE_BACKEND_LAST; i++)
    if (strcmp (state_backend_names[i], name) == 0)
      return (int) i;
  return -1;
}

static const char *const volume_mode_names[] = {
    [FERRY_VOLUME_MODE_DEFAULT] = NULL,
    [FERRY_VOLUME_MODE_WRITE_IN_PLACE] = "write-in-place",
    [FERRY_VOLUME_MODE_MANAGE] = "manage",
};
static_assert (FERRY_ARRAY_SIZE (volume_mode_names) == FERRY_VOLUME_MODE_LAST,
               "volume_mode_names must name every volume mode");

/* "write-in-place", "manage"; NULL for DEFAULT or out of range. */
const char *
ferry_volume_mode_name (enum ferry_volume_mode m)
{
  if ((unsigned) m >= FERRY_VOLUME_MODE_LAST)
    return NULL;
  return volume_mode_names[m];
}

/* The volume mode spelt NAME, or -1. */
int
ferry_volume_mode_from_name (const char *name)
{
  return from_name (volume_mode_names, FERRY_VOLUME_MODE_LAST, name);
}

/* The mode disk I of VM uses: its own, else its target's, else
 * write-in-place. */
enum ferry_volume_mode
ferry_plan_volume_mode (const struct ferry_plan *plan,
                        const struct ferry_vm *vm, size_t i)
{
  const struct ferry_plan_target *t = ferry_plan_target (plan, vm->target);

  if (i < vm->n_disks && vm->disks[i].volume_mode)
    return vm->disks[i].volume_mode;
  if (t && t->volume_mode)
    return t->volume_mode;
  return FERRY_VOLUME_MODE_WRITE_IN_PLACE;
}
