/* ferry inspect DISK: format, size, allocation, chain, and the problems
 * found while walking every table (exit 1 if any); a delta whose parent
 * cannot be opened is still shown, with what it needs of its parent; with
 * --guest, the guest OS on it (one read-only libguestfs appliance,
 * src/clients/guestfs.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clients/guestfs.h"
#include "cmd/cmd.h"
#include "disk/confine.h"
#include "disk/disk.h"
#include "util/cleanup.h"
#include "util/location.h"

enum { OPT_JSON = FERRY_OPT_LONG, OPT_ALLOW_DIR, OPT_GUEST };

static const struct ferry_option inspect_options[] = {
    {"json", OPT_JSON, NULL, "machine-readable output"},
    {"allow-dir", OPT_ALLOW_DIR, "DIR",
     "files DISK names (extents, parents) may also be in DIR (repeatable)"},
    {"guest", OPT_GUEST, NULL,
     "also inspect the guest OS (launches a read-only appliance)"},
    {0},
};

/* The JSON form of the report. */
static void
print_json (const struct ferry_disk *disk, uint64_t alloc,
            const struct ferry_err *err)
{
  cJSON *root = cJSON_CreateObject (), *chain = cJSON_CreateArray ();
  cJSON *problems = cJSON_CreateArray (), *o;
  const struct ferry_disk *l;
  char *text;

  cJSON_AddStringToObject (root, "file", disk->path);
  cJSON_AddStringToObject (root, "format", disk->format->name);
  cJSON_AddStringToObject (root, "subformat", disk->subformat);
  cJSON_AddNumberToObject (root, "virtual_size", (double) disk->virtual_size);
  cJSON_AddNumberToObject (root, "allocated", (double) alloc);
  for (l = disk; l; l = l->parent) {
    o = cJSON_CreateObject ();
    cJSON_AddStringToObject (o, "file", l->path);
    cJSON_AddStringToObject (o, "format", l->format->name);
    cJSON_AddStringToObject (o, "subformat", l->subformat);
    cJSON_AddNumberToObject (o, "virtual_size", (double) l->virtual_size);
    cJSON_AddItemToArray (chain, o);
  }
  cJSON_AddItemToObject (root, "chain", chain);
  if (err->set)
    cJSON_AddItemToArray (problems, cJSON_CreateString (err->msg));
  cJSON_AddItemToObject (root, "problems", problems);
  text = cJSON_Print (root);
  printf ("%s\n", text);
  free (text);
  cJSON_Delete (root);
}

/* qemu's name of ferry's format NAME, or NULL for one libguestfs must not
 * open (rbd sources go through qemu-nbd as raw). */
static const char *
qemu_format (const char *name)
{
  static const char *const map[][2] = {{"raw", "raw"},     {"vmdk", "vmdk"},
                                       {"vhd", "vpc"},     {"vhdx", "vhdx"},
                                       {"qcow2", "qcow2"}, {"rbd", "raw"}};
  size_t i;

  for (i = 0; i < FERRY_ARRAY_SIZE (map); i++)
    if (strcmp (name, map[i][0]) == 0)
      return map[i][1];
  return NULL;
}

/* The guest on LOC (DISK already opened, confined and walked without a
 * problem by ferry's own reader, so every file qemu follows is one ferry
 * checked): launch read-only, inspect, print.  Exit code. */
static int
inspect_guest (const struct ferry_location *loc, const struct ferry_disk *disk,
               bool json)
{
  const char *fmt[1] = {qemu_format (disk->format->name)};
  struct ferry_guest_info info = {0};
  struct ferry_gfs *gf = NULL;
  struct ferry_err err = {0};
  char *text;
  size_t i;

  if (fmt[0] == NULL) {
    ferry_err_set (&err, 0, "--guest: cannot open a '%s' image",
                   disk->format->name);
    return ferry_die_err (&err);
  }
  if (ferry_gfs_launch (loc, loc->kind == FERRY_LOCATION_FILE ? fmt : NULL, 1,
                        true, FERRY_GFS_ACCEL_AUTO, &gf, &err) < 0 ||
      ferry_gfs_inspect (gf, &info, &err) < 0) {
    struct ferry_err e2 = {0};
    ferry_gfs_close (gf, &e2);
    return ferry_die_err (&err);
  }
  ferry_gfs_close (gf, &err);
  if (json) {
    text = ferry_guest_info_json (&info);
    printf ("%s\n", text ? text : "{}");
    free (text);
  } else {
    text = ferry_guest_info_summary (&info);
    printf ("guest:        %s\n", text ? text : "?");
    free (text);
    if (info.hostname && info.hostname[0])
      printf ("hostname:     %s\n", info.hostname);
    for (i = 0; i < info.n_mounts; i++)
      printf ("mount:        %s on %s\n", info.mounts[i].device,
              info.mounts[i].mountpoint);
    for (i = 0; i < info.n_kernels; i++)
      printf ("kernel:       %s\n", info.kernels[i]);
    if (info.initramfs_tool && info.initramfs_tool[0])
      printf ("initramfs:    %s\n", info.initramfs_tool);
    if (info.current_control_set)
      printf ("control set:  %s%s\n", info.current_control_set,
              info.has_driver_database ? " (DriverDatabase)" : "");
    if (info.blocked)
      printf ("blocked:      %s\n", info.blocked);
  }
  if (info.blocked) {
    ferry_err_set (&err, 0, "ferry cannot convert this guest: %s",
                   info.blocked);
    ferry_guest_info_clear (&info);
    return ferry_die_err (&err);
  }
  ferry_guest_info_clear (&info);
  return FERRY_EXIT_OK;
}

