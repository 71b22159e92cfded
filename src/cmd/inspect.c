/* ferry inspect DISK: format, size, allocation, chain, and the problems
 * found while walking every table (exit 1 if any). */
#include <errno.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cmd/cmd.h"
#include "disk/confine.h"
#include "disk/disk.h"
#include "util/cleanup.h"
#include "util/location.h"

enum { OPT_JSON = FERRY_OPT_LONG, OPT_ALLOW_DIR };

static const struct ferry_option inspect_options[] = {
    {"json", OPT_JSON, NULL, "machine-readable output"},
    {"allow-dir", OPT_ALLOW_DIR, "DIR",
     "files DISK names (extents, parents) may also be in DIR (repeatable)"},
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

/* Open DISK, walk its whole map (every table entry gets checked on the
 * way) and report. */
static int
inspect_run (int argc, char **argv)
{
  struct ferry_err err = {0};
  struct ferry_disk *disk, *l;
  uint64_t alloc = 0;
  bool json = false;
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
    else if (c == 'h') {
      ferry_command_usage (&ferry_cmd_inspect, stdout);
      return FERRY_EXIT_OK;
    } else
      return FERRY_EXIT_ERROR;
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_inspect);
  if (ferry_location_parse (argv[optind], &loc, &err) < 0 ||
      ferry_confine_for_image (&conf, &loc, allow, n_allow, &err) < 0 ||
      ferry_disk_open_location (&loc, &conf, &disk, &err) < 0)
    return ferry_die_err (&err);
  ferry_disk_walk (disk, 0, &alloc, &err); /* a problem is reported below */
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
    .summary = "format, size, allocation, chain",
    .description = "Show format, subformat, virtual size, allocated bytes, "
                   "the snapshot chain\nand problems found in the image's "
                   "tables.",
    .options = inspect_options,
};
