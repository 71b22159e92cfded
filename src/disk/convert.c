/* The conversion pipeline.
 *
 * The virtual disk is cut into chunks (4 MiB by default).  N workers take
 * chunks in increasing order from an atomic counter; each maps its chunk
 * through the image chain, reads (and inflates) only allocated data, drops
 * all-zero blocks and writes the rest.  Reads, inflation and writes of
 * different chunks overlap, so every core inflates and many writes are in
 * flight, while memory stays at N chunk buffers.
 *
 * Data a layer stores as is in a file (raw images, uncompressed qcow2
 * clusters) still goes through the chunk buffer to find its zero blocks,
 * but onto a file system that shares blocks or copies on its server (XFS,
 * btrfs, NFS: see target-file.c) its other blocks are copied file to file
 * in the kernel (copy_file_range: a reflink, no bytes written), unless a
 * checksum is asked for or the kernel refuses (another file system).
 * Elsewhere (ext4, tmpfs) the kernel's copy would be one more pass over
 * the bytes, and they are written from the chunk buffer.
 *
 * Cold sources: a worker that takes chunk I first asks the kernel to read
 * the stored-as-is data (raw, VHD, VHDX) of chunk I + 2N into the page cache
 * (POSIX_FADV_WILLNEED), so that reads stay queued on the device while the
 * workers copy (4 GiB raw, cold, into tmpfs: 0.68 -> 0.49 s, 9 interleaved
 * runs; see read_ahead).
 *
 * A checkpoint is the lowest offset below which every chunk is written; it
 * is flushed to the target before it is reported, so a crash re-copies at
 * most one checkpoint interval. */
#include "disk/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disk/identity.h"

#define ZERO_BLOCK 4096 /* granularity of zero detection */

struct pipeline {
  struct ferry_disk *src;                /* source chain (read-only) */
  struct ferry_target *dst;              /* target */
  const struct ferry_convert_opts *opts; /* options */
  uint64_t chunk;                        /* chunk size */
  uint64_t first;                        /* index of the first chunk */
  uint64_t nchunks;                      /* total chunks in the disk */
  uint64_t write_from;                   /* offsets below: already there */
  atomic_uint_fast64_t next;             /* next chunk to take */
  atomic_uint_fast64_t data_read;        /* stats */
  atomic_uint_fast64_t written;
  atomic_uint_fast64_t zeroed;
  atomic_uint_fast64_t copied; /* of written: copied in the kernel */
  atomic_bool no_copy;         /* the kernel refused a copy: write */
  atomic_bool failed;          /* a worker failed: everyone stops */

  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t cond;  /* chunk done / hash turn / worker exit */
  uint8_t *done_map;    /* per chunk: 1 once written */
  uint64_t watermark;   /* chunks below this index are all done */
  uint64_t last_ckpt;   /* offset of the last checkpoint reported */
  bool ckpt_busy;       /* a worker is flushing for a checkpoint */
  uint64_t hash_next;   /* next chunk index to feed to the hash */
  EVP_MD_CTX *sha;      /* with checksum */
  unsigned running;     /* workers still running */
  unsigned ahead;       /* read_ahead this many chunks ahead (2N) */
  struct ferry_err err; /* first worker error */
};

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Zero test: the first 16 bytes, then the buffer against itself shifted. */
bool
ferry_is_zero (const void *p, size_t len)
{
  const unsigned char *b = p;
  size_t i;

  for (i = 0; i < 16 && i < len; i++)
    if (b[i])
      return false;
  if (len <= 16)
    return true;
  return memcmp (b, b + 16, len - 16) == 0;
}

/* Record a worker's error (first one wins) and make everybody stop. */
static void
pipeline_fail (struct pipeline *pl, const struct ferry_err *e)
{
  pthread_mutex_lock (&pl->lock);
  if (!pl->err.set)
    pl->err = *e;
  atomic_store (&pl->failed, true);
  pthread_cond_broadcast (&pl->cond);
  pthread_mutex_unlock (&pl->lock);
}

