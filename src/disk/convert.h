/* The conversion pipeline: any source image → raw file or RBD image, with
 * many workers, zero/hole skipping, checkpoints for resume and progress. */
#ifndef FERRY_CONVERT_H
#define FERRY_CONVERT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "disk/disk.h"
#include "disk/target.h"
#include "util/err.h"
#include "util/location.h"

struct ferry_convert_progress {
  uint64_t done;      /* virtual bytes processed (resume point included) */
  uint64_t total;     /* virtual size */
  uint64_t data_read; /* bytes read from the source so far */
  uint64_t written;   /* bytes written to the target so far */
  double elapsed;     /* seconds since start */
  bool final;         /* last call */
};

struct ferry_convert_opts {
  unsigned threads;             /* workers; 0 = online CPUs x 2 (min 2) */
  uint64_t chunk_size;          /* bytes per work unit; 0 = 4 MiB */
  uint64_t checkpoint_interval; /* 0 = 1 GiB */
  uint64_t resume_from;         /* bytes below are already on the target */
  bool checksum;                /* compute SHA-256 of the virtual disk */
  bool direct;                  /* O_DIRECT for file targets */
  /* Called (from any one thread, serialised) with an offset below which
   * everything is written and flushed; -1 aborts the conversion. */
  int (*checkpoint) (void *opaque, uint64_t offset, struct ferry_err *err);
  /* Called from the calling thread about twice a second. */
  void (*progress) (void *opaque, const struct ferry_convert_progress *p);
  void *opaque;                /* passed to the callbacks */
  volatile sig_atomic_t *stop; /* when non-zero: finish chunks, stop */
  /* ferry_convert: where the files SRC names may be (NULL: SRC's
   * directory; see disk/confine.h). */
  const struct ferry_confine *confine;
  /* ferry_convert_disk: a layer of SRC's chain whose data (with its
   * parents') the target already holds, or NULL.  Then only what the layers
   * above it define is written: their data, and zeroes where they say
   * zero; every other byte of the target is left alone (the target is
   * opened FERRY_TARGET_RESUME; no checksum).  The warm migration's
   * pre-copies and cutover (docs/warm.md). */
  struct ferry_disk *base;
  /* ferry_convert: the file of SRC's chain (by device and inode) to use as
   * BASE, or NULL; the target must exist. */
  const char *onto;
};

struct ferry_convert_stats {
  uint64_t virtual_size; /* source virtual size */
  uint64_t data_read;    /* bytes read from the source */
  uint64_t written;      /* bytes written to the target */
  uint64_t zeroed;       /* bytes explicitly zeroed on the target */
  double seconds;        /* wall time */
  uint8_t sha256[32];    /* with opts.checksum */
};

/* Convert SRC into DST (both already open). */
int ferry_convert_disk (struct ferry_disk *src, struct ferry_target *dst,
                        const struct ferry_convert_opts *opts,
                        struct ferry_convert_stats *ret_stats,
                        struct ferry_err *err);

/* Open SRC (a file or RBD image, with its chain) and DST (created or
 * opened: a file or RBD image) and convert. */
int ferry_convert (const struct ferry_location *src,
                   const struct ferry_location *dst,
                   const struct ferry_convert_opts *opts,
                   struct ferry_convert_stats *ret_stats,
                   struct ferry_err *err);

/* True if LEN bytes at P are all zero. */
bool ferry_is_zero (const void *p, size_t len);

#endif
