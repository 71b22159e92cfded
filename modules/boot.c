/* boot: the VM's Nova server exists and is ACTIVE.
 *
 * Booted from the first disk's volume (block_device_mapping_v2, boot
 * index 0, delete_on_termination false) or from the VM's Glance image
 * (boot_from: image); the other disks' volumes attached in plan order;
 * the VM's ports; its flavor, availability zone, key pair and user data.
 * The server is named after the VM and marked with metadata ferry:plan,
 * ferry:vm, so check finds it again without the journal.  The VM's
 * last step: the graph makes the VMs that depend_on it wait for it. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/local.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

#define BOOT_DEADLINE 900

static int
boot_check (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_observation *ret, struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  const struct ferry_vm *vm = step->vm;
  const char *st, *id;
  cJSON *srv = NULL, *fault;
  int r;

  if (os == NULL)
    return -1;
  r = ferry_osm_find_server (os, ctx->plan, vm, &srv, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    ret->need = FERRY_NEED_CREATE;
    snprintf (
        ret->detail, sizeof ret->detail,
        "server %s: flavor %s, boot from %s, %zu volume%s, %zu port%s%s%s",
        vm->name, vm->flavor ? vm->flavor : "?",
        vm->boot_from == FERRY_BOOT_FROM_IMAGE ? "its image"
                                               : "volume of disk 0",
        vm->n_disks, vm->n_disks == 1 ? "" : "s", vm->n_ports,
        vm->n_ports == 1 ? "" : "s", vm->availability_zone ? ", zone " : "",
        vm->availability_zone ? vm->availability_zone : "");
    return 0;
  }
  st = ferry_osm_str (srv, "status");
  id = ferry_osm_str (srv, "id");
  if (st && strcasecmp (st, "BUILD") == 0) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "server %s (%s) is building: wait", vm->name, id);
  } else if (st && strcasecmp (st, "ERROR") == 0) {
    fault = cJSON_GetObjectItemCaseSensitive (srv, "fault");
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "server %s (%s) is in ERROR: %s (ferry destroy --vm %s, then "
              "apply)",
              vm->name, id,
              ferry_osm_str (fault, "message")
                  ? ferry_osm_str (fault, "message")
                  : "no fault recorded",
              vm->name);
  } else {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "server %s (%s): %s", vm->name,
              id, st ? st : "?");
  }
  cJSON_Delete (srv);
  return 0;
}

/* The id of flavor NAME. */
static int
flavor_id (struct ferry_os *os, const char *name, char *id, size_t len,
           struct ferry_err *err)
{
  cJSON *list = NULL, *it;
  int r = -1;

  if (ferry_os_list (os, FERRY_OS_COMPUTE, "/flavors/detail?is_public=None",
                     "flavors", &list, err) < 0)
    return -1;
  cJSON_ArrayForEach (it, list)
  {
    const char *n = ferry_osm_str (it, "name");
    if (n && strcmp (n, name) == 0 && ferry_osm_str (it, "id")) {
      snprintf (id, len, "%s", ferry_osm_str (it, "id"));
      r = 0;
      break;
    }
  }
  cJSON_Delete (list);
  if (r < 0)
    ferry_err_set (err, ENOENT, "nova: flavor '%s' not found", name);
  return r;
}

/* Base64 of file PATH, at most 64 KiB (Nova's user_data limit; caller
 * frees). */
static char *
file_base64 (const char *path, struct ferry_err *err)
{
  unsigned char data[65536 + 1];
  size_t len;
  char *out;
  FILE *f = fopen (path, "rb");

  if (f == NULL) {
    ferry_err_set (err, errno, "cannot open user_data '%s'", path);
    return NULL;
  }
  len = fread (data, 1, sizeof data, f);
  if (ferror (f)) {
    ferry_err_set (err, errno, "cannot read user_data '%s'", path);
    fclose (f);
    return NULL;
  }
  fclose (f);
  if (len > 65535) {
    ferry_err_set (err, EFBIG, "user_data '%s' is over 64 KiB", path);
    return NULL;
  }
  out = malloc (4 * ((len + 2) / 3) + 1);
  if (out == NULL) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    return NULL;
  }
  EVP_EncodeBlock ((unsigned char *) out, data, (int) len);
  return out;
}