/* Copy in the kernel, from where LAYER stores them as is (file_extent),
 * the LENGTH bytes at virtual OFFSET, as far as it can: *RET_DONE bytes
 * from the start.  The first copy the kernel refuses (another file system,
 * say) turns the copies off for the rest of the run.  0, or -1 with ERR. */
static int
copy_extents (struct pipeline *pl, struct ferry_disk *layer, uint64_t offset,
              uint64_t length, uint64_t *ret_done, struct ferry_err *err)
{
  uint64_t done = 0, foff, n;
  int fd, r;

  while (layer && done < length && !atomic_load (&pl->no_copy)) {
    if (layer->format->file_extent (layer, offset + done, length - done, &fd,
                                    &foff, &n, err) < 0)
      return -1;
    if (n == 0)
      break;
    r = pl->dst->ops->copy_from (pl->dst, fd, foff, n, offset + done, err);
    if (r < 0)
      return -1;
    if (r > 0) {
      atomic_store (&pl->no_copy, true);
      break;
    }
    atomic_fetch_add (&pl->copied, n);
    done += n;
  }
  *ret_done = done;
  return 0;
}

/* Write LENGTH bytes of BUF (the data at virtual OFFSET) to the target:
 * copied in the kernel from where LAYER stores them as is, when it can say
 * (file_extent) and the target can copy (copy_from), else written from
 * BUF. */
static int
put_run (struct pipeline *pl, struct ferry_disk *layer, const uint8_t *buf,
         uint64_t offset, uint64_t length, struct ferry_err *err)
{
  uint64_t done;

  if (copy_extents (pl, layer, offset, length, &done, err) < 0)
    return -1;
  if (done < length && pl->dst->ops->pwrite (pl->dst, buf + done, length - done,
                                             offset + done, err) < 0)
    return -1;
  return 0;
}

/* Write the non-zero runs of BUF (the data at OFFSET); zero runs are
 * skipped on a fresh target and zeroed otherwise.  LAYER, when not NULL,
 * stores all of it: see put_run. */
static int
write_data (struct pipeline *pl, struct ferry_disk *layer, const uint8_t *buf,
            uint64_t offset, uint64_t length, struct ferry_err *err)
{
  uint64_t pos = 0, run_start, blk;
  bool zero, run_zero;

  while (pos < length) {
    run_start = pos;
    blk = length - pos < ZERO_BLOCK ? length - pos : ZERO_BLOCK;
    run_zero = ferry_is_zero (buf + pos, blk);
    pos += blk;
    while (pos < length) {
      blk = length - pos < ZERO_BLOCK ? length - pos : ZERO_BLOCK;
      zero = ferry_is_zero (buf + pos, blk);
      if (zero != run_zero)
        break;
      pos += blk;
    }
    if (!run_zero) {
      if (put_run (pl, layer, buf + run_start, offset + run_start,
                   pos - run_start, err) < 0)
        return -1;
      atomic_fetch_add (&pl->written, pos - run_start);
    } else if (!pl->dst->fresh) {
      if (pl->dst->ops->zero (pl->dst, offset + run_start, pos - run_start,
                              err) < 0)
        return -1;
      atomic_fetch_add (&pl->zeroed, pos - run_start);
    }
  }
  return 0;
}

/* Onto a target that shares blocks (t->shares_blocks: a reflink): the
 * data extent of LAYER at virtual OFFSET (LENGTH bytes, whole zero blocks)
 * is shared as a whole, without reading it; its zero blocks too, which
 * cost no space there.  What the kernel does not share is read into BUF
 * and written as usual.  0, or -1 with ERR. */
