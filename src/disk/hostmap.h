/* Data and holes of an image file, for readers whose allocated blocks may
 * contain holes of the host file system (VHDX and VHD blocks are big, and
 * the tools that write them leave the zero parts unwritten).  A hole reads
 * as zeroes: reporting it as a zero extent saves reading, copying and
 * zero-testing it. */
#ifndef FERRY_HOSTMAP_H
#define FERRY_HOSTMAP_H

#include <stdbool.h>
#include <stdint.h>

struct ferry_hostmap;

/* A map of the file open as FD (not owned); NULL when out of memory. */
struct ferry_hostmap *ferry_hostmap_new (int fd);
/* Free (NULL is fine). */
void ferry_hostmap_free (struct ferry_hostmap *m);
/* Is [OFF, OFF+LEN) data (*RET_DATA true) or a hole?  Returns the length
 * (> 0, <= LEN) of the uniform run at OFF.  A file system that cannot say
 * reports data.  Safe to call from several threads. */
uint64_t ferry_hostmap_query (struct ferry_hostmap *m, uint64_t off,
                              uint64_t len, bool *ret_data);

#endif