/* One block device mapping entry. */
static cJSON *
bdm (const char *uuid, const char *source, int boot_index)
{
  cJSON *b = cJSON_CreateObject ();

  if (b == NULL || !cJSON_AddStringToObject (b, "uuid", uuid) ||
      !cJSON_AddStringToObject (b, "source_type", source) ||
      !cJSON_AddStringToObject (b, "destination_type", "volume") ||
      !cJSON_AddFalseToObject (b, "delete_on_termination") ||
      (boot_index >= 0 &&
       !cJSON_AddNumberToObject (b, "boot_index", boot_index))) {
    cJSON_Delete (b);
    return NULL;
  }
  return b;
}

/* The POST /servers body: every referenced object must exist. */
static cJSON *
server_body (struct ferry_ctx *ctx, struct ferry_os *os,
             const struct ferry_step *step, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  cJSON *body = cJSON_CreateObject (), *s, *bdms, *nets, *o = NULL, *meta;
  char fid[128];
  const char *az = vm->availability_zone ? vm->availability_zone
                                         : step->target->availability_zone;
  size_t i;
  int r;

  s = body ? cJSON_AddObjectToObject (body, "server") : NULL;
  if (s == NULL)
    goto oom;
  if (vm->flavor == NULL) {
    ferry_err_set (err, 0, "vm '%s' has no flavor", vm->name);
    goto fail;
  }
  if (flavor_id (os, vm->flavor, fid, sizeof fid, err) < 0)
    goto fail;
  meta = ferry_osm_metadata (ctx->plan, vm, NULL, NULL);
  if (meta == NULL || !cJSON_AddStringToObject (s, "name", vm->name) ||
      !cJSON_AddStringToObject (s, "flavorRef", fid) ||
      !cJSON_AddItemToObject (s, "metadata", meta) ||
      (az && !cJSON_AddStringToObject (s, "availability_zone", az)) ||
      (vm->key_name && !cJSON_AddStringToObject (s, "key_name", vm->key_name)))
    goto oom;
  if (vm->user_data) {
    CLEANUP_FREE char *b64 = file_base64 (vm->user_data, err);
    if (b64 == NULL || !cJSON_AddStringToObject (s, "user_data", b64))
      goto fail;
  }
  bdms = cJSON_AddArrayToObject (s, "block_device_mapping_v2");
  if (bdms == NULL)
    goto oom;
  if (vm->boot_from == FERRY_BOOT_FROM_IMAGE) {
    r = ferry_osm_find_image (os, ctx->plan, vm, &o, err);
    if (r <= 0) {
      if (r == 0)
        ferry_err_set (err, ENOENT, "the image of vm '%s' does not exist",
                       vm->name);
      goto fail;
    }
    if (!cJSON_AddStringToObject (s, "imageRef", ferry_osm_str (o, "id")))
      goto oom;
    cJSON_Delete (o);
    o = NULL;
  }
  for (i = 0; i < vm->n_disks; i++) {
    cJSON *b;
    if (i == 0 && vm->boot_from == FERRY_BOOT_FROM_IMAGE)
      continue; /* the image is the disk's data */
    r = ferry_osm_find_volume (os, ctx->plan, vm, i, &o, err);
    if (r <= 0) {
      if (r == 0)
        ferry_err_set (err, ENOENT,
                       "the volume of disk %zu of vm '%s' does "
                       "not exist",
                       i, vm->name);
      goto fail;
    }
    b = bdm (ferry_osm_str (o, "id"), "volume", i == 0 ? 0 : -1);
    cJSON_Delete (o);
    o = NULL;
    if (b == NULL || !cJSON_AddItemToArray (bdms, b))
      goto oom;
  }
  if (cJSON_GetArraySize (bdms) == 0)
    cJSON_DeleteItemFromObject (s, "block_device_mapping_v2");
  if (vm->n_ports == 0) {
    if (!cJSON_AddStringToObject (s, "networks", "none"))
      goto oom;
    return body;
  }
  nets = cJSON_AddArrayToObject (s, "networks");
  for (i = 0; nets && i < vm->n_ports; i++) {
    cJSON *n = cJSON_CreateObject ();
    r = ferry_osm_find_port (os, ctx->plan, vm, i, &o, err);
    if (r <= 0) {
      cJSON_Delete (n);
      if (r == 0)
        ferry_err_set (err, ENOENT, "port %zu of vm '%s' does not exist", i,
                       vm->name);
      goto fail;
    }
    if (n == NULL ||
        !cJSON_AddStringToObject (n, "port", ferry_osm_str (o, "id"))) {
      cJSON_Delete (n);
      goto oom;
    }
    cJSON_Delete (o);
    o = NULL;
    cJSON_AddItemToArray (nets, n);
  }
  if (nets == NULL)
    goto oom;
  return body;
oom:
  ferry_err_set (err, ENOMEM, "cannot allocate memory");
fail:
  cJSON_Delete (o);
  cJSON_Delete (body);
  return NULL;
}