static int
share_data (struct pipeline *pl, struct ferry_disk *layer, uint8_t *buf,
            uint64_t offset, uint64_t length, struct ferry_err *err)
{
  uint64_t done;

  if (copy_extents (pl, layer, offset, length, &done, err) < 0)
    return -1;
  atomic_fetch_add (&pl->written, done);
  if (done == length)
    return 0;
  if (layer->format->pread (layer, buf + done, length - done, offset + done,
                            err) < 0)
    return -1;
  atomic_fetch_add (&pl->data_read, length - done);
  return write_data (pl, layer, buf + done, offset + done, length - done, err);
}

/* Round down / up to a zero block. */
static uint64_t
block_down (uint64_t x)
{
  return x & ~(uint64_t) (ZERO_BLOCK - 1);
}

static uint64_t
block_up (uint64_t x)
{
  return block_down (x + ZERO_BLOCK - 1);
}

/* May the data extent [POS, END) of the chunk at OFFSET (LENGTH bytes),
 * held by LAYER, be copied in the kernel?  Not with a checksum (whose bytes
 * go through user space anyway), and only for whole zero blocks (or up to
 * the end of the disk), so that it shares no block with a region. */
static bool
can_copy (struct pipeline *pl, struct ferry_disk *layer, uint64_t offset,
          uint64_t pos, uint64_t end, uint64_t length)
{
  return !pl->opts->checksum && pl->dst->ops->copy_from &&
         layer->format->file_extent && !atomic_load (&pl->no_copy) &&
         pos % ZERO_BLOCK == 0 &&
         (end % ZERO_BLOCK == 0 ||
          (end == length && offset + end == pl->src->virtual_size));
}

/* Convert one chunk.  BUF holds chunk-size bytes.  With a checksum the whole
 * chunk is materialised in BUF (zeroes included).
 *
 * Data is written in regions made of whole zero blocks (aligned to the
 * disk, so O_DIRECT targets take them): data extents that share a block
 * are merged, and the zero parts of shared blocks are zero-filled in BUF.
 * A region is written once the next data extent no longer touches it. */
static int
do_chunk (struct pipeline *pl, uint8_t *buf, uint64_t index,
          struct ferry_err *err)
{
  uint64_t offset = index * pl->chunk;
  uint64_t length = pl->src->virtual_size - offset;
  uint64_t pos = 0, end, head, tail, reg_start = 0, reg_end = 0;
  bool writing = offset >= pl->write_from, reg_open = false;
  struct ferry_map m;

