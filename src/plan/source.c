/* Opening a plan's disk the way its source allows: the files an image
 * names (extents, parents) must lie in the source's directory or in one of
 * its allow_dirs (see src/disk/confine.h).  validate, check and apply all
 * open disks through here, so they refuse the same images. */
#include "plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/confine.h"
#include "disk/disk.h"

/* Fill *RET with the directories images of SRC may name files in: the
 * source's path, then each of its allow_dirs (every one must exist).
 * 0, or -1 with *RET emptied and the offending key named in ERR. */
int
ferry_plan_source_confine (const struct ferry_source *src,
                           struct ferry_confine *ret, struct ferry_err *err)
{
  char what[160];
  size_t i;

  snprintf (what, sizeof what, "sources.%s.path", src->name);
  if (src->path && ferry_confine_add (ret, src->path, what, err) < 0)
    goto fail;
  for (i = 0; i < src->n_allow_dirs; i++) {
    snprintf (what, sizeof what, "sources.%s.allow_dirs[%zu]", src->name, i);
    if (ferry_confine_add (ret, src->allow_dirs[i], what, err) < 0)
      goto fail;
  }
  return 0;

fail:
  ferry_confine_free (ret);
  return -1;
}

/* Open LOC with its chain: an RBD image, or a file whose named files are
 * confined to SRC's directory and allow_dirs when SRC is a directory
 * source (the image's own directory otherwise). */
int
ferry_plan_open_disk (const struct ferry_source *src,
                      const struct ferry_location *loc, struct ferry_disk **ret,
                      struct ferry_err *err)
{
  struct ferry_confine c = {0};
  int r;

  /* A libvirt source's disk: its own directory and the allow_dirs. */
  if (src && src->type == FERRY_SOURCE_LIBVIRT && src->n_allow_dirs &&
      loc->kind == FERRY_LOCATION_FILE) {
    if (ferry_confine_add_image_dir (&c, loc->file.path, err) < 0 ||
        ferry_plan_source_confine (src, &c, err) < 0) {
      ferry_confine_free (&c);
      return -1;
    }
    r = ferry_disk_open_location (loc, &c, ret, err);
    ferry_confine_free (&c);
    return r;
  }
  /* Only directory sources have a directory to confine to; the others
   * (rbd images, libvirt) keep the default: the image's own directory. */
  if (src == NULL || src->type != FERRY_SOURCE_DIRECTORY || src->path == NULL)
    return ferry_disk_open_location (loc, NULL, ret, err);
  if (ferry_plan_source_confine (src, &c, err) < 0)
    return -1;
  r = ferry_disk_open_location (loc, &c, ret, err);
  ferry_confine_free (&c);
  return r;
}
