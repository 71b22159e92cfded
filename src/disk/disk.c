/* Opening an image and its parent chain; the resolved (chain) view. */
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define DROP_MIN (64u << 10) /* reads this big are image data, read once */
#define DROP_SHARE 2         /* drop past 1/DROP_SHARE of MemAvailable */

/* MemAvailable from /proc/meminfo in bytes, or 0 when unknown. */
static uint64_t
mem_available (void)
{
  char line[256];
  unsigned long long kib;
  uint64_t r = 0;
  FILE *f = fopen ("/proc/meminfo", "re");

  if (f == NULL)
    return 0;
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "MemAvailable: %llu kB", &kib) == 1) {
      r = (uint64_t) kib * 1024;
      break;
    }
  fclose (f);
  return r;
}

/* See disk.h.  Dropping image data from the page cache after reading it
 * (POSIX_FADV_DONTNEED) used to be unconditional, on the grounds that
 * reusing the same pages is cheaper than filling fresh ones.  Measured on
 * this project's 2-CPU VM (24 GiB, 20 GiB available, but shared: load
 * 8, so noisy), 4 GiB virtual disks (~1.6 GiB allocated) into /dev/shm,
 * 5 runs interleaved, median (min) seconds, drop always -> never:
 *   cold cache: raw 5.72 (3.58) -> 4.57 (2.60), qcow2 4.42 (4.03) ->
 *               4.55 (3.57), VMDK monolithicSparse 3.19 (1.86) ->
 *               4.13 (3.54)
 *   warm cache: raw 3.75 (1.93) -> 4.01 (2.44), qcow2 2.23 (1.72) ->
 *               2.82 (1.51), VMDK monolithicSparse 2.48 (1.58) ->
 *               2.21 (1.50)
 * (issue 13's quieter run: raw 0.83 -> 0.70 s).  Cold, dropping does not
 * pay for raw and qcow2; the VMDK figures lean the other way, and warm
 * ones are all within this machine's noise (a warm raw run took 2.4 to
 * 7.1 s): no measured gain from dropping.  Without memory pressure a second run
 * (a retry, a validate, a warm pre-copy) finds the source in the cache.
 * Dropping still pays when the image does not fit: its pages would evict the
 * rest of the host's cache for nothing.  So: drop when the file's allocated
 * bytes exceed half of MemAvailable; FERRY_DROP_CACHE=1 or 0 forces it
 * either way. */
bool
ferry_disk_drop_wanted (uint64_t bytes)
{
  /* drop above this many bytes, + 1; 0: not decided yet */
  static uint64_t limit;
  uint64_t l = __atomic_load_n (&limit, __ATOMIC_RELAXED);
  const char *env;

  if (l == 0) {
    env = getenv ("FERRY_DROP_CACHE");
    if (env && *env)
      l = strcmp (env, "0") == 0 ? UINT64_MAX : 1;
    else
      l = mem_available () / DROP_SHARE + 1; /* unknown: 1, always */
    __atomic_store_n (&limit, l, __ATOMIC_RELAXED);
  }
  return bytes >= l;
}

/* pread exactly LENGTH bytes or fail naming the file and what was read. */
int
ferry_disk_pread_exact (struct ferry_disk *disk, void *buf, size_t length,
                        uint64_t offset, const char *what,
                        struct ferry_err *err)
{
  size_t done = 0;
  ssize_t r;