  if (length > pl->chunk)
    length = pl->chunk;
  while (pos < length) {
    if (ferry_disk_map_above (pl->src, pl->opts->base, offset + pos,
                              length - pos, &m, err) < 0)
      return -1;
    end = pos + m.length;
    if (m.held) {
      /* the target has these bytes: only the parts of blocks a region may
       * write out with data are read, so that they go back unchanged */
      if (writing) {
        head = block_up (pos) < end ? block_up (pos) : end;
        tail = block_down (end) > pos ? block_down (end) : pos;
        if ((head > pos && ferry_disk_read (pl->src, buf + pos, head - pos,
                                            offset + pos, err) < 0) ||
            (end > tail && tail >= head &&
             ferry_disk_read (pl->src, buf + tail, end - tail, offset + tail,
                              err) < 0))
          return -1;
      }
    } else if (m.zero) {
      if (pl->opts->checksum) {
        memset (buf + pos, 0, m.length);
      } else if (writing) {
        /* the partial blocks at either end may go out with data */
        head = block_up (pos) < end ? block_up (pos) : end;
        tail = block_down (end) > pos ? block_down (end) : pos;
        memset (buf + pos, 0, head - pos);
        memset (buf + tail, 0, end - tail);
      }
      if (writing && !pl->dst->fresh) {
        if (pl->dst->ops->zero (pl->dst, m.offset, m.length, err) < 0)
          return -1;
        atomic_fetch_add (&pl->zeroed, m.length);
      }
    } else if (writing && pl->dst->shares_blocks &&
               can_copy (pl, m.layer, offset, pos, end, length)) {
      if (reg_open && write_data (pl, NULL, buf + reg_start, offset + reg_start,
                                  block_up (reg_end) - reg_start, err) < 0)
        return -1;
      reg_open = false;
      if (share_data (pl, m.layer, buf + pos, offset + pos, m.length, err) < 0)
        return -1;
    } else if (writing || pl->opts->checksum) {
      if (m.layer->format->pread (m.layer, buf + pos, m.length, m.offset, err) <
          0)
        return -1;
      atomic_fetch_add (&pl->data_read, m.length);
      if (writing && can_copy (pl, m.layer, offset, pos, end, length)) {
        /* whole blocks stored as is in a file: their non-zero runs are
         * copied in the kernel (after the region before them) */
        if (reg_open &&
            write_data (pl, NULL, buf + reg_start, offset + reg_start,
                        block_up (reg_end) - reg_start, err) < 0)
          return -1;
        reg_open = false;
        if (write_data (pl, m.layer, buf + pos, offset + pos, m.length, err) <
            0)
          return -1;
      } else if (writing) {
        if (reg_open && block_down (pos) > block_up (reg_end)) {
          if (write_data (pl, NULL, buf + reg_start, offset + reg_start,
                          block_up (reg_end) - reg_start, err) < 0)
            return -1;
          reg_open = false;
        }
        if (!reg_open)
          reg_start = block_down (pos);
        reg_open = true;
        reg_end = end;
      }
    }
    pos = end;
  }
  if (reg_open) {
    reg_end = block_up (reg_end) < length ? block_up (reg_end) : length;
    if (write_data (pl, NULL, buf + reg_start, offset + reg_start,
                    reg_end - reg_start, err) < 0)
      return -1;
  }
  return 0;
}

/* Feed chunk INDEX to the hash in order: wait for our turn. */
static int
hash_chunk (struct pipeline *pl, const uint8_t *buf, uint64_t index)
{
  uint64_t offset = index * pl->chunk;
  uint64_t length = pl->src->virtual_size - offset;

  if (length > pl->chunk)
    length = pl->chunk;
  pthread_mutex_lock (&pl->lock);
  while (pl->hash_next != index && !atomic_load (&pl->failed))
    pthread_cond_wait (&pl->cond, &pl->lock);
  if (atomic_load (&pl->failed)) {
    pthread_mutex_unlock (&pl->lock);
    return -1;
  }
  EVP_DigestUpdate (pl->sha, buf, length);
  pl->hash_next++;
  pthread_cond_broadcast (&pl->cond);
  pthread_mutex_unlock (&pl->lock);
  return 0;
}

/* Mark INDEX done, advance the watermark, and take a checkpoint when the
 * watermark has moved a checkpoint interval past the last one. */
static int
chunk_done (struct pipeline *pl, uint64_t index, struct ferry_err *err)
{
  uint64_t mark, interval = pl->opts->checkpoint_interval;
  int r = 0;

  pthread_mutex_lock (&pl->lock);
  pl->done_map[index] = 1;
  while (pl->watermark < pl->nchunks && pl->done_map[pl->watermark])
    pl->watermark++;
  mark = pl->watermark * pl->chunk;
  if (mark > pl->src->virtual_size)
    mark = pl->src->virtual_size;
  if (pl->opts->checkpoint && !pl->ckpt_busy && mark > pl->write_from &&
      mark - pl->last_ckpt >= interval) {
    pl->ckpt_busy = true;
    pthread_mutex_unlock (&pl->lock);
    /* flush outside the lock: the other workers go on */
    r = pl->dst->ops->flush (pl->dst, err);
    if (r == 0)
      r = pl->opts->checkpoint (pl->opts->opaque, mark, err);
    pthread_mutex_lock (&pl->lock);
    pl->ckpt_busy = false;
    if (r == 0)
      pl->last_ckpt = mark;
  }
  pthread_cond_broadcast (&pl->cond);
  pthread_mutex_unlock (&pl->lock);
  return r;
}

