/* vmdk reader: not implemented yet (placeholder until its issue lands). */
#include "disk/disk.h"

static int
vmdk_open (struct ferry_disk *disk, struct ferry_err *err)
{
  return ferry_err_set (err, 0, "'%s': vmdk images are not supported yet",
                        disk->path);
}

const struct ferry_disk_format ferry_format_vmdk = {
    .name = "vmdk",
    .open = vmdk_open,
};
