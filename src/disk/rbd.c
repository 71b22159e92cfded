/* rbd reader: not implemented yet (placeholder until its issue lands). */
#include "disk/disk.h"

static int
rbd_open (struct ferry_disk *disk, struct ferry_err *err)
{
  return ferry_err_set (err, 0, "'%s': rbd images are not supported yet",
                        disk->path);
}

const struct ferry_disk_format ferry_format_rbd = {
    .name = "rbd",
    .open = rbd_open,
};
