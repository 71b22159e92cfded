/* vhd reader: not implemented yet (placeholder until its issue lands). */
#include "disk/disk.h"

static int
vhd_open (struct ferry_disk *disk, struct ferry_err *err)
{
  return ferry_err_set (err, 0, "'%s': vhd images are not supported yet",
                        disk->path);
}

const struct ferry_disk_format ferry_format_vhd = {
    .name = "vhd",
    .open = vhd_open,
};