/* Ask the kernel to read the stored-as-is data of chunk INDEX (the ranges
 * whose layer says where they lie in a file: raw, VHD, VHDX; not qcow2,
 * see its no_read_ahead) into the page cache, without waiting
 * (POSIX_FADV_WILLNEED).  Two workers reading their chunks with one pread each
 * left the device idle while they copied; the kernel's own read-ahead follows
 * one sequential reader, not chunks taken in turn.  Measured (4 GiB sparse
 * raw, 1.19 GiB of random data, cold, into tmpfs, 9 interleaved runs, median
 * ms): none 681 (547-1093), 2 chunks ahead 523, 4 ahead 490, 8 ahead 510;
 * qemu-img in the same runs 1046.  Compressed data has its own read-ahead
 * (VMDK). A hint only: errors are ignored, the real read reports them. */
static void
read_ahead (struct pipeline *pl, uint64_t index)
{
  uint64_t offset = index * pl->chunk, pos = 0, length, foff, n, done;
  struct ferry_map m;
  struct ferry_err ignore = {0};
  int fd;

  if (index >= pl->nchunks)
    return;
  length = pl->src->virtual_size - offset;
  if (length > pl->chunk)
    length = pl->chunk;
  while (pos < length) {
    if (ferry_disk_map_above (pl->src, pl->opts->base, offset + pos,
                              length - pos, &m, &ignore) < 0)
      return;
    for (done = 0; !m.held && !m.zero && m.layer->format->file_extent &&
                   !m.layer->format->no_read_ahead && done < m.length;
         done += n) {
      if (m.layer->format->file_extent (m.layer, m.offset + done,
                                        m.length - done, &fd, &foff, &n,
                                        &ignore) < 0 ||
          n == 0)
        break;
      (void) posix_fadvise (fd, (off_t) foff, (off_t) n, POSIX_FADV_WILLNEED);
    }
    pos += m.length;
  }
}

/* Worker thread: take chunk indexes from PL->next until they run out, the
 * pipeline fails or the stop flag is set; convert, hash (with a checksum)
 * and mark each done.  Its chunk buffer is 4096-aligned for O_DIRECT
 * targets.  Errors go to pipeline_fail; on exit it decrements
 * PL->running and wakes the waiting caller.  Returns NULL. */
static void *
worker (void *arg)
{
  struct pipeline *pl = arg;
  struct ferry_err err = {0};
  uint8_t *buf = NULL;
  uint64_t index;
  bool hint;
  /* Test hook: sleep this long after each chunk, so the tests can land a
   * signal or a kill in the middle of a conversion on any machine. */
  const char *delay = getenv ("FERRY_TEST_CHUNK_DELAY_MS");
  long ms = delay ? strtol (delay, NULL, 10) : 0;
  struct timespec pause = {ms > 0 ? ms / 1000 : 0,
                           ms > 0 ? ms % 1000 * 1000000 : 0};

  if (posix_memalign ((void **) &buf, 4096, pl->chunk) != 0) {
    ferry_err_set (&err, ENOMEM, "cannot allocate a chunk buffer");
    pipeline_fail (pl, &err);
    goto out;
  }
  for (;;) {
    if (atomic_load (&pl->failed) || (pl->opts->stop && *pl->opts->stop))
      break;
    index = atomic_fetch_add (&pl->next, 1);
    if (index >= pl->nchunks)
      break;
    /* the first chunk's worker starts the read-ahead of those before the
     * window; then each chunk's worker hints the one AHEAD past it.  Not
     * while data is shared unread (share_data), unless the kernel refused
     * to (another file system) */
    hint = pl->ahead && (!pl->dst->shares_blocks || pl->opts->checksum ||
                         atomic_load (&pl->no_copy));
    if (hint && index == pl->first)
      for (uint64_t k = 1; k < pl->ahead; k++)
        read_ahead (pl, index + k);
    if (hint)
      read_ahead (pl, index + pl->ahead);
    if (do_chunk (pl, buf, index, &err) < 0 ||
        (pl->opts->checksum && hash_chunk (pl, buf, index) < 0) ||
        chunk_done (pl, index, &err) < 0) {
      if (err.set)
        pipeline_fail (pl, &err);
      break;
    }
    if (pause.tv_sec || pause.tv_nsec)
      nanosleep (&pause, NULL);
  }
out:
  free (buf);
  pthread_mutex_lock (&pl->lock);
  pl->running--;
  pthread_cond_broadcast (&pl->cond);
  pthread_mutex_unlock (&pl->lock);
  return NULL;
}

