/* Where local and libvirt targets keep a VM's disks and domain XML. */
#ifndef FERRY_MODULES_LOCAL_H
#define FERRY_MODULES_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "modules/module.h"

/* "<target.path>/<vm>-disk<N>.raw" (caller frees). */
char *ferry_local_disk_path (const struct ferry_step *step, size_t disk);
/* "<target.path>/<vm>.xml" (caller frees). */
char *ferry_local_xml_path (const struct ferry_step *step);
/* Bytes the target disk must have: the source's virtual size, or size_gb
 * when bigger. */
uint64_t ferry_local_disk_size (const struct ferry_disk_spec *spec,
                                uint64_t virtual_size);

#endif
