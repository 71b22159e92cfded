/* Small file-system helpers shared by the state and module code. */
#ifndef FERRY_FS_H
#define FERRY_FS_H

#include "util/err.h"

/* mkdir -p the directory part of PATH (mode 0700 for what is created). */
int ferry_mkdir_parents (const char *path, struct ferry_err *err);
/* fsync the directory holding PATH, so that a file created or renamed
 * there survives a crash.  Some file systems refuse directory fsync: that
 * is not an error. */
int ferry_sync_parent (const char *path, struct ferry_err *err);
/* Tidy an absolute PATH in place, lexically ("//", "/./", "dir/.."). */
void ferry_path_normalize (char *path);

#endif