/* Call the progress callback, if any, with the watermark (bytes known to
 * be written, clamped to the disk size), the byte counters and the time
 * since T0; FINAL marks the last report of a finished conversion.  Runs
 * on the calling thread, not holding the lock during the callback. */
static void
report (struct pipeline *pl, double t0, bool final)
{
  struct ferry_convert_progress p;
  uint64_t done;

  if (pl->opts->progress == NULL)
    return;
  pthread_mutex_lock (&pl->lock);
  done = pl->watermark * pl->chunk;
  pthread_mutex_unlock (&pl->lock);
  p.total = pl->src->virtual_size;
  p.done = done > p.total ? p.total : done;
  p.data_read = atomic_load (&pl->data_read);
  p.written = atomic_load (&pl->written);
  p.elapsed = now () - t0;
  p.final = final;
  pl->opts->progress (pl->opts->opaque, &p);
}

/* Convert the open SRC into the open DST (neither is closed; DST must be
 * at least SRC's size), filling in the option defaults (4 MiB chunks,
 * 1 GiB checkpoints, workers per CPU as the target says
 * (ferry_target_ops.workers_per_cpu), at least 2, at most 64).  The calling
 * thread starts the workers, reports progress while waiting and joins them.
 * Unless a worker failed, the target is then flushed and the last checkpoint
 * recorded even when stopped early, so a resume starts from there.  RESUME_FROM
 * is rounded down to a chunk; with a checksum every chunk is still read (the
 * hash covers the whole disk), but only those past it are written.  0 with
 * *RET_STATS (when not NULL) filled, or -1 with ERR (EINTR when the stop flag
 * ended it early). */
int
ferry_convert_disk (struct ferry_disk *src, struct ferry_target *dst,
                    const struct ferry_convert_opts *in_opts,
                    struct ferry_convert_stats *ret_stats,
                    struct ferry_err *err)
{
  struct ferry_convert_opts opts = *in_opts;
  struct pipeline pl;
  pthread_t *tids = NULL;
  unsigned i, started = 0;
  struct ferry_disk *layer;
  struct timespec ts;
  double t0 = now ();
  int r = -1;
  long ncpu;

  if (dst->size < src->virtual_size)
    return ferry_err_set (err, 0,
                          "target '%s' (%llu bytes) is smaller than the "
                          "source '%s' (%llu bytes)",
                          dst->name, (unsigned long long) dst->size, src->path,
                          (unsigned long long) src->virtual_size);
  if (opts.chunk_size == 0)
    opts.chunk_size = 4 << 20;
  if (opts.chunk_size % 4096 != 0 || opts.chunk_size > (256u << 20))
    return ferry_err_set (err, 0,
                          "chunk size must be a multiple of 4096 and at "
                          "most 256 MiB");
  if (opts.checkpoint_interval == 0)
    opts.checkpoint_interval = 1ull << 30;
  if (opts.threads == 0) {
    ncpu = sysconf (_SC_NPROCESSORS_ONLN);
    opts.threads = ncpu > 1 ? (unsigned) ncpu * dst->ops->workers_per_cpu : 2;
    if (opts.threads < 2)
      opts.threads = 2;
  }
  if (opts.threads > 64)
    opts.threads = 64;
  if (opts.base && (opts.checksum || dst->fresh))
    return ferry_err_set (err, 0,
                          "a copy onto '%s' needs a target that holds it "
                          "(opened to resume) and no checksum",
                          opts.base->path);
  if (opts.resume_from > src->virtual_size)
    return ferry_err_set (err, 0, "resume offset %llu is past the end of '%s'",
                          (unsigned long long) opts.resume_from, src->path);
  opts.resume_from -= opts.resume_from % opts.chunk_size;

