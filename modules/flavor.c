/* flavor: the Nova flavor a booted VM uses exists with the plan's vcpus,
 * ram_mb (and disk_gb when given), on every OpenStack target of the VMs
 * that use it.
 *
 * A flavor is found by name (Nova keeps names unique).  One that differs
 * from the plan is drift ferry cannot repair: Nova has no way to change a
 * flavor, and deleting one that servers may use is not ferry's call; the
 * step shows "~" and apply fails saying so.  A missing flavor is created
 * only when the target says create_flavors: true (Nova lets only admins
 * do it), and then carries the extra spec "ferry:plan" = the plan's name
 * so tools can tell it is ferry's.  Creating is one POST without retry,
 * with an id derived from the plan's and the flavor's names: a rerun after
 * a kill finds the flavor by name, knows from its id that this plan made
 * it, and sets an extra spec the kill may have left unset. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/local.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

#define FLAVOR_SPEC "ferry:plan"

/* The OpenStack targets of the VMs that use the step's flavor, distinct,
 * in plan order, into RET (room for plan->n_vms); their number. */
static size_t
flavor_targets (const struct ferry_plan *plan, const struct ferry_flavor *fl,
                const struct ferry_plan_target **ret)
{
  const struct ferry_plan_target *t;
  const struct ferry_vm *vm;
  const char *name, *tname;
  size_t i, j, n = 0;

  for (i = 0; i < plan->n_vms; i++) {
    vm = &plan->vms[i];
    name = vm->flavor ? vm->flavor : plan->defaults.flavor;
    tname = vm->target ? vm->target : plan->defaults.target;
    if (name == NULL || strcmp (name, fl->name) != 0 || tname == NULL)
      continue;
    t = ferry_plan_target (plan, tname);
    if (t == NULL || t->type != FERRY_PLAN_TARGET_OPENSTACK)
      continue;
    for (j = 0; j < n && ret[j] != t; j++)
      ;
    if (j == n)
      ret[n++] = t;
  }
  return n;
}

/* Nova's flavor named NAME into *RET (caller frees), or NULL. */
static int
flavor_find (struct ferry_os *os, const char *name, cJSON **ret,
             struct ferry_err *err)
{
  cJSON *list = NULL, *it;
  int i = 0, at = -1;

  *ret = NULL;
  /* is_public=None: an admin sees private flavors too (ignored for
   * others, who see the public ones and those shared with them) */
  if (ferry_os_list (os, FERRY_OS_COMPUTE, "/flavors/detail?is_public=None",
                     "flavors", &list, err) < 0)
    return -1;
  cJSON_ArrayForEach (it, list)
  {
    const char *n = ferry_osm_str (it, "name");
    if (n && strcmp (n, name) == 0)
      at = i;
    i++;
  }
  if (at >= 0)
    *ret = cJSON_DetachItemFromArray (list, at);
  cJSON_Delete (list);
  return 0;
}

/* Integer member NAME of OBJ, -1 when absent. */
static long
num (const cJSON *obj, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, name);

  return cJSON_IsNumber (v) ? (long) v->valuedouble : -1;
}

/* "vcpus 2 → 4, ram_mb 2048 → 4096" for what FOUND has that FL does not
 * want into BUF ("" when they agree). */
static void
flavor_drift (const cJSON *found, const struct ferry_flavor *fl, char *buf,
              size_t len)
{
  long v = num (found, "vcpus"), r = num (found, "ram"),
       d = num (found, "disk");

  buf[0] = '\0';
  if (v != (long) fl->vcpus)
    ferry_osm_appendf (buf, len, "%svcpus %ld → %u", buf[0] ? ", " : "", v,
                       fl->vcpus);
  if (r != (long) fl->ram_mb)
    ferry_osm_appendf (buf, len, "%sram_mb %ld → %u", buf[0] ? ", " : "", r,
                       fl->ram_mb);
  if (fl->disk_gb && d != (long) fl->disk_gb)
    ferry_osm_appendf (buf, len, "%sdisk_gb %ld → %u", buf[0] ? ", " : "", d,
                       fl->disk_gb);
}

/* The id ferry gives flavor FL of PLAN: SHA-256 of both names shaped as
 * a UUID, the same on every run and host, so the flavor itself says that
 * this plan created it. */