static int
boot_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_err *err)
{
  static const char *const want[] = {"ACTIVE", NULL};
  static const char *const fail[] = {"ERROR", NULL};
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  CLEANUP_FREE char *path = NULL;
  cJSON *srv = NULL, *body, *reply = NULL;
  char id[64], rec[80];
  int r;

  if (os == NULL)
    return -1;
  r = ferry_osm_find_server (os, ctx->plan, step->vm, &srv, err);
  if (r < 0)
    return -1;
  if (r == 1) {
    snprintf (id, sizeof id, "%s", ferry_osm_str (srv, "id"));
    cJSON_Delete (srv);
    srv = NULL;
  } else {
    body = server_body (ctx, os, step, err);
    if (body == NULL)
      return -1;
    r = ferry_os_request (os, FERRY_OS_COMPUTE, "POST", "/servers", body,
                          FERRY_OS_NO_RETRY, &reply, err);
    cJSON_Delete (body);
    if (r < 0)
      return -1;
    srv = cJSON_GetObjectItemCaseSensitive (reply, "server");
    if (ferry_osm_str (srv, "id") == NULL) {
      cJSON_Delete (reply);
      return ferry_err_set (err, 0,
                            "nova: the reply to creating server '%s' has no id",
                            step->vm->name);
    }
    snprintf (id, sizeof id, "%s", ferry_osm_str (srv, "id"));
    cJSON_Delete (reply);
    srv = NULL;
    ferry_info ("%s: created server %s (%s)", step->id, step->vm->name, id);
    snprintf (rec, sizeof rec, "server:%s", id);
    if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, rec, err) < 0)
      return -1;
  }
  if (asprintf (&path, "/servers/%s", id) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return ferry_os_wait (os, FERRY_OS_COMPUTE, path, "server", want, fail,
                        ferry_osm_deadline (BOOT_DEADLINE), NULL, err);
}

static int
boot_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_err *err)
{
  return ferry_verify_by_check (boot_check, ctx, step, NULL, err);
}

static const char *const boot_after[] = {
    "port",   "customize", "inject",      "resize", "convert",
    "flavor", "volume",    "volume-swap", "image",  NULL};
const struct ferry_module ferry_module_boot = {
    .name = "boot",
    .summary = "boot the Nova server from its volumes and ports",
    .scope = FERRY_SCOPE_VM,
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_OPENSTACK),
    .after = boot_after,
    .vm_final = true,
    .check = boot_check,
    .describe = ferry_describe_detail,
    .apply = boot_apply,
    .verify = boot_verify,
};