  memset (&pl, 0, sizeof pl);
  pl.src = src;
  pl.dst = dst;
  pl.opts = &opts;
  pl.chunk = opts.chunk_size;
  pl.nchunks = (src->virtual_size + pl.chunk - 1) / pl.chunk;
  pl.write_from = opts.resume_from;
  pl.first = opts.checksum ? 0 : opts.resume_from / pl.chunk;
  atomic_init (&pl.next, pl.first);
  pl.watermark = pl.first;
  pl.last_ckpt = opts.resume_from;
  pthread_mutex_init (&pl.lock, NULL);
  pthread_cond_init (&pl.cond, NULL);
  pl.done_map = calloc (pl.nchunks + 1, 1);
  tids = calloc (opts.threads, sizeof *tids);
  if (pl.done_map == NULL || tids == NULL) {
    ferry_err_set (err, ENOMEM, "cannot allocate pipeline state");
    goto out;
  }
  memset (pl.done_map, 1, pl.first);
  if (opts.checksum) {
    pl.sha = EVP_MD_CTX_new ();
    if (pl.sha == NULL ||
        EVP_DigestInit_ex (pl.sha, EVP_sha256 (), NULL) != 1) {
      ferry_err_set (err, 0, "cannot initialise SHA-256");
      goto out;
    }
  }
  /* Resuming: whatever a killed run left past the resume point is unknown;
   * make it zero once so that zero ranges can be skipped again. */
  if (!dst->fresh && opts.resume_from > 0 && opts.base == NULL) {
    if (dst->ops->zero (dst, opts.resume_from, dst->size - opts.resume_from,
                        err) < 0)
      goto out;
    dst->fresh = true;
  }
  pl.running = opts.threads;
  for (layer = src; layer; layer = layer->parent)
    if (layer->format->file_extent && !layer->format->no_read_ahead)
      pl.ahead = 2 * opts.threads; /* else no layer says where data lies */
  for (i = 0; i < opts.threads; i++) {
    if (pthread_create (&tids[i], NULL, worker, &pl) != 0) {
      pthread_mutex_lock (&pl.lock);
      pl.running -= opts.threads - i;
      pthread_mutex_unlock (&pl.lock);
      struct ferry_err e = {0};
      ferry_err_set (&e, errno, "cannot start worker thread");
      pipeline_fail (&pl, &e);
      break;
    }
    started++;
  }
  /* Report progress every 0.5 s by a fixed deadline: the workers wake this
   * thread at every finished chunk, so a timeout restarted at each wake-up
   * would never expire on a fast conversion. */
  clock_gettime (CLOCK_REALTIME, &ts);
  pthread_mutex_lock (&pl.lock);
  while (pl.running > 0) {
    struct timespec nowts;

    ts.tv_nsec += 500000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    while (pl.running > 0 &&
           pthread_cond_timedwait (&pl.cond, &pl.lock, &ts) != ETIMEDOUT)
      ;
    if (pl.running == 0)
      break;
    pthread_mutex_unlock (&pl.lock);
    report (&pl, t0, false);
    pthread_mutex_lock (&pl.lock);
    /* a slow callback: the next deadline is 0.5 s from now, not behind */
    clock_gettime (CLOCK_REALTIME, &nowts);
    if (nowts.tv_sec > ts.tv_sec ||
        (nowts.tv_sec == ts.tv_sec && nowts.tv_nsec > ts.tv_nsec))
      ts = nowts;
  }
  pthread_mutex_unlock (&pl.lock);
  for (i = 0; i < started; i++)
    pthread_join (tids[i], NULL);