  if (offset > disk->file_size || length > disk->file_size - offset)
    return ferry_err_set (err, 0,
                          "'%s': %s at offset %llu (%zu bytes) is past the "
                          "end of the file (%llu bytes)",
                          disk->path, what, (unsigned long long) offset, length,
                          (unsigned long long) disk->file_size);
  while (done < length) {
    r = pread (disk->fd, (char *) buf + done, length - done,
               (off_t) (offset + done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return ferry_err_set (err, errno, "'%s': cannot read %s", disk->path,
                            what);
    if (r == 0)
      return ferry_err_set (err, 0, "'%s': %s: unexpected end of file",
                            disk->path, what);
    done += (size_t) r;
  }
  if (disk->drop_cache && length >= DROP_MIN)
    (void) posix_fadvise (disk->fd, (off_t) offset, (off_t) length,
                          POSIX_FADV_DONTNEED);
  return 0;
}

/* Free one layer (not its parent, not the chain's confinement). */
static void
disk_free_layer (struct ferry_disk *d)
{
  if (d == NULL)
    return;
  if (d->format && d->format->close)
    d->format->close (d);
  if (d->fd >= 0)
    close (d->fd);
  free (d->path);
  free (d->parent_hint);
  free (d->parent_names);
  ferry_rbd_location_clear (&d->rbd);
  free (d);
}

/* Close a whole chain: every layer from DISK down to the base, and the
 * confinement the chain was opened with.  NULL is fine. */
void
ferry_disk_close (struct ferry_disk *disk)
{
  struct ferry_confine *confine = disk ? disk->confine : NULL;
  struct ferry_disk *next;

  while (disk) {
    next = disk->parent;
    disk_free_layer (disk);
    disk = next;
  }
  ferry_confine_free (confine);
  free (confine);
}

/* Open one layer: PATH, or for a parent the descriptor FD already opened
 * (confined) on the resolved PATH; detect the format from its first and
 * last bytes.  CONFINE is what the layer's reader may open. */
static int
disk_open_layer (const char *path, int fd, struct ferry_confine *confine,
                 struct ferry_disk **ret, struct ferry_err *err)
{
  struct ferry_disk *d;
  uint8_t head[4096], tail[4096];
  size_t hlen, tlen;
  struct stat st;

  d = calloc (1, sizeof *d);
  if (d == NULL) {
    if (fd >= 0)
      close (fd);
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  d->fd = fd;
  d->confine = confine;
  d->path = strdup (path);
  if (d->path == NULL)
    goto fail_errno;
  if (d->fd < 0)
    d->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (d->fd < 0) {
    ferry_err_set (err, errno, "cannot open '%s'", path);
    goto fail;
  }
  if (fstat (d->fd, &st) < 0)
    goto fail_errno;
  if (S_ISDIR (st.st_mode)) {
    ferry_err_set (err, EISDIR, "cannot open '%s'", path);
    goto fail;
  }
  if (S_ISBLK (st.st_mode)) {
    off_t end = lseek (d->fd, 0, SEEK_END);
    if (end < 0)
      goto fail_errno;
    d->file_size = (uint64_t) end;
  } else {
    d->file_size = (uint64_t) st.st_size;
  }
  d->drop_cache = ferry_disk_drop_wanted (
      S_ISREG (st.st_mode) ? (uint64_t) st.st_blocks * 512 : d->file_size);
  hlen = d->file_size < sizeof head ? (size_t) d->file_size : sizeof head;
  tlen = hlen;
  if (ferry_disk_pread_exact (d, head, hlen, 0, "header", err) < 0 ||
      ferry_disk_pread_exact (d, tail, tlen, d->file_size - tlen, "footer",
                              err) < 0)
    goto fail;
  d->format = ferry_disk_detect (head, hlen, tail, tlen);
  if (d->format->open (d, err) < 0)
    goto fail;
  *ret = d;
  return 0;

fail_errno:
  ferry_err_set (err, errno, "cannot open '%s'", path);
fail:
  disk_free_layer (d);
  return -1;
}

/* NAME (hostile: written in an image) for a message: control characters
 * and quotes become '?'; cut to fit OUT (N bytes). */
static const char *
disk_printable (const char *name, char *out, size_t n)
{
  size_t i;

  for (i = 0; name && name[i] && i + 1 < n; i++)
    out[i] =
        ((unsigned char) name[i] < 0x20 || name[i] == 0x7f || name[i] == '\'')
            ? '?'
            : name[i];
  out[i] = '\0';
  return out;
}

/* What DISK needs of its parent (see disk.h). */
void
ferry_disk_parent_needs (const struct ferry_disk *disk, char *buf, size_t len)
{
  const char *field =
      disk->format->parent_field ? disk->format->parent_field : "parent";
  char hint[256];

  disk_printable (disk->parent_hint, hint, sizeof hint);

  if (disk->parent_names && disk->parent_id[0])
    snprintf (buf, len, "with %s, named %s", disk->parent_id,
              disk->parent_names);
  else if (disk->parent_names)
    snprintf (buf, len, "named %s", disk->parent_names);
  else if (disk->parent_id[0])
    snprintf (buf, len, "with %s, named %s '%s'", disk->parent_id, field, hint);
  else
    snprintf (buf, len, "named %s '%s'", field, hint);
}

/* CUR's parent file is not there: replace ERR (ENOENT from the confined
 * open) with what an operator needs to find it: which image is the
 * orphan, the parent's identity and recorded names, and the path and
 * directories ferry looked in. */
static void
disk_missing_parent (struct ferry_disk *cur, struct ferry_err *err)
{
  CLEANUP_FREE char *copy = strdup (cur->path), *dir = NULL;
  char needs[640], dirs[256] = "", hint[256];
  const char *slash;
  size_t i, o = 0;

  if (copy == NULL)
    return;
  slash = strrchr (copy, '/');
  if (slash)
    copy[slash - copy + (slash == copy)] = '\0';
  dir = realpath (slash ? copy : ".", NULL);
  for (i = 0; cur->confine && i < cur->confine->n && o < sizeof dirs; i++)
    o += (size_t) snprintf (dirs + o, sizeof dirs - o, "%s'%s'", i ? ", " : "",
                            cur->confine->dirs[i]);
  ferry_disk_parent_needs (cur, needs, sizeof needs);
  ferry_err_clear (err);
  ferry_err_set (err, 0,
                 "'%s' is a differencing %s image whose parent is missing: "
                 "it needs the parent %s; ferry looked for '%s%s%s' "
                 "(allowed directories: %s)",
                 cur->path, cur->format->name, needs,
                 cur->parent_hint[0] == '/' || dir == NULL ? "" : dir,
                 cur->parent_hint[0] == '/' || dir == NULL ? "" : "/",
                 disk_printable (cur->parent_hint, hint, sizeof hint),
                 dirs[0] ? dirs : "none");
}

/* Open CUR's parent: the name CUR records, confined (see confine.h). */
static int
disk_open_parent (struct ferry_disk *cur, struct ferry_disk **ret,
                  struct ferry_err *err)
{
  CLEANUP_FREE char *ppath = NULL;
  int fd;

  if (ferry_confine_open (cur->confine, cur->path,
                          cur->format->parent_field ? cur->format->parent_field
                                                    : "parent",
                          cur->parent_hint, 0, &ppath, &fd, err) < 0) {
    if (err->errnum == ENOENT)
      disk_missing_parent (cur, err);
    return -1;
  }
  if (disk_open_layer (ppath, fd, cur->confine, ret, err) < 0) {
    /* the parent's own error names the parent: say who named it */
    ferry_err_prefix (err, "'%s': %s", cur->path,
                      cur->format->parent_field ? cur->format->parent_field
                                                : "parent");
    return -1;
  }
  return 0;
}

int
ferry_disk_open (const char *path, struct ferry_disk **ret,
                 struct ferry_err *err)
{
  return ferry_disk_open_confined (path, NULL, ret, err);
}

/* A new allowed-directories set for opening PATH: a copy of CONFINE, or
 * PATH's directory when CONFINE is NULL.  0 with *RET, or -1. */
static int
confine_new (const char *path, const struct ferry_confine *confine,
             struct ferry_confine **ret, struct ferry_err *err)
{
  struct ferry_confine *c = calloc (1, sizeof *c);

  if (c == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (confine ? ferry_confine_copy (c, confine, err) < 0
              : ferry_confine_add_image_dir (c, path, err) < 0) {
    free (c);
    return -1;
  }
  *ret = c;
  return 0;
}

/* Open PATH and its whole snapshot chain.  PATH itself is the operator's
 * choice; every file the chain names (extents, parents) goes through
 * CONFINE, or through PATH's own directory when CONFINE is NULL.  A chain
 * longer than FERRY_DISK_MAX_CHAIN or one that comes back to a file it
 * already holds (same device and inode) is an error, not a loop.  The
 * chain keeps its own copy of the confinement. */
int
ferry_disk_open_confined (const char *path, const struct ferry_confine *confine,
                          struct ferry_disk **ret, struct ferry_err *err)
{
  struct ferry_disk *top = NULL, *cur, *parent;
  struct {
    dev_t dev;
    ino_t ino;
  } seen[FERRY_DISK_MAX_CHAIN + 1];
  size_t depth = 0, i;
  struct ferry_confine *c;
  struct stat st;

  if (confine_new (path, confine, &c, err) < 0)
    return -1;
  if (disk_open_layer (path, -1, c, &top, err) < 0) {
    ferry_confine_free (c);
    free (c);
    return -1;
  }
  cur = top;
  if (cur->fd >= 0 && fstat (cur->fd, &st) == 0) {
    seen[depth].dev = st.st_dev;
    seen[depth++].ino = st.st_ino;
  }
  while (cur->parent_hint) {
    if (depth >= FERRY_DISK_MAX_CHAIN) {
      ferry_err_set (err, 0,
                     "'%s': snapshot chain longer than %d images (loop?)", path,
                     FERRY_DISK_MAX_CHAIN);
      goto fail;
    }
    if (disk_open_parent (cur, &parent, err) < 0)
      goto fail;
    cur->parent = parent;
    if (fstat (parent->fd, &st) < 0) {
      ferry_err_set (err, errno, "cannot stat '%s'", parent->path);
      goto fail;
    }
    for (i = 0; i < depth; i++)
      if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino) {
        ferry_err_set (err, 0,
                       "'%s': parent '%s' is already in the chain (loop)",
                       cur->path, parent->path);
        goto fail;
      }
    seen[depth].dev = st.st_dev;
    seen[depth++].ino = st.st_ino;
    if (cur->format->check_parent &&
        cur->format->check_parent (cur, parent, err) < 0)
      goto fail;
    cur = parent;
  }
  *ret = top;
  return 0;

fail:
  ferry_disk_close (top);
  return -1;
}

/* Open PATH as a one-layer chain, parents not followed (see disk.h). */
int
ferry_disk_open_top (const char *path, const struct ferry_confine *confine,
                     struct ferry_disk **ret, struct ferry_err *err)
{
  struct ferry_confine *c;

  if (confine_new (path, confine, &c, err) < 0)
    return -1;
  if (disk_open_layer (path, -1, c, ret, err) < 0) {
    ferry_confine_free (c);
    free (c);
    return -1;
  }
  return 0;
}

/* Open the RBD image at R as a one-layer chain: its display name is the
 * path every message quotes; the reader takes the fields from DISK->rbd. */
static int
disk_open_rbd (const struct ferry_rbd_location *r, struct ferry_disk **ret,
               struct ferry_err *err)
{
  struct ferry_location copy;
  struct ferry_disk *d;

  d = calloc (1, sizeof *d);
  if (d == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  d->fd = -1;
  d->format = &ferry_format_rbd;
  if (ferry_location_set_rbd (&copy, r, false, err) < 0) {
    free (d);
    return -1;
  }
  d->rbd = copy.rbd;
  d->path = ferry_rbd_location_format (&d->rbd);
  if (d->path == NULL) {
    ferry_err_set (err, errno, "cannot allocate memory");
    goto fail;
  }
  if (d->format->open (d, err) < 0)
    goto fail;
  *ret = d;
  return 0;

fail:
  disk_free_layer (d);
  return -1;
}

/* Dispatch on LOC's kind: a file chain (confined) or an RBD image. */
int
ferry_disk_open_location (const struct ferry_location *loc,
                          const struct ferry_confine *confine,
                          struct ferry_disk **ret, struct ferry_err *err)
{
  switch (loc->kind) {
  case FERRY_LOCATION_FILE:
    return ferry_disk_open_confined (loc->file.path, confine, ret, err);
  case FERRY_LOCATION_RBD:
    return disk_open_rbd (&loc->rbd, ret, err);
  case FERRY_LOCATION_LAST:
    break;
  }
  return ferry_err_set (err, EINVAL, "disk location of unknown kind %d",
                        (int) loc->kind);
}

/* Resolve what [offset, offset+length) holds through the chain: the first
 * layer (from the top) that has data or zeroes for OFFSET wins; the extent
 * is shortened so that it is uniform through every layer consulted. */
int
ferry_disk_map (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                struct ferry_map *ret, struct ferry_err *err)
{
  return ferry_disk_map_above (disk, NULL, offset, length, ret, err);
}

/* See disk.h: each layer from the top is asked for the range until one
 * holds data or zeroes, or the descent reaches BASE (held). */
int
ferry_disk_map_above (struct ferry_disk *disk, struct ferry_disk *base,
                      uint64_t offset, uint64_t length, struct ferry_map *ret,
                      struct ferry_err *err)
{
  struct ferry_disk *layer;
  struct ferry_extent ext;

  if (offset >= disk->virtual_size)
    return ferry_err_set (err, 0, "'%s': offset %llu past the virtual size",
                          disk->path, (unsigned long long) offset);
  if (length > disk->virtual_size - offset)
    length = disk->virtual_size - offset;
  ret->held = false;
  for (layer = disk; layer; layer = layer->parent) {
    if (offset >= layer->virtual_size) {
      /* a parent smaller than the child: the rest reads as zeroes */
      break;
    }
    if (layer == base) {
      ret->offset = offset;
      ret->length = length;
      ret->zero = false;
      ret->held = true;
      ret->layer = NULL;
      return 0;
    }
    if (length > layer->virtual_size - offset)
      length = layer->virtual_size - offset;
    if (layer->format->block_status (layer, offset, length, &ext, err) < 0)
      return -1;
    if (ext.offset != offset || ext.length == 0 ||
        ext.kind >= FERRY_EXTENT_LAST)
      return ferry_err_set (err, 0, "'%s': internal error in %s reader",
                            layer->path, layer->format->name);
    if (ext.length < length)
      length = ext.length;
    if (ext.kind == FERRY_EXTENT_DATA) {
      ret->offset = offset;
      ret->length = length;
      ret->zero = false;
      ret->layer = layer;
      return 0;
    }
    if (ext.kind == FERRY_EXTENT_ZERO)
      break;
  }
  ret->offset = offset;
  ret->length = length;
  ret->zero = true;
  ret->layer = NULL;
  return 0;
}

/* See disk.h: by device and inode of each layer's open descriptor. */
struct ferry_disk *
ferry_disk_find_layer (struct ferry_disk *disk, const char *path)
{
  struct ferry_disk *l;
  struct stat want, have;

  if (stat (path, &want) < 0)
    return NULL;
  for (l = disk; l; l = l->parent)
    if (l->fd >= 0 && fstat (l->fd, &have) == 0 && have.st_dev == want.st_dev &&
        have.st_ino == want.st_ino)
      return l;
  errno = 0;
  return NULL;
}

/* Map the whole disk (see disk.h): the table walk shared by inspect and
 * validate. */
int
ferry_disk_walk (struct ferry_disk *disk, unsigned max_calls, uint64_t *alloc,
                 struct ferry_err *err)
{
  uint64_t off = 0;
  struct ferry_map m;
  unsigned calls;

  for (calls = 0; off < disk->virtual_size; calls++) {
    if (max_calls && calls >= max_calls)
      break;
    if (ferry_disk_map (disk, off, disk->virtual_size - off, &m, err) < 0)
      return -1;
    if (!m.zero)
      *alloc += m.length;
    off += m.length;
  }
  return 0;
}

/* Read LENGTH bytes of the virtual disk at OFFSET into BUF: each mapped
 * run from the layer that holds it, zeroes for unallocated ones.  A read
 * past the virtual size is an error. */
int
ferry_disk_read (struct ferry_disk *disk, void *buf, uint64_t length,
                 uint64_t offset, struct ferry_err *err)
{
  struct ferry_map m;
  char *p = buf;

  if (offset > disk->virtual_size || length > disk->virtual_size - offset)
    return ferry_err_set (err, 0, "'%s': read past the virtual size",
                          disk->path);
  while (length > 0) {
    if (ferry_disk_map (disk, offset, length, &m, err) < 0)
      return -1;
    if (m.zero)
      memset (p, 0, m.length);
    else if (m.layer->format->pread (m.layer, p, m.length, offset, err) < 0)
      return -1;
    p += m.length;
    offset += m.length;
    length -= m.length;
  }
  return 0;
}

/* Issue the read RUN has gathered (if any) and empty it. */
int
ferry_read_run_flush (struct ferry_disk *disk, struct ferry_read_run *run,
                      const char *what, struct ferry_err *err)
{
  uint64_t len = run->len;

  run->len = 0;
  if (len == 0)
    return 0;
  return ferry_disk_pread_exact (disk, run->buf, len, run->foff, what, err);
}

/* Queue a read of N bytes at file offset FOFF into OUT: merged with the
 * pending run when both the file range and the buffer continue it, else
 * the pending run is read first.  Block walkers use it to turn many small
 * adjacent reads into one pread. */
int
ferry_read_run_add (struct ferry_disk *disk, struct ferry_read_run *run,
                    uint8_t *out, uint64_t foff, uint64_t n, const char *what,
                    struct ferry_err *err)
{
  if (run->len > 0 && run->foff + run->len == foff &&
      run->buf + run->len == out) {
    run->len += n;
    return 0;
  }
  if (ferry_read_run_flush (disk, run, what, err) < 0)
    return -1;
  run->buf = out;
  run->foff = foff;
  run->len = n;
  return 0;
}