static void
flavor_id (const struct ferry_plan *plan, const struct ferry_flavor *fl,
           char out[37])
{
  unsigned char md[32];
  unsigned int mdlen = 0;
  char key[300];

  snprintf (key, sizeof key, "ferry:flavor:%s/%s", plan->name, fl->name);
  EVP_Digest (key, strlen (key), md, &mdlen, EVP_sha256 (), NULL);
  md[6] = (md[6] & 0x0f) | 0x50;
  md[8] = (md[8] & 0x3f) | 0x80;
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x",
            md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8],
            md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
}

/* Did this step create flavor ID: the id ferry gives it, or a CREATED
 * "flavor:ID" on record? */
static bool
flavor_created_here (struct ferry_ctx *ctx, const struct ferry_step *step,
                     const char *id)
{
  const struct ferry_step_record *rec =
      ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  char ours[37];
  size_t i;

  flavor_id (ctx->plan, step->obj.flavor, ours);
  if (strcmp (id, ours) == 0)
    return true;
  for (i = 0; rec && i < rec->n_created; i++)
    if (strncmp (rec->created[i], "flavor:", 7) == 0 &&
        strcmp (rec->created[i] + 7, id) == 0)
      return true;
  return false;
}

/* Does flavor ID carry the extra spec ferry:plan = the plan's name? */
static int
flavor_has_spec (struct ferry_os *os, const struct ferry_plan *plan,
                 const char *id, bool *ret, struct ferry_err *err)
{
  CLEANUP_FREE char *q = ferry_os_escape (id), *path = NULL;
  cJSON *j = NULL;
  const char *v;

  if (q == NULL || asprintf (&path, "/flavors/%s/os-extra_specs", q) < 0) {
    path = NULL;
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  if (ferry_os_request (os, FERRY_OS_COMPUTE, "GET", path, NULL, 0, &j, err) <
      0)
    return -1;
  v = ferry_osm_str (cJSON_GetObjectItemCaseSensitive (j, "extra_specs"),
                     FLAVOR_SPEC);
  *ret = v && strcmp (v, plan->name) == 0;
  cJSON_Delete (j);
  return 0;
}

/* Set the extra spec ferry:plan on flavor ID (idempotent). */
static int
flavor_set_spec (struct ferry_os *os, const struct ferry_plan *plan,
                 const char *name, const char *id, struct ferry_err *err)
{
  CLEANUP_FREE char *q = ferry_os_escape (id), *path = NULL;
  cJSON *body = cJSON_CreateObject (), *specs;
  int r = -1;

  if (q == NULL || body == NULL ||
      asprintf (&path, "/flavors/%s/os-extra_specs", q) < 0 ||
      (specs = cJSON_AddObjectToObject (body, "extra_specs")) == NULL ||
      !cJSON_AddStringToObject (specs, FLAVOR_SPEC, plan->name)) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  if (ferry_os_request (os, FERRY_OS_COMPUTE, "POST", path, body, 0, NULL,
                        err) < 0) {
    ferry_err_prefix (err, "cannot mark flavor '%s' (%s) as ferry's", name, id);
    goto out;
  }
  r = 0;
out:
  cJSON_Delete (body);
  return r;
}

/* What target T's Nova says about the step's flavor: NEED and one line
 * in DETAIL.  A drift is an update apply refuses; a flavor this step
 * created without its extra spec yet is an update apply completes. */
static int
flavor_observe (struct ferry_ctx *ctx, const struct ferry_step *step,
                const struct ferry_plan_target *t, enum ferry_need *need,
                char *detail, size_t len, bool *ret_drift,
                struct ferry_err *err)
{
  const struct ferry_flavor *fl = step->obj.flavor;
  struct ferry_os *os = ferry_osm_session (ctx, t, err);
  cJSON *found = NULL;
  const char *id;
  char drift[300];
  bool marked = true;
  int r = -1;

  *ret_drift = false;
  if (os == NULL || flavor_find (os, fl->name, &found, err) < 0)
    return -1;
  if (found == NULL) {
    *need = t->create_flavors ? FERRY_NEED_CREATE : FERRY_NEED_BLOCKED;
    if (t->create_flavors)
      snprintf (detail, len, "flavor '%s' (vcpus %u, ram_mb %u, disk_gb %u)",
                fl->name, fl->vcpus, fl->ram_mb, fl->disk_gb);
    else
      snprintf (detail, len,
                "flavor '%s' not found in Nova; set targets.%s.create_flavors: "
                "true to create it",
                fl->name, t->name);
    return 0;
  }
  id = ferry_osm_str (found, "id");
  flavor_drift (found, fl, drift, sizeof drift);
  if (drift[0]) {
    *need = FERRY_NEED_UPDATE;
    *ret_drift = true;
    snprintf (detail, len,
              "flavor '%s' (%s): update (%s); Nova flavors cannot change: "
              "rename the flavor in the plan or fix it by hand",
              fl->name, id ? id : "?", drift);
    r = 0;
    goto out;
  }
  if (id && flavor_created_here (ctx, step, id) &&
      flavor_has_spec (os, ctx->plan, id, &marked, err) < 0)
    goto out;
  *need = marked ? FERRY_NEED_DONE : FERRY_NEED_UPDATE;
  snprintf (detail, len, "flavor '%s' (%s): vcpus %ld, ram_mb %ld, disk_gb %ld",
            fl->name, id ? id : "?", num (found, "vcpus"), num (found, "ram"),
            num (found, "disk"));
  if (!marked)
    ferry_osm_appendf (detail, len, "; extra spec %s: none → %s", FLAVOR_SPEC,
                       ctx->plan->name);
  r = 0;
out:
  cJSON_Delete (found);
  return r;
}

/* How bad a verdict is, to combine several targets' (blocked first). */
static int
rank (enum ferry_need n, bool drift)
{
  switch (n) {
  case FERRY_NEED_BLOCKED:
    return 4;
  case FERRY_NEED_UPDATE:
    return drift ? 3 : 1;
  case FERRY_NEED_CREATE:
    return 2;
  default:
    return 0;
  }
}

/* Observe every OpenStack target of the flavor's VMs; the step takes the
 * worst verdict, and the detail names each target when there are several. */
static int
flavor_check (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_plan_target **ts = NULL;
  enum ferry_need need;
  char one[900];
  size_t n, i;
  bool drift;
  int worst = -1;

  ts = calloc (ctx->plan->n_vms + 1, sizeof *ts);
  if (ts == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  n = flavor_targets (ctx->plan, step->obj.flavor, ts);
  ret->need = FERRY_NEED_DONE;
  ret->detail[0] = '\0';
  if (n == 0)
    snprintf (ret->detail, sizeof ret->detail,
              "flavor '%s' is used by no VM on an OpenStack target",
              step->obj.flavor->name);
  for (i = 0; i < n; i++) {
    if (flavor_observe (ctx, step, ts[i], &need, one, sizeof one, &drift, err) <
        0) {
      if (n > 1)
        ferry_err_prefix (err, "target '%s'", ts[i]->name);
      free (ts);
      return -1;
    }
    if (rank (need, drift) > worst) {
      worst = rank (need, drift);
      ret->need = need;
    }
    if (n > 1)
      ferry_osm_appendf (ret->detail, sizeof ret->detail, "%starget '%s': %s",
                         i ? "; " : "", ts[i]->name, one);
    else
      ferry_osm_appendf (ret->detail, sizeof ret->detail, "%s", one);
  }
  free (ts);
  return 0;
}

/* Create the step's flavor on target T (POST once; a 409 means someone,
 * or an earlier run, created it meanwhile: the caller looks again), then
 * mark it. */
static int
flavor_create (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_os *os, const struct ferry_plan_target *t,
               struct ferry_err *err)
{
  const struct ferry_flavor *fl = step->obj.flavor;
  cJSON *body = cJSON_CreateObject (), *f, *reply = NULL;
  CLEANUP_FREE char *rec = NULL;
  char fid[37];
  const char *id;
  int st, r = -1;

  flavor_id (ctx->plan, fl, fid);
  if (body == NULL || (f = cJSON_AddObjectToObject (body, "flavor")) == NULL ||
      !cJSON_AddStringToObject (f, "name", fl->name) ||
      !cJSON_AddStringToObject (f, "id", fid) ||
      !cJSON_AddNumberToObject (f, "vcpus", fl->vcpus) ||
      !cJSON_AddNumberToObject (f, "ram", fl->ram_mb) ||
      !cJSON_AddNumberToObject (f, "disk", fl->disk_gb)) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  st = ferry_os_request (os, FERRY_OS_COMPUTE, "POST", "/flavors", body,
                         FERRY_OS_NO_RETRY | FERRY_OS_OK_409, &reply, err);
  if (st < 0) {
    ferry_err_prefix (err,
                      "cannot create flavor '%s' on target '%s' (creating a "
                      "flavor needs an admin cloud)",
                      fl->name, t->name);
    goto out;
  }
  if (st == 409) {
    r = 1;
    goto out;
  }
  id = ferry_osm_str (cJSON_GetObjectItemCaseSensitive (reply, "flavor"), "id");
  if (id == NULL) {
    ferry_err_set (err, 0, "nova: the reply to creating flavor '%s' has no id",
                   fl->name);
    goto out;
  }
  ferry_info ("%s: created flavor '%s' (%s) on target '%s'", step->id, fl->name,
              id, t->name);
  ferry_osm_test_pause ("flavor:created");
  if (asprintf (&rec, "flavor:%s", id) < 0) {
    rec = NULL;
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, rec, err) < 0 ||
      flavor_set_spec (os, ctx->plan, fl->name, id, err) < 0)
    goto out;
  r = 0;
out:
  cJSON_Delete (reply);
  cJSON_Delete (body);
  return r;
}

/* Converge target T: nothing when the flavor is there as planned (its
 * extra spec completed if this step created it), create it when missing
 * and allowed, fail on drift. */
static int
flavor_apply_one (struct ferry_ctx *ctx, const struct ferry_step *step,
                  const struct ferry_plan_target *t, struct ferry_err *err)
{
  const struct ferry_flavor *fl = step->obj.flavor;
  struct ferry_os *os = ferry_osm_session (ctx, t, err);
  cJSON *found = NULL;
  char drift[300];
  const char *id;
  bool marked = true;
  int tries, r = -1, c;

  if (os == NULL)
    return -1;
  for (tries = 0; tries < 2; tries++) {
    if (flavor_find (os, fl->name, &found, err) < 0)
      return -1;
    if (found)
      break;
    if (!t->create_flavors)
      return ferry_err_set (err, 0,
                            "flavor '%s' not found in Nova; set "
                            "targets.%s.create_flavors: true to create it",
                            fl->name, t->name);
    c = flavor_create (ctx, step, os, t, err);
    if (c <= 0)
      return c;
  }
  if (found == NULL)
    return ferry_err_set (err, 0,
                          "nova: creating flavor '%s' said it exists, but "
                          "it is not listed",
                          fl->name);
  id = ferry_osm_str (found, "id");
  flavor_drift (found, fl, drift, sizeof drift);
  if (drift[0]) {
    ferry_err_set (err, 0,
                   "flavor '%s' (%s) on target '%s' differs from the plan "
                   "(%s): Nova flavors cannot change; rename the flavor in "
                   "the plan or fix it by hand",
                   fl->name, id ? id : "?", t->name, drift);
    goto out;
  }
  if (id && flavor_created_here (ctx, step, id)) {
    if (flavor_has_spec (os, ctx->plan, id, &marked, err) < 0 ||
        (!marked && flavor_set_spec (os, ctx->plan, fl->name, id, err) < 0))
      goto out;
  }
  r = 0;
out:
  cJSON_Delete (found);
  return r;
}

/* Converge every target of the flavor, in plan order. */
static int
flavor_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  const struct ferry_plan_target **ts;
  size_t n, i;
  int r = 0;

  ts = calloc (ctx->plan->n_vms + 1, sizeof *ts);
  if (ts == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  n = flavor_targets (ctx->plan, step->obj.flavor, ts);
  for (i = 0; i < n && r == 0; i++)
    r = flavor_apply_one (ctx, step, ts[i], err);
  free (ts);
  return r;
}

/* The flavor now matches the plan everywhere: check says done. */
static int
flavor_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  return ferry_verify_by_check (flavor_check, ctx, step,
                                "flavor does not match the plan", err);
}

/* Per flavor of the plan that a step (boot) runs after. */
const struct ferry_module ferry_module_flavor = {
    .name = "flavor",
    .summary = "the Nova flavor a booted VM uses exists",
    .scope = FERRY_SCOPE_FLAVOR,
    .on_demand = true,
    .check = flavor_check,
    .describe = ferry_describe_detail,
    .apply = flavor_apply,
    .verify = flavor_verify,
};