/* DISK's chain could not be opened (ERR): if the file itself opens and is
 * a delta, show it, an orphan, with what it needs of its parent, so that
 * an operator can find the right file.  Exit 1 either way. */
static int
inspect_orphan (const struct ferry_location *loc,
                const struct ferry_confine *conf, bool json,
                const struct ferry_err *err)
{
  struct ferry_err e2 = {0};
  struct ferry_disk *top;
  char needs[640];

  if (loc->kind != FERRY_LOCATION_FILE ||
      ferry_disk_open_top (loc->file.path, conf, &top, &e2) < 0)
    return ferry_die_err (err);
  if (top->parent_hint == NULL) {
    ferry_disk_close (top);
    return ferry_die_err (err);
  }
  ferry_disk_parent_needs (top, needs, sizeof needs);
  if (json) {
    cJSON *root = cJSON_CreateObject (), *problems = cJSON_CreateArray ();
    cJSON *parent = cJSON_CreateObject ();
    char *text;

    cJSON_AddStringToObject (root, "file", top->path);
    cJSON_AddStringToObject (root, "format", top->format->name);
    cJSON_AddStringToObject (root, "subformat", top->subformat);
    cJSON_AddNumberToObject (root, "virtual_size", (double) top->virtual_size);
    cJSON_AddBoolToObject (root, "differencing", true);
    cJSON_AddStringToObject (parent, "name", top->parent_hint);
    cJSON_AddStringToObject (parent, "id", top->parent_id);
    cJSON_AddStringToObject (parent, "needs", needs);
    cJSON_AddBoolToObject (parent, "opened", false);
    cJSON_AddItemToObject (root, "parent", parent);
    cJSON_AddItemToArray (problems, cJSON_CreateString (err->msg));
    cJSON_AddItemToObject (root, "problems", problems);
    text = cJSON_Print (root);
    printf ("%s\n", text);
    free (text);
    cJSON_Delete (root);
  } else {
    printf ("file:         %s\nformat:       %s\nsubformat:    %s\n"
            "virtual size: %llu bytes\ndifferencing: yes, and its chain could "
            "not be opened (see problems)\nparent needs: %s\nproblems:     "
            "%s\n",
            top->path, top->format->name, top->subformat,
            (unsigned long long) top->virtual_size, needs, err->msg);
  }
  ferry_disk_close (top);
  return ferry_die_err (err);
}

/* Open DISK, walk its whole map (every table entry gets checked on the
 * way) and report. */
static int
inspect_run (int argc, char **argv)
{
  struct ferry_err err = {0};
  struct ferry_disk *disk, *l;
  uint64_t alloc = 0;
  bool json = false, guest = false;
  CLEANUP_CONFINE struct ferry_confine conf = {0};
  CLEANUP_LOCATION struct ferry_location loc = {0};
  CLEANUP_FREE char **allow = calloc ((size_t) argc + 1, sizeof *allow);
  size_t n_allow = 0;
  int depth = 0, c;

  if (allow == NULL) {
    ferry_err_set (&err, ENOMEM, "cannot allocate memory");
    return ferry_die_err (&err);
  }
  while ((c = ferry_cmd_getopt (&ferry_cmd_inspect, argc, argv)) != -1) {
    if (c == OPT_JSON)
      json = true;
    else if (c == OPT_ALLOW_DIR)
      allow[n_allow++] = optarg;
    else if (c == OPT_GUEST)
      guest = true;
    else if (c == 'h') {
      ferry_command_usage (&ferry_cmd_inspect, stdout);
      return FERRY_EXIT_OK;
    } else
      return FERRY_EXIT_ERROR;
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_inspect);
  if (ferry_location_parse (argv[optind], &loc, &err) < 0 ||
      ferry_confine_for_image (&conf, &loc, allow, n_allow, &err) < 0)
    return ferry_die_err (&err);
  if (ferry_disk_open_location (&loc, &conf, &disk, &err) < 0)
    return inspect_orphan (&loc, &conf, json, &err);
  ferry_disk_walk (disk, 0, &alloc, &err); /* a problem is reported below */
  if (guest && !err.set) {
    int rc = inspect_guest (&loc, disk, json);
    ferry_disk_close (disk);
    return rc;
  }
  if (json)
    print_json (disk, alloc, &err);
  else {
    printf ("file:         %s\nformat:       %s\nsubformat:    %s\n"
            "virtual size: %llu bytes\nallocated:    %llu bytes%s\n",
            disk->path, disk->format->name, disk->subformat,
            (unsigned long long) disk->virtual_size, (unsigned long long) alloc,
            err.set ? " (at least)" : "");
    for (l = disk->parent; l; l = l->parent)
      printf ("parent[%d]:    %s (%s %s, %llu bytes)\n", depth++, l->path,
              l->format->name, l->subformat,
              (unsigned long long) l->virtual_size);
    printf ("problems:     %s\n", err.set ? err.msg : "none");
  }
  ferry_disk_close (disk);
  if (err.set)
    return ferry_die_err (&err);
  return FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_inspect = {
    .name = "inspect",
    .run = inspect_run,
    .usage = "DISK",
    .summary = "format, size, allocation, chain, guest OS",
    .description = "Show format, subformat, virtual size, allocated bytes, "
                   "the snapshot chain\nand problems found in the image's "
                   "tables.  With --guest, inspect the guest OS\ninstead "
                   "(read-only appliance; exit 1 when ferry cannot convert "
                   "it).",
    .options = inspect_options,
};
