/* Shared by the disk fuzz targets: a private, empty directory that every
 * file name found in a mutated image is confined to (disk/confine.h), so
 * that no input makes a fuzzer open a file of the host.  Made on the first
 * call, removed at exit. */
#ifndef FERRY_FUZZ_CONFINE_H
#define FERRY_FUZZ_CONFINE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "disk/confine.h"

static char fuzz_dir[] = "/tmp/ferry-fuzz.XXXXXX";
static struct ferry_confine fuzz_conf;

/* The extent file fuzz-vmdk writes ESXi delta inputs to. */
#define FUZZ_EXTENT "extent.bin"

static void
fuzz_confine_cleanup (void)
{
  char p[sizeof fuzz_dir + sizeof FUZZ_EXTENT + 1];

  snprintf (p, sizeof p, "%s/%s", fuzz_dir, FUZZ_EXTENT);
  unlink (p);
  rmdir (fuzz_dir);
  ferry_confine_free (&fuzz_conf);
}

/* The confinement (the private directory only); its path in *RET_DIR. */
static struct ferry_confine *
fuzz_confine (const char **ret_dir)
{
  struct ferry_err err = {0};

  if (fuzz_conf.n == 0) {
    if (mkdtemp (fuzz_dir) == NULL ||
        ferry_confine_add (&fuzz_conf, fuzz_dir, "fuzz directory", &err) < 0)
      abort ();
    atexit (fuzz_confine_cleanup);
  }
  *ret_dir = fuzz_dir;
  return &fuzz_conf;
}

#endif
