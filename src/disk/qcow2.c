/* qcow2 reader: not implemented yet (placeholder until its issue lands). */
#include "disk/disk.h"

static int
qcow2_open (struct ferry_disk *disk, struct ferry_err *err)
{
  return ferry_err_set (err, 0, "'%s': qcow2 images are not supported yet",
                        disk->path);
}

const struct ferry_disk_format ferry_format_qcow2 = {
    .name = "qcow2",
    .open = qcow2_open,
};