  if (pl.err.set) {
    *err = pl.err;
    goto out;
  }
  /* The bytes past the source's end on a bigger, non-fresh target. */
  if (!dst->fresh && dst->size > src->virtual_size && opts.base == NULL &&
      pl.watermark >= pl.nchunks &&
      dst->ops->zero (dst, src->virtual_size, dst->size - src->virtual_size,
                      err) < 0)
    goto out;
  if (dst->ops->flush (dst, err) < 0)
    goto out;
  /* Record how far we got, interrupted or not. */
  {
    uint64_t mark = pl.watermark * pl.chunk;
    if (mark > src->virtual_size)
      mark = src->virtual_size;
    if (opts.checkpoint && mark > pl.last_ckpt &&
        opts.checkpoint (opts.opaque, mark, err) < 0)
      goto out;
  }
  if (pl.watermark < pl.nchunks) {
    ferry_err_set (err, EINTR, "conversion of '%s' interrupted", src->path);
    goto out;
  }
  report (&pl, t0, true);
  if (ret_stats) {
    memset (ret_stats, 0, sizeof *ret_stats);
    ret_stats->virtual_size = src->virtual_size;
    ret_stats->data_read = atomic_load (&pl.data_read);
    ret_stats->written = atomic_load (&pl.written);
    ret_stats->zeroed = atomic_load (&pl.zeroed);
    ret_stats->seconds = now () - t0;
    if (opts.checksum)
      EVP_DigestFinal_ex (pl.sha, ret_stats->sha256, NULL);
  }
  r = 0;

out:
  if (pl.sha)
    EVP_MD_CTX_free (pl.sha);
  free (pl.done_map);
  free (tids);
  pthread_mutex_destroy (&pl.lock);
  pthread_cond_destroy (&pl.cond);
  return r;
}

/* Open SRC_LOC (confined by OPTS->confine) and the target DST_LOC sized
 * to it, convert, and close both.  A file target that is the source
 * itself, even through a link, is refused before it is opened, since
 * opening it would zero the source.  0, or -1 with ERR; a failed final
 * flush on close also makes it -1. */
int
ferry_convert (const struct ferry_location *src_loc,
               const struct ferry_location *dst_loc,
               const struct ferry_convert_opts *opts,
               struct ferry_convert_stats *ret_stats, struct ferry_err *err)
{
  struct ferry_convert_opts o = *opts;
  struct ferry_disk *src = NULL;
  struct ferry_target *dst = NULL;
  unsigned flags = 0;
  int r;

  if (ferry_disk_open_location (src_loc, opts->confine, &src, err) < 0)
    return -1;
  /* `ferry convert X X` (or through a link) would zero the source */
  if (dst_loc->kind == FERRY_LOCATION_FILE &&
      ferry_disk_check_not_source (src, dst_loc->file.path, err) < 0) {
    ferry_disk_close (src);
    return -1;
  }
  if (opts->onto) {
    o.base = ferry_disk_find_layer (src, opts->onto);
    if (o.base == NULL) {
      ferry_err_set (err, errno,
                     "'%s' is not in the chain of '%s' (the target must hold "
                     "one of its layers)",
                     opts->onto, src->path);
      ferry_disk_close (src);
      return -1;
    }
    flags |= FERRY_TARGET_RESUME;
  }
  if (opts->resume_from > 0)
    flags |= FERRY_TARGET_RESUME;
  if (opts->direct)
    flags |= FERRY_TARGET_DIRECT;
  if (ferry_target_open_location (dst_loc, src->virtual_size, flags, &dst,
                                  err) < 0) {
    ferry_disk_close (src);
    return -1;
  }
  r = ferry_convert_disk (src, dst, &o, ret_stats, err);
  if (ferry_target_close (dst, err) < 0)
    r = -1;
  ferry_disk_close (src);
  return r;
}
