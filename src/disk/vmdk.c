/* VMDK reader: text descriptors with FLAT/SPARSE/ZERO extents, hosted
 * sparse files (monolithicSparse, twoGbMaxExtentSparse, streamOptimized
 * with compressed grains and the footer's grain directory), ESXi flat
 * (vmfs, vmfsThin), ESXi snapshot deltas (vmfsSparse "COWD" and seSparse
 * extents, headers in vmdk-esx.c), and snapshot chains (parentFileNameHint,
 * parentCID).
 *
 * Memory: the grain directory of each sparse extent is loaded at open (at
 * most MAX_GD_BYTES); grain tables are read on demand into a fixed-size
 * cache (GT_CACHE_BYTES).  Extent files are opened on demand too, at most
 * MAX_OPEN_FILES at a time, so a split disk of thousands of extents works
 * with the default file limit.  Compressed grains are read and inflated
 * with an inflate_ctx from a pool of the disk, one per concurrent reader,
 * reused for every data run: at most MAX_SPAN of compressed bytes read
 * ahead and one grain each. */
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/vmdk.h"
#include "util/cleanup.h"

#define MAX_OPEN_FILES 64         /* extent files kept open at once */
#define GT_CACHE_BYTES (2u << 20) /* grain tables cached per disk */
#define MAX_GD_BYTES (32u << 20)  /* largest grain directory we load */
#define MAX_GD_ENTRIES (8u << 20) /* entries in it (64 MiB in memory) */
#define MAX_GRAIN_SECTORS 16384   /* 8 MiB grains at most */
#define MAX_GTES 4096             /* entries per grain table at most */
#define MAX_SPAN (256u << 10)     /* compressed bytes read in one go */
#define MAX_ALLOC_SCAN_GTS 1024   /* count allocation when this cheap */
#define DROP_MIN (64u << 10)      /* reads this big are data, read once */

/* One extent file. */
struct vmdk_file {
  char *path;        /* resolved path, named in errors */
  int fd;            /* open descriptor or -1 (fd_lock) */
  bool borrowed;     /* fd is disk->fd: never closed here */
  unsigned users;    /* reads in flight (fd_lock) */
  uint64_t last_use; /* LRU stamp (fd_lock) */
  uint64_t size;     /* bytes, seen at open */
  dev_t dev;         /* identity, checked when reopened */
  ino_t ino;         /* identity, checked when reopened */
};

/* Kinds of sparse extent file. */
enum vmdk_sparse_kind {
  SPARSE_HOSTED, /* "KDMV": monolithicSparse, streamOptimized, ... */
  SPARSE_COWD,   /* "COWD": ESX vmfsSparse delta */
  SPARSE_SE,     /* seSparse delta */
};

/* A sparse extent, read-only after open.  Grain table entries are kept
 * in one form for every kind: 0 unallocated, 1 zero (when gte1_zero),
 * otherwise the grain's first sector in the file. */
struct vmdk_sparse {
  enum vmdk_sparse_kind kind; /* header format */
  struct ferry_vmdk_layout l; /* seSparse: regions, to decode entries */
  uint64_t capacity;          /* sectors */
  uint64_t grain_bytes;       /* bytes per grain */
  uint32_t gtes;              /* entries per grain table */
  uint32_t gte_bytes;         /* bytes per on-disk GD/GT entry: 4 or 8 */
  bool gte1_zero;             /* entry 1 means a zero grain */
  uint64_t *gd;               /* grain table byte offsets, 0 for none */
  uint64_t nr_gd;             /* entries in gd */
  uint64_t gd_start;          /* grain directory byte range in the file */
  uint64_t gd_end;            /* end of it */
  uint64_t rgd_start;         /* redundant directory range (0, 0 if none) */
  uint64_t rgd_end;           /* end of it */
  uint64_t header_end;        /* bytes of header: no table starts in it */
  uint64_t meta_end;          /* grains start at or after this byte */
  uint64_t grains_end;        /* and end before this one (or EOF) */
  bool compressed;            /* grains are deflate-compressed */
  bool markers;               /* grains have a 12-byte marker in front */
};

/* One extent of the virtual disk. */
struct vmdk_extent {
  enum ferry_vmdk_extent_type type; /* FLAT, SPARSE or ZERO */
  uint64_t start;                   /* virtual byte offset */
  uint64_t length;                  /* virtual bytes */
  uint64_t file_offset;             /* FLAT: byte offset in the file */
  struct vmdk_file *file;           /* NULL for ZERO */
  struct vmdk_sparse *sp;           /* SPARSE only */
};

/* A cached grain table. */
struct gt_slot {
  size_t ext;        /* extent index + 1, 0 when empty */
  uint64_t gt;       /* grain table index in that extent */
  uint64_t *entries; /* entries in the reader's form (see vmdk_sparse) */
};

struct inflate_ctx;

struct vmdk_priv {
  struct vmdk_extent *extents;  /* in virtual order */
  size_t nr_extents;            /* entries in extents */
  struct vmdk_file *files;      /* one per non-ZERO extent */
  size_t nr_files;              /* entries in files */
  bool locks_ready;             /* mutexes initialised */
  pthread_mutex_t fd_lock;      /* guards files[].fd/users/last_use, below */
  size_t open_files;            /* files with fd >= 0 we own (fd_lock) */
  uint64_t clock;               /* LRU clock (fd_lock) */
  pthread_mutex_t gt_lock;      /* guards slots[] and their entries */
  struct gt_slot *slots;        /* grain table cache */
  size_t nr_slots;              /* entries in slots */
  uint64_t *slab;               /* storage for slots' entries */
  pthread_mutex_t ctx_lock;     /* guards ctx_pool */
  struct inflate_ctx *ctx_pool; /* idle inflate states (ctx_lock) */
  bool has_cid;                 /* cid is valid */
  uint32_t cid;                 /* this image's CID */
  bool has_parent_cid;          /* parent_cid is valid */
  uint32_t parent_cid;          /* the parent's expected CID */
  const struct ferry_confine *confine; /* where extent files may be */
  const char *image;                   /* the descriptor's path (the disk's) */
};

/* Format probe: true for a monolithic sparse (KDMV), a vmfsSparse (COWD) or
 * a seSparse extent by their magic, or for a text descriptor. COWD and
 * seSparse are claimed so that vmdk_open can say to open the descriptor
 * instead, rather than letting the raw fallback take them. The tail is not
 * needed. */
static bool
vmdk_probe (const uint8_t *head, size_t len, const uint8_t *tail,
            size_t tail_len)
{
  static const uint8_t se_magic[8] = {0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0};

  (void) tail, (void) tail_len;
  if (len >= 4 &&
      (memcmp (head, "KDMV", 4) == 0 || memcmp (head, "COWD", 4) == 0))
    return true;
  if (len >= 8 && memcmp (head, se_magic, 8) == 0)
    return true;
  return ferry_vmdk_is_descriptor (head, len);
}

/* Open the extent file NAME, as IMAGE names it in FIELD: confined to the
 * allowed directories, a regular file (a FIFO is refused before it is
 * opened).  Sets *RET_PATH (the resolved path; may be NULL), *ST and
 * *RET_SIZE; returns the descriptor or -1. */
static int
open_extent_file (const struct ferry_confine *c, const char *image,
                  const char *field, const char *name, char **ret_path,
                  struct stat *st, uint64_t *ret_size, struct ferry_err *err)
{
  int fd;

  if (ferry_confine_open (c, image, field, name, 0, ret_path, &fd, err) < 0)
    return -1;
  if (fstat (fd, st) < 0) {
    ferry_err_set (err, errno, "'%s': cannot open %s '%s'", image, field, name);
    close (fd);
    if (ret_path) {
      free (*ret_path);
      *ret_path = NULL;
    }
    return -1;
  }
  *ret_size = (uint64_t) st->st_size;
  return fd;
}

/* Close the least recently used idle file we own (fd_lock held). */
static void
evict_one (struct vmdk_priv *p)
{
  struct vmdk_file *victim = NULL;
  size_t i;

  for (i = 0; i < p->nr_files; i++) {
    struct vmdk_file *f = &p->files[i];
    if (f->fd >= 0 && !f->borrowed && f->users == 0 &&
        (victim == NULL || f->last_use < victim->last_use))
      victim = f;
  }
  if (victim) {
    close (victim->fd);
    victim->fd = -1;
    p->open_files--;
  }
}

/* Get an open descriptor for F (reopening it if it was evicted); pair with
 * file_put. */
static int
file_get (struct vmdk_priv *p, struct vmdk_file *f, int *ret_fd,
          struct ferry_err *err)
{
  struct stat st;
  uint64_t size;
  int fd, r = 0;

  pthread_mutex_lock (&p->fd_lock);
  if (f->fd < 0) {
    while (p->open_files >= MAX_OPEN_FILES) {
      size_t before = p->open_files;
      evict_one (p);
      if (p->open_files == before)
        break;
    }
    /* F->path is the resolved name, checked again on every reopen */
    fd = open_extent_file (p->confine, p->image, "extent", f->path, NULL, &st,
                           &size, err);
    if (fd < 0) {
      r = -1;
      goto out;
    }
    if (st.st_dev != f->dev || st.st_ino != f->ino || size != f->size) {
      close (fd);
      r = ferry_err_set (err, 0, "VMDK extent '%s' changed while being read",
                         f->path);
      goto out;
    }
    f->fd = fd;
    p->open_files++;
  }
  f->users++;
  f->last_use = ++p->clock;
  *ret_fd = f->fd;
out:
  pthread_mutex_unlock (&p->fd_lock);
  return r;
}

/* Release a descriptor taken with file_get: drop F's user count under
 * fd_lock so that evict_one may close it again. The descriptor stays open. */
static void
file_put (struct vmdk_priv *p, struct vmdk_file *f)
{
  pthread_mutex_lock (&p->fd_lock);
  f->users--;
  pthread_mutex_unlock (&p->fd_lock);
}

/* Read exactly LEN bytes at OFF of extent file F; anything outside the file
 * is an error naming the file and WHAT. */
static int
file_pread (struct vmdk_priv *p, struct vmdk_file *f, void *buf, size_t len,
            uint64_t off, const char *what, struct ferry_err *err)
{
  size_t done = 0;
  ssize_t r;
  int fd;

  if (off > f->size || len > f->size - off)
    return ferry_err_set (err, 0,
                          "'%s': %s at offset %llu (%zu bytes) is past the "
                          "end of the file (%llu bytes)",
                          f->path, what, (unsigned long long) off, len,
                          (unsigned long long) f->size);
  if (file_get (p, f, &fd, err) < 0)
    return -1;
  while (done < len) {
    r = pread (fd, (char *) buf + done, len - done, (off_t) (off + done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      file_put (p, f);
      if (r == 0)
        return ferry_err_set (err, 0, "'%s': %s: unexpected end of file",
                              f->path, what);
      return ferry_err_set (err, errno, "'%s': cannot read %s", f->path, what);
    }
    done += (size_t) r;
  }
  file_put (p, f);
  return 0;
}

/* file_pread of data read once (uncompressed grains, flat extents): let
 * the page cache reuse its pages, as ferry_disk_pread_exact does (cold
 * cache, 4 GiB monolithicSparse: 1.07 s instead of 1.38 s).  Compressed
 * grains are read in smaller pieces, where dropping only costs time. */
static int
file_pread_once (struct vmdk_priv *p, struct vmdk_file *f, void *buf,
                 size_t len, uint64_t off, const char *what,
                 struct ferry_err *err)
{
  struct ferry_err ignore = {0};
  int fd;

  if (file_pread (p, f, buf, len, off, what, err) < 0)
    return -1;
  if (len >= DROP_MIN && ferry_disk_drop_wanted (f->size) &&
      file_get (p, f, &fd, &ignore) == 0) {
    (void) posix_fadvise (fd, (off_t) off, (off_t) len, POSIX_FADV_DONTNEED);
    file_put (p, f);
  }
  return 0;
}

/* Do [A, A+ALEN) and [B, B+BLEN) overlap? */
static bool
overlaps (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

/* Free a sparse extent's state (its grain directory and the struct); NULL is
 * allowed. */
static void
sparse_free (struct vmdk_sparse *sp)
{
  if (sp) {
    free (sp->gd);
    free (sp);
  }
}

/* Check a sparse header's fields against the file (SIZE bytes). */
static int
check_header (const char *path, const struct ferry_vmdk_header *h,
              uint64_t size, const char *which, struct ferry_err *err)
{
  if (h->magic != FERRY_VMDK_MAGIC)
    return ferry_err_set (err, 0, "'%s': %s: bad magic (not a sparse VMDK)",
                          path, which);
  if (h->version < 1 || h->version > 3)
    return ferry_err_set (err, 0, "'%s': %s: unsupported version %u", path,
                          which, h->version);
  if (h->capacity == 0 || h->capacity > FERRY_VMDK_MAX_SECTORS)
    return ferry_err_set (err, 0, "'%s': %s: bad capacity %llu sectors", path,
                          which, (unsigned long long) h->capacity);
  if (h->grain_size == 0 || h->grain_size > MAX_GRAIN_SECTORS)
    return ferry_err_set (err, 0, "'%s': %s: bad grain size %llu sectors", path,
                          which, (unsigned long long) h->grain_size);
  if (h->gtes_per_gt == 0 || h->gtes_per_gt > MAX_GTES)
    return ferry_err_set (err, 0,
                          "'%s': %s: bad number of grain table entries %u",
                          path, which, h->gtes_per_gt);
  if ((h->flags & FERRY_VMDK_FLAG_COMPRESSED) &&
      h->compress != FERRY_VMDK_COMPRESS_DEFLATE)
    return ferry_err_set (err, 0,
                          "'%s': %s: unsupported compression algorithm %u",
                          path, which, h->compress);
  if (h->overhead > size / FERRY_VMDK_SECTOR)
    return ferry_err_set (err, 0,
                          "'%s': %s: overHead %llu sectors is past the end "
                          "of the file",
                          path, which, (unsigned long long) h->overhead);
  if (h->desc_offset != 0 &&
      (h->desc_size == 0 ||
       h->desc_size > FERRY_VMDK_MAX_DESCRIPTOR / FERRY_VMDK_SECTOR ||
       h->desc_offset > size / FERRY_VMDK_SECTOR ||
       h->desc_size > size / FERRY_VMDK_SECTOR - h->desc_offset))
    return ferry_err_set (err, 0,
                          "'%s': %s: embedded descriptor (sector %llu, %llu "
                          "sectors) is outside the file",
                          path, which, (unsigned long long) h->desc_offset,
                          (unsigned long long) h->desc_size);
  return 0;
}

/* Load and check the grain directory of SP (gd_start, nr_gd, gtes,
 * gte_bytes and header_end set): every grain table must lie inside the
 * file, clear of the header and of the directory itself. */
static int
gd_load (struct vmdk_priv *p, struct vmdk_file *f, struct vmdk_sparse *sp,
         struct ferry_err *err)
{
  CLEANUP_FREE uint8_t *raw = NULL;
  uint64_t gt_bytes = (uint64_t) sp->gtes * sp->gte_bytes, i, off;
  uint32_t v32;
  uint64_t v64;

  if (sp->nr_gd > MAX_GD_ENTRIES || sp->nr_gd > MAX_GD_BYTES / sp->gte_bytes)
    return ferry_err_set (err, 0,
                          "'%s': grain directory of %llu entries is too large",
                          f->path, (unsigned long long) sp->nr_gd);
  if (sp->gd_start > f->size ||
      sp->nr_gd * sp->gte_bytes > f->size - sp->gd_start)
    return ferry_err_set (err, 0,
                          "'%s': grain directory (byte %llu, %llu entries) is "
                          "outside the file",
                          f->path, (unsigned long long) sp->gd_start,
                          (unsigned long long) sp->nr_gd);
  sp->gd_end = sp->gd_start + sp->nr_gd * sp->gte_bytes;
  if (overlaps (sp->gd_start, sp->gd_end - sp->gd_start, 0, sp->header_end))
    return ferry_err_set (err, 0, "'%s': grain directory overlaps the header",
                          f->path);
  raw = malloc (sp->nr_gd * sp->gte_bytes);
  sp->gd = malloc (sp->nr_gd * sizeof *sp->gd);
  if (raw == NULL || sp->gd == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (file_pread (p, f, raw, sp->nr_gd * sp->gte_bytes, sp->gd_start,
                  "grain directory", err) < 0)
    return -1;
  for (i = 0; i < sp->nr_gd; i++) {
    if (sp->gte_bytes == 4) {
      memcpy (&v32, raw + i * 4, 4);
      off = (uint64_t) le32toh (v32) * FERRY_VMDK_SECTOR;
    } else {
      memcpy (&v64, raw + i * 8, 8);
      if (ferry_vmdk_se_gd_entry (f->path, &sp->l, i, le64toh (v64), &off,
                                  err) < 0)
        return -1;
    }
    sp->gd[i] = off;
    if (off == 0)
      continue;
    if (off > f->size || gt_bytes > f->size - off ||
        overlaps (off, gt_bytes, 0, sp->header_end) ||
        overlaps (off, gt_bytes, sp->gd_start, sp->gd_end - sp->gd_start))
      return ferry_err_set (err, 0,
                            "'%s': grain directory entry %llu (byte %llu) "
                            "points outside the file or at its header or "
                            "grain directory",
                            f->path, (unsigned long long) i,
                            (unsigned long long) off);
  }
  return 0;
}

/* Load a hosted sparse ("KDMV") extent whose first sector is in BUF.  With
 * RET_DESC, also return the embedded descriptor text (NULL if none). */
static int
hosted_load (struct vmdk_priv *p, struct vmdk_file *f, const uint8_t *buf,
             struct vmdk_sparse *sp, char **ret_desc, struct ferry_err *err)
{
  struct ferry_vmdk_header h;
  uint8_t foot_buf[FERRY_VMDK_SECTOR];
  uint64_t nr_grains;
  CLEANUP_FREE char *desc = NULL;

  ferry_vmdk_decode_header (buf, &h);
  if (check_header (f->path, &h, f->size, "sparse header", err) < 0)
    return -1;
  if (ret_desc && h.desc_offset != 0) {
    desc = malloc (h.desc_size * FERRY_VMDK_SECTOR + 1);
    if (desc == NULL)
      return ferry_err_set (err, errno, "cannot allocate memory");
    if (file_pread (p, f, desc, h.desc_size * FERRY_VMDK_SECTOR,
                    h.desc_offset * FERRY_VMDK_SECTOR, "embedded descriptor",
                    err) < 0)
      return -1;
    desc[h.desc_size * FERRY_VMDK_SECTOR] = '\0';
  }
  if (h.gd_offset == FERRY_VMDK_GD_AT_END) {
    /* streamOptimized: the real header is the footer, one sector before
     * the end-of-stream marker */
    struct ferry_vmdk_header foot;

    if (f->size < 3 * FERRY_VMDK_SECTOR)
      return ferry_err_set (err, 0,
                            "'%s': grain directory at end but the file has "
                            "no footer",
                            f->path);
    if (file_pread (p, f, foot_buf, sizeof foot_buf,
                    f->size - 2 * FERRY_VMDK_SECTOR, "footer", err) < 0)
      return -1;
    ferry_vmdk_decode_header (foot_buf, &foot);
    if (check_header (f->path, &foot, f->size, "footer", err) < 0)
      return -1;
    if (foot.gd_offset == FERRY_VMDK_GD_AT_END)
      return ferry_err_set (
          err, 0, "'%s': footer: grain directory offset missing", f->path);
    h = foot;
  }

  sp->kind = SPARSE_HOSTED;
  sp->capacity = h.capacity;
  sp->grain_bytes = h.grain_size * FERRY_VMDK_SECTOR;
  sp->gtes = h.gtes_per_gt;
  sp->gte_bytes = 4;
  sp->gte1_zero = true;
  sp->compressed = (h.flags & FERRY_VMDK_FLAG_COMPRESSED) != 0;
  sp->markers = (h.flags & FERRY_VMDK_FLAG_MARKERS) != 0;
  sp->header_end = FERRY_VMDK_SECTOR;
  sp->meta_end = h.overhead * FERRY_VMDK_SECTOR;
  if (sp->meta_end < FERRY_VMDK_SECTOR)
    sp->meta_end = FERRY_VMDK_SECTOR;
  if (h.desc_offset != 0 &&
      (h.desc_offset + h.desc_size) * FERRY_VMDK_SECTOR > sp->meta_end)
    sp->meta_end = (h.desc_offset + h.desc_size) * FERRY_VMDK_SECTOR;
  sp->grains_end = f->size;
  nr_grains = (h.capacity + h.grain_size - 1) / h.grain_size;
  sp->nr_gd = (nr_grains + sp->gtes - 1) / sp->gtes;
  if (h.gd_offset == 0 || h.gd_offset > f->size / FERRY_VMDK_SECTOR)
    return ferry_err_set (err, 0,
                          "'%s': grain directory (sector %llu, %llu entries) "
                          "is outside the file",
                          f->path, (unsigned long long) h.gd_offset,
                          (unsigned long long) sp->nr_gd);
  sp->gd_start = h.gd_offset * FERRY_VMDK_SECTOR;
  if ((h.flags & FERRY_VMDK_FLAG_RGD) && h.rgd_offset != 0 &&
      h.rgd_offset <= f->size / FERRY_VMDK_SECTOR &&
      sp->nr_gd <= MAX_GD_ENTRIES &&
      sp->nr_gd * 4 <= f->size - h.rgd_offset * FERRY_VMDK_SECTOR) {
    sp->rgd_start = h.rgd_offset * FERRY_VMDK_SECTOR;
    sp->rgd_end = sp->rgd_start + sp->nr_gd * 4;
  }
  if (gd_load (p, f, sp, err) < 0)
    return -1;
  if (ret_desc)
    *ret_desc = TAKE_PTR (desc);
  return 0;
}

/* Load a vmfsSparse (COWD) or seSparse extent of kind KIND. */
static int
esx_load (struct vmdk_priv *p, struct vmdk_file *f, enum vmdk_sparse_kind kind,
          struct vmdk_sparse *sp, struct ferry_err *err)
{
  uint8_t buf[FERRY_VMDK_COWD_HEADER];
  struct ferry_vmdk_layout *l = &sp->l;

  if (kind == SPARSE_COWD) {
    if (file_pread (p, f, buf, FERRY_VMDK_COWD_HEADER, 0, "COWD header", err) <
            0 ||
        ferry_vmdk_cowd_layout (f->path, buf, f->size, l, err) < 0)
      return -1;
  } else {
    if (file_pread (p, f, buf, FERRY_VMDK_SECTOR, 0, "seSparse header", err) <
            0 ||
        ferry_vmdk_se_layout (f->path, buf, f->size, l, err) < 0 ||
        file_pread (p, f, buf, FERRY_VMDK_SECTOR, l->volatile_off,
                    "seSparse volatile header", err) < 0 ||
        ferry_vmdk_se_check_volatile (f->path, buf, err) < 0)
      return -1;
  }
  sp->kind = kind;
  sp->capacity = l->capacity;
  sp->grain_bytes = l->grain_size * FERRY_VMDK_SECTOR;
  sp->gtes = l->gtes;
  sp->gte_bytes = l->gte_bytes;
  sp->gte1_zero = kind == SPARSE_SE;
  sp->nr_gd = l->nr_gd;
  sp->gd_start = l->gd_start;
  sp->header_end = l->header_end;
  sp->meta_end = l->grains_start;
  sp->grains_end = l->grains_end < f->size ? l->grains_end : f->size;
  return gd_load (p, f, sp, err);
}

/* Load the header and grain directory of the sparse extent in F, listed
 * as TYPE (SPARSE, VMFSSPARSE or SESPARSE); the magic must fit the type.
 * With RET_DESC, also return a hosted extent's embedded descriptor text
 * (NULL if none). */
static int
sparse_load (struct vmdk_priv *p, struct vmdk_file *f,
             enum ferry_vmdk_extent_type type, struct vmdk_sparse **ret,
             char **ret_desc, struct ferry_err *err)
{
  struct vmdk_sparse *sp = NULL;
  uint8_t buf[FERRY_VMDK_SECTOR];
  uint32_t magic;
  uint64_t magic64;
  int r;

  if (file_pread (p, f, buf, sizeof buf, 0, "sparse header", err) < 0)
    return -1;
  memcpy (&magic, buf, 4);
  magic = le32toh (magic);
  memcpy (&magic64, buf, 8);
  magic64 = le64toh (magic64);
  sp = calloc (1, sizeof *sp);
  if (sp == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (type == FERRY_VMDK_EXTENT_SESPARSE) {
    if (magic64 != FERRY_VMDK_SE_MAGIC)
      r = ferry_err_set (err, 0,
                         "'%s': SESPARSE extent has a bad magic (not a "
                         "seSparse file)",
                         f->path);
    else
      r = esx_load (p, f, SPARSE_SE, sp, err);
  } else if (magic == FERRY_VMDK_COWD_MAGIC) {
    r = esx_load (p, f, SPARSE_COWD, sp, err);
  } else if (magic == FERRY_VMDK_MAGIC) {
    r = hosted_load (p, f, buf, sp, ret_desc, err);
  } else {
    r = ferry_err_set (
        err, 0, "'%s': sparse header: bad magic (not a sparse VMDK)", f->path);
  }
  if (r < 0) {
    sparse_free (sp);
    return -1;
  }
  *ret = sp;
  return 0;
}

/* Decode the LEN-byte grain table of extent E at index GT, read into BUF
 * (room for gtes 64-bit entries), in place into the reader's form. */
static int
gt_decode (const struct vmdk_extent *e, uint64_t gt, uint64_t *buf,
           struct ferry_err *err)
{
  const struct vmdk_sparse *sp = e->sp;
  const uint8_t *raw = (const uint8_t *) buf;
  uint64_t v64;
  uint32_t v32;
  size_t i;

  if (sp->gte_bytes == 4) {
    /* widen from the end so no entry is overwritten before it is read */
    for (i = sp->gtes; i-- > 0;) {
      memcpy (&v32, raw + i * 4, 4);
      buf[i] = le32toh (v32);
    }
    return 0;
  }
  for (i = 0; i < sp->gtes; i++) {
    memcpy (&v64, raw + i * 8, 8);
    if (ferry_vmdk_se_gte (e->file->path, &sp->l, gt * sp->gtes + i,
                           le64toh (v64), &buf[i], err) < 0)
      return -1;
  }
  return 0;
}

/* Copy up to MAX entries of the grain table holding grain GRAIN of extent
 * IDX, starting at that grain, into OUT; *RET_N says how many. */
static int
get_gtes (struct vmdk_priv *p, size_t idx, uint64_t grain, uint64_t *out,
          uint64_t max, size_t *ret_n, struct ferry_err *err)
{
  struct vmdk_extent *e = &p->extents[idx];
  struct vmdk_sparse *sp = e->sp;
  uint64_t gt = grain / sp->gtes, first = grain % sp->gtes, n;
  struct gt_slot *slot;

  n = sp->gtes - first;
  if (n > max)
    n = max;
  if (gt >= sp->nr_gd)
    return ferry_err_set (err, 0, "'%s': grain %llu outside the directory",
                          e->file->path, (unsigned long long) grain);
  if (sp->gd[gt] == 0) {
    memset (out, 0, n * sizeof *out);
    *ret_n = n;
    return 0;
  }
  pthread_mutex_lock (&p->gt_lock);
  slot = &p->slots[(gt + idx * 97) % p->nr_slots];
  if (slot->ext != idx + 1 || slot->gt != gt) {
    slot->ext = 0;
    if (file_pread (p, e->file, slot->entries,
                    (size_t) sp->gtes * sp->gte_bytes, sp->gd[gt],
                    "grain table", err) < 0 ||
        gt_decode (e, gt, slot->entries, err) < 0) {
      pthread_mutex_unlock (&p->gt_lock);
      return -1;
    }
    slot->ext = idx + 1;
    slot->gt = gt;
  }
  memcpy (out, slot->entries + first, n * sizeof *out);
  pthread_mutex_unlock (&p->gt_lock);
  *ret_n = n;
  return 0;
}

/* Bytes of grain G of extent E that lie inside the extent. */
static uint64_t
grain_used (const struct vmdk_extent *e, uint64_t g)
{
  uint64_t left = e->length - g * e->sp->grain_bytes;

  return left < e->sp->grain_bytes ? left : e->sp->grain_bytes;
}

/* What grain table entry GTE (reader's form) of extent E says. */
static enum ferry_extent_kind
gte_kind (const struct vmdk_sparse *sp, uint64_t gte)
{
  if (gte == 0)
    return FERRY_EXTENT_UNALLOC;
  if (gte == 1 && sp->gte1_zero)
    return FERRY_EXTENT_ZERO;
  return FERRY_EXTENT_DATA;
}

/* Check that grain G's entry GTE (a sector) points at grain data: inside
 * the file and the grain region, not at the grain directory or its
 * table. */
static int
check_grain (const struct vmdk_extent *e, uint64_t g, uint64_t gte,
             struct ferry_err *err)
{
  const struct vmdk_sparse *sp = e->sp;
  uint64_t len = sp->compressed ? (sp->markers ? 12 : 1) : grain_used (e, g);
  uint64_t gt_off = sp->gd[g / sp->gtes], off;

  if (gte > sp->grains_end / FERRY_VMDK_SECTOR)
    goto bad;
  off = gte * FERRY_VMDK_SECTOR;
  if (off < sp->meta_end || off > sp->grains_end ||
      len > sp->grains_end - off ||
      overlaps (off, len, sp->gd_start, sp->gd_end - sp->gd_start) ||
      overlaps (off, len, sp->rgd_start, sp->rgd_end - sp->rgd_start) ||
      overlaps (off, len, gt_off, (uint64_t) sp->gtes * sp->gte_bytes))
    goto bad;
  return 0;

bad:
  return ferry_err_set (err, 0,
                        "'%s': grain table entry for grain %llu (sector "
                        "%llu) points outside the file or at its metadata",
                        e->file->path, (unsigned long long) g,
                        (unsigned long long) gte);
}

/* Extent holding virtual OFFSET (< virtual size). */
static size_t
find_extent (const struct vmdk_priv *p, uint64_t offset)
{
  size_t lo = 0, hi = p->nr_extents;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (p->extents[mid].start <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* block_status of a sparse extent: a run of grains of one kind. */
static int
sparse_status (struct vmdk_priv *p, size_t idx, uint64_t rel, uint64_t length,
               struct ferry_extent *ret, struct ferry_err *err)
{
  const struct vmdk_extent *e = &p->extents[idx];
  uint64_t gb = e->sp->grain_bytes, end = rel + length, g = rel / gb;
  uint64_t pos = rel;
  uint64_t ents[MAX_GTES];
  enum ferry_extent_kind kind = FERRY_EXTENT_LAST, k;
  size_t n, i;

  while (pos < end) {
    if (get_gtes (p, idx, g, ents, (end - g * gb + gb - 1) / gb, &n, err) < 0)
      return -1;
    for (i = 0; i < n; i++, g++) {
      k = gte_kind (e->sp, ents[i]);
      if (k == FERRY_EXTENT_DATA && check_grain (e, g, ents[i], err) < 0)
        return -1;
      if (kind == FERRY_EXTENT_LAST)
        kind = k;
      else if (k != kind)
        goto done;
      pos = (g + 1) * gb;
    }
  }
done:
  ret->kind = kind;
  ret->length = (pos < end ? pos : end) - rel;
  return 0;
}

/* block_status of a flat extent: data, or zero in holes of the file. */
static void
flat_status (struct vmdk_priv *p, const struct vmdk_extent *e, uint64_t rel,
             uint64_t length, struct ferry_extent *ret)
{
  struct ferry_err ignore = {0};
  uint64_t off = e->file_offset + rel;
  off_t data, hole;
  int fd;

  ret->kind = FERRY_EXTENT_DATA;
  ret->length = length;
  if (file_get (p, e->file, &fd, &ignore) < 0)
    return; /* pread will report it */
  data = lseek (fd, (off_t) off, SEEK_DATA);
  if (data >= 0 && (uint64_t) data > off) {
    ret->kind = FERRY_EXTENT_ZERO;
    if ((uint64_t) data - off < length)
      ret->length = (uint64_t) data - off;
  } else if (data >= 0) {
    hole = lseek (fd, (off_t) off, SEEK_HOLE);
    if (hole > (off_t) off && (uint64_t) hole - off < length)
      ret->length = (uint64_t) hole - off;
  } else if (errno == ENXIO) {
    ret->kind = FERRY_EXTENT_ZERO;
  }
  file_put (p, e->file);
}

/* Report the extent kind at OFFSET, clipped to LENGTH and to the VMDK extent
 * that holds OFFSET, so a caller walks one descriptor extent at a time.
 * Sparse extents ask their grain tables, flat ones the host file's holes;
 * ZERO (and any other type) read as zeroes. Return 0, or -1 with ERR set. */
static int
vmdk_block_status (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                   struct ferry_extent *ret, struct ferry_err *err)
{
  struct vmdk_priv *p = disk->priv;
  const struct vmdk_extent *e;
  uint64_t rel;
  size_t idx;

  if (offset >= disk->virtual_size || length == 0)
    return ferry_err_set (err, 0, "'%s': block status past the virtual size",
                          disk->path);
  idx = find_extent (p, offset);
  e = &p->extents[idx];
  rel = offset - e->start;
  if (length > e->length - rel)
    length = e->length - rel;
  ret->offset = offset;
  switch (e->type) {
  case FERRY_VMDK_EXTENT_SPARSE:
    return sparse_status (p, idx, rel, length, ret, err);
  case FERRY_VMDK_EXTENT_FLAT:
    flat_status (p, e, rel, length, ret);
    return 0;
  default:
    ret->kind = FERRY_EXTENT_ZERO;
    ret->length = length;
    return 0;
  }
}

/* What reading compressed grains needs, kept in a pool of the disk and
 * reused by every pread call: the decompressor, the compressed bytes read
 * ahead and one inflated grain.  A call takes one for itself, so nothing is
 * shared between threads and nothing is allocated per data run. */
struct inflate_ctx {
  struct inflate_ctx *next;            /* in the pool (ctx_lock) */
  struct libdeflate_decompressor *dec; /* allocated on first use */
  uint8_t *span;                       /* compressed bytes read ahead */
  size_t span_cap;                     /* bytes allocated for span */
  const struct vmdk_file *span_file;   /* file they come from, or NULL */
  uint64_t span_off;                   /* file offset of span[0] */
  size_t span_len;                     /* valid bytes in span */
  uint8_t *grain;                      /* one grain, for partial reads */
  size_t grain_cap;                    /* bytes allocated for grain */
  const struct vmdk_file *grain_file;  /* file of the grain in it, or NULL */
  uint64_t grain_gte;                  /* its entry (first sector) */
  size_t grain_len;                    /* bytes it inflated to */
};

/* Free an inflate_ctx and what it allocated (NULL is fine). */
static void
inflate_ctx_free (struct inflate_ctx *c)
{
  if (c == NULL)
    return;
  if (c->dec)
    libdeflate_free_decompressor (c->dec);
  free (c->grain);
  free (c->span);
  free (c);
}

/* Take an inflate_ctx from P's pool, or a new one when all are in use. */
static struct inflate_ctx *
ctx_get (struct vmdk_priv *p, struct ferry_err *err)
{
  struct inflate_ctx *c;

  pthread_mutex_lock (&p->ctx_lock);
  c = p->ctx_pool;
  if (c)
    p->ctx_pool = c->next;
  pthread_mutex_unlock (&p->ctx_lock);
  if (c == NULL && (c = calloc (1, sizeof *c)) == NULL)
    ferry_err_set (err, errno, "cannot allocate memory");
  return c;
}

/* Give C (NULL is fine) back to P's pool. */
static void
ctx_put (struct vmdk_priv *p, struct inflate_ctx *c)
{
  if (c == NULL)
    return;
  pthread_mutex_lock (&p->ctx_lock);
  c->next = p->ctx_pool;
  p->ctx_pool = c;
  pthread_mutex_unlock (&p->ctx_lock);
}

/* Make [OFF, OFF+LEN) of extent E's file available in C->span and return a
 * pointer to OFF.  Bytes already there are not read again: a range that
 * starts inside the span keeps them and reads only the rest.  A read goes
 * on to OFF+AHEAD when AHEAD is more than LEN. */
static const uint8_t *
span_get (struct vmdk_priv *p, const struct vmdk_extent *e,
          struct inflate_ctx *c, uint64_t off, size_t len, size_t ahead,
          struct ferry_err *err)
{
  uint64_t size = e->file->size;
  size_t want, keep = 0;

  if (c->span_file == e->file && off >= c->span_off &&
      off - c->span_off <= c->span_len) {
    keep = c->span_len - (size_t) (off - c->span_off);
    if (len <= keep)
      return c->span + (off - c->span_off);
  }
  if (off > size || len > size - off) {
    ferry_err_set (err, 0,
                   "'%s': compressed grain at offset %llu (%zu bytes) is "
                   "past the end of the file",
                   e->file->path, (unsigned long long) off, len);
    return NULL;
  }
  want = len > ahead ? len : ahead;
  if (want > size - off)
    want = (size_t) (size - off);
  if (want > c->span_cap) {
    uint8_t *n = malloc (want);
    if (n == NULL) {
      ferry_err_set (err, errno, "cannot allocate memory");
      return NULL;
    }
    if (keep)
      memcpy (n, c->span + (off - c->span_off), keep);
    free (c->span);
    c->span = n;
    c->span_cap = want;
  } else if (keep) {
    memmove (c->span, c->span + (off - c->span_off), keep);
  }
  c->span_file = NULL;
  if (file_pread (p, e->file, c->span + keep, want - keep, off + keep,
                  "compressed grain", err) < 0)
    return NULL;
  c->span_file = e->file;
  c->span_off = off;
  c->span_len = want;
  return c->span;
}

/* Inflate grain G (entry GTE) of extent E and copy TAKE bytes from IN
 * bytes into it to OUT.  AHEAD_END: the file offset up to which a read of
 * its compressed bytes should go on (the grains that follow). */
static int
read_compressed (struct vmdk_priv *p, const struct vmdk_extent *e,
                 struct inflate_ctx *c, uint64_t g, uint64_t gte, uint64_t in,
                 uint64_t take, uint64_t ahead_end, uint8_t *out,
                 struct ferry_err *err)
{
  const struct vmdk_sparse *sp = e->sp;
  uint64_t gb = sp->grain_bytes, used = grain_used (e, g);
  uint64_t off = (uint64_t) gte * FERRY_VMDK_SECTOR;
  size_t csize, bound = (size_t) (2 * gb + 4096), actual = 0;
  const uint8_t *data;
  uint8_t *dst;
  enum libdeflate_result r;

  if (take < gb && c->grain_file == e->file && c->grain_gte == gte) {
    /* the rest of the grain inflated last: a partial read going on */
    if (c->grain_len < in + take)
      goto short_grain;
    memcpy (out, c->grain + in, take);
    return 0;
  }
  if (sp->markers) {
    uint32_t sz;
    data = span_get (p, e, c, off, 12,
                     ahead_end > off ? (size_t) (ahead_end - off) : 0, err);
    if (data == NULL)
      return -1;
    memcpy (&sz, data + 8, 4);
    csize = le32toh (sz);
    if (csize == 0 || csize > bound)
      return ferry_err_set (err, 0,
                            "'%s': compressed grain %llu at offset %llu: bad "
                            "size %zu",
                            e->file->path, (unsigned long long) g,
                            (unsigned long long) off, csize);
    off += 12;
  } else {
    /* no marker says how long it is: up to the bound */
    csize =
        e->file->size - off < bound ? (size_t) (e->file->size - off) : bound;
  }
  data = span_get (p, e, c, off, csize,
                   ahead_end > off ? (size_t) (ahead_end - off) : 0, err);
  if (data == NULL)
    return -1;
  if (c->dec == NULL) {
    c->dec = libdeflate_alloc_decompressor ();
    if (c->dec == NULL)
      return ferry_err_set (err, ENOMEM, "cannot allocate a decompressor");
  }
  if (in == 0 && take == gb) {
    dst = out;
  } else {
    if (c->grain_cap < gb) {
      free (c->grain);
      c->grain_cap = 0;
      if ((c->grain = malloc (gb)) == NULL)
        return ferry_err_set (err, errno, "cannot allocate memory");
      c->grain_cap = gb;
    }
    c->grain_file = NULL;
    dst = c->grain;
  }
  if (sp->markers)
    r = libdeflate_zlib_decompress (c->dec, data, csize, dst, gb, &actual);
  else
    r = libdeflate_zlib_decompress_ex (c->dec, data, csize, dst, gb, NULL,
                                       &actual);
  if (r != LIBDEFLATE_SUCCESS)
    return ferry_err_set (
        err, 0,
        "'%s': compressed grain %llu at offset %llu: bad "
        "deflate data%s",
        e->file->path, (unsigned long long) g, (unsigned long long) off,
        r == LIBDEFLATE_INSUFFICIENT_SPACE ? " (inflates past the grain size)"
                                           : "");
  if (actual != gb && actual != used)
    return ferry_err_set (err, 0,
                          "'%s': compressed grain %llu at offset %llu "
                          "inflates to %zu bytes, expected %llu",
                          e->file->path, (unsigned long long) g,
                          (unsigned long long) off, actual,
                          (unsigned long long) used);
  if (actual < in + take)
    goto short_grain;
  if (dst != out) {
    c->grain_file = e->file;
    c->grain_gte = gte;
    c->grain_len = actual;
    memcpy (out, dst + in, take);
  }
  return 0;

short_grain:
  return ferry_err_set (
      err, 0, "'%s': compressed grain %llu at offset %llu is short",
      e->file->path, (unsigned long long) g, (unsigned long long) off);
}

/* Where reading ahead from grain I of ENTS[0..N) (a grain table's entries,
 * the grains the caller wants) should stop: at the end of the first sector
 * of the last grain of those that follow I one after another in the file,
 * at most MAX_SPAN past I's start.  That sector holds the last grain's
 * marker; the rest of it is read once its size is known, so no byte past
 * the grains wanted is read (another worker may want it). */
static uint64_t
ahead_end (const uint64_t *ents, size_t i, size_t n)
{
  uint64_t start = ents[i] * FERRY_VMDK_SECTOR;
  size_t k = i;

  while (k + 1 < n && ents[k + 1] > ents[k] &&
         ents[k + 1] < FERRY_VMDK_MAX_SECTORS &&
         (ents[k + 1] + 1) * FERRY_VMDK_SECTOR - start <= MAX_SPAN)
    k++;
  return (ents[k] + 1) * FERRY_VMDK_SECTOR;
}

/* Read [REL, REL+LEN) of sparse extent IDX: contiguous grains in one pread,
 * compressed grains inflated, holes as zeroes. */
static int
sparse_pread (struct vmdk_priv *p, size_t idx, uint8_t *buf, uint64_t rel,
              uint64_t len, struct ferry_err *err)
{
  const struct vmdk_extent *e = &p->extents[idx];
  uint64_t gb = e->sp->grain_bytes, g, in, take, run, end;
  uint64_t ents[MAX_GTES];
  struct inflate_ctx *c = NULL;
  size_t n, i, want;
  int r = -1;

  while (len > 0) {
    g = rel / gb;
    if (get_gtes (p, idx, g, ents, (rel % gb + len + gb - 1) / gb, &n, err) < 0)
      goto out;
    for (i = 0; i < n && len > 0; i++, g++) {
      in = rel % gb;
      take = gb - in < len ? gb - in : len;
      if (gte_kind (e->sp, ents[i]) != FERRY_EXTENT_DATA) {
        memset (buf, 0, take);
      } else if (check_grain (e, g, ents[i], err) < 0) {
        goto out;
      } else if (e->sp->compressed) {
        /* read ahead over the wanted grains that come next in the file, as
         * they do in streamOptimized images */
        want = (size_t) ((in + len + gb - 1) / gb);
        end = ahead_end (ents, i, n - i < want ? n : i + want);
        if (c == NULL && (c = ctx_get (p, err)) == NULL)
          goto out;
        if (read_compressed (p, e, c, g, ents[i], in, take, end, buf, err) < 0)
          goto out;
      } else {
        /* coalesce grains that are contiguous in the file */
        uint64_t foff = (uint64_t) ents[i] * FERRY_VMDK_SECTOR + in;

        run = take;
        while (i + 1 < n && run < len &&
               ents[i + 1] == ents[i] + gb / FERRY_VMDK_SECTOR) {
          uint64_t t = gb < len - run ? gb : len - run;
          if (check_grain (e, g + 1, ents[i + 1], err) < 0)
            goto out;
          run += t;
          i++;
          g++;
        }
        if (file_pread_once (p, e->file, buf, run, foff, "grain", err) < 0)
          goto out;
        take = run;
      }
      buf += take;
      rel += take;
      len -= take;
    }
  }
  r = 0;
out:
  ctx_put (p, c);
  return r;
}

/* Read LENGTH bytes at virtual OFFSET, crossing descriptor extents as
 * needed: sparse extents through their grain tables, flat ones directly from
 * the file at their offset, ZERO extents as zeroes. The whole range must lie
 * inside the virtual size. Return 0, or -1 with ERR set naming the file. */
static int
vmdk_pread (struct ferry_disk *disk, void *buf, uint64_t length,
            uint64_t offset, struct ferry_err *err)
{
  struct vmdk_priv *p = disk->priv;
  uint8_t *out = buf;
  const struct vmdk_extent *e;
  uint64_t rel, n;
  size_t idx;

  if (offset > disk->virtual_size || length > disk->virtual_size - offset)
    return ferry_err_set (err, 0, "'%s': read past the virtual size",
                          disk->path);
  while (length > 0) {
    idx = find_extent (p, offset);
    e = &p->extents[idx];
    rel = offset - e->start;
    n = e->length - rel < length ? e->length - rel : length;
    switch (e->type) {
    case FERRY_VMDK_EXTENT_SPARSE:
      if (sparse_pread (p, idx, out, rel, n, err) < 0)
        return -1;
      break;
    case FERRY_VMDK_EXTENT_FLAT:
      if (file_pread_once (p, e->file, out, n, e->file_offset + rel,
                           "flat extent", err) < 0)
        return -1;
      break;
    default:
      memset (out, 0, n);
      break;
    }
    out += n;
    offset += n;
    length -= n;
  }
  return 0;
}

/* Close the extent files ferry opened (borrowed descriptors belong to the
 * disk layer and stay open), free every extent, the grain table cache and
 * the reader state. Safe on a half-opened disk: the locks are destroyed only
 * when they were initialised. */
static void
vmdk_close (struct ferry_disk *disk)
{
  struct vmdk_priv *p = disk->priv;
  size_t i;

  if (p == NULL)
    return;
  for (i = 0; i < p->nr_files; i++) {
    if (p->files[i].fd >= 0 && !p->files[i].borrowed)
      close (p->files[i].fd);
    free (p->files[i].path);
  }
  for (i = 0; i < p->nr_extents; i++)
    sparse_free (p->extents[i].sp);
  free (p->files);
  free (p->extents);
  free (p->slots);
  free (p->slab);
  while (p->ctx_pool) {
    struct inflate_ctx *c = p->ctx_pool;
    p->ctx_pool = c->next;
    inflate_ctx_free (c);
  }
  if (p->locks_ready) {
    pthread_mutex_destroy (&p->fd_lock);
    pthread_mutex_destroy (&p->gt_lock);
    pthread_mutex_destroy (&p->ctx_lock);
  }
  free (p);
  disk->priv = NULL;
}

/* Allocate the reader state with room for NR extents. */
static int
priv_new (struct ferry_disk *disk, size_t nr, struct ferry_err *err)
{
  struct vmdk_priv *p;

  p = calloc (1, sizeof *p);
  if (p == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  disk->priv = p;
  p->confine = disk->confine;
  p->image = disk->path;
  p->extents = calloc (nr, sizeof *p->extents);
  p->files = calloc (nr, sizeof *p->files);
  if (p->extents == NULL || p->files == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  pthread_mutex_init (&p->fd_lock, NULL);
  pthread_mutex_init (&p->gt_lock, NULL);
  pthread_mutex_init (&p->ctx_lock, NULL);
  p->locks_ready = true;
  return 0;
}

/* Size the grain table cache for the largest grain table of any extent. */
static int
gt_cache_init (struct vmdk_priv *p, struct ferry_err *err)
{
  size_t i, max = 0;

  for (i = 0; i < p->nr_extents; i++)
    if (p->extents[i].sp && p->extents[i].sp->gtes > max)
      max = p->extents[i].sp->gtes;
  if (max == 0)
    return 0;
  p->nr_slots = GT_CACHE_BYTES / (max * 8);
  if (p->nr_slots < 16)
    p->nr_slots = 16;
  p->slots = calloc (p->nr_slots, sizeof *p->slots);
  p->slab = malloc (p->nr_slots * max * 8);
  if (p->slots == NULL || p->slab == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (i = 0; i < p->nr_slots; i++)
    p->slots[i].entries = p->slab + i * max;
  return 0;
}

/* Bytes of allocated grains, when the grain tables are few enough to scan
 * at open; 0 (unknown) otherwise. */
static uint64_t
count_allocated (struct vmdk_priv *p)
{
  struct ferry_err ignore = {0};
  uint64_t ents[MAX_GTES];
  uint64_t total = 0, gts = 0, g, ng;
  size_t i, n, j;

  for (i = 0; i < p->nr_extents; i++)
    if (p->extents[i].sp)
      gts += p->extents[i].sp->nr_gd;
  if (gts > MAX_ALLOC_SCAN_GTS)
    return 0;
  for (i = 0; i < p->nr_extents; i++) {
    const struct vmdk_extent *e = &p->extents[i];
    if (e->type == FERRY_VMDK_EXTENT_FLAT)
      total += e->length;
    if (e->sp == NULL)
      continue;
    ng = (e->length + e->sp->grain_bytes - 1) / e->sp->grain_bytes;
    for (g = 0; g < ng; g += n) {
      if (get_gtes (p, i, g, ents, ng - g, &n, &ignore) < 0)
        return 0;
      for (j = 0; j < n; j++)
        if (gte_kind (e->sp, ents[j]) == FERRY_EXTENT_DATA)
          total += grain_used (e, g + j);
    }
  }
  return total;
}

/* Take CID, parentCID and the parent hint from a parsed descriptor. */
static void
take_descriptor (struct ferry_disk *disk, struct ferry_vmdk_descriptor *d,
                 const char *fallback_type)
{
  struct vmdk_priv *p = disk->priv;

  p->has_cid = d->has_cid;
  p->cid = d->cid;
  p->has_parent_cid = d->has_parent_cid;
  p->parent_cid = d->parent_cid;
  if (d->has_cid)
    snprintf (disk->format_id, sizeof disk->format_id, "cid=%08x", d->cid);
  snprintf (disk->subformat, sizeof disk->subformat, "%s",
            d->create_type[0] ? d->create_type : fallback_type);
  if (d->parent_hint && !(d->has_parent_cid && d->parent_cid == 0xffffffff))
    disk->parent_hint = TAKE_PTR (d->parent_hint);
  if (disk->parent_hint && d->has_parent_cid)
    snprintf (disk->parent_id, sizeof disk->parent_id,
              "CID %08x (its parentCID)", d->parent_cid);
}

/* A hosted sparse file opened directly: one extent, the file itself; its
 * embedded descriptor only supplies CIDs, createType and the parent. */
static int
open_sparse (struct ferry_disk *disk, struct ferry_err *err)
{
  struct vmdk_priv *p;
  struct vmdk_file *f;
  struct vmdk_extent *e;
  struct ferry_vmdk_descriptor d = {0};
  CLEANUP_FREE char *text = NULL;
  struct stat st;

  if (priv_new (disk, 1, err) < 0)
    return -1;
  p = disk->priv;
  if (fstat (disk->fd, &st) < 0)
    return ferry_err_set (err, errno, "cannot stat '%s'", disk->path);
  f = &p->files[p->nr_files++];
  f->path = strdup (disk->path);
  if (f->path == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  f->fd = disk->fd;
  f->borrowed = true;
  f->size = disk->file_size;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  e = &p->extents[p->nr_extents++];
  e->type = FERRY_VMDK_EXTENT_SPARSE;
  e->file = f;
  if (sparse_load (p, f, FERRY_VMDK_EXTENT_SPARSE, &e->sp, &text, err) < 0)
    return -1;
  e->start = 0;
  e->length = e->sp->capacity * FERRY_VMDK_SECTOR;
  disk->virtual_size = e->length;
  if (text) {
    if (ferry_vmdk_parse_descriptor (disk->path, text, strlen (text), &d, err) <
        0)
      return -1;
    take_descriptor (disk, &d, "monolithicSparse");
    ferry_vmdk_descriptor_free (&d);
  } else {
    snprintf (disk->subformat, sizeof disk->subformat,
              e->sp->compressed ? "streamOptimized" : "monolithicSparse");
  }
  return 0;
}

/* A text descriptor: open every extent it lists, in order. */
static int
open_descriptor (struct ferry_disk *disk, struct ferry_err *err)
{
  struct ferry_vmdk_descriptor d = {0};
  CLEANUP_FREE char *text = NULL;
  struct vmdk_priv *p;
  uint64_t start = 0, need;
  char field[64];
  struct stat st;
  size_t i;
  int fd, r = -1;

  if (disk->file_size > FERRY_VMDK_MAX_DESCRIPTOR)
    return ferry_err_set (err, 0,
                          "'%s': VMDK descriptor file larger than %u bytes",
                          disk->path, FERRY_VMDK_MAX_DESCRIPTOR);
  text = malloc (disk->file_size + 1);
  if (text == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (ferry_disk_pread_exact (disk, text, disk->file_size, 0, "descriptor",
                              err) < 0)
    return -1;
  if (ferry_vmdk_parse_descriptor (disk->path, text, disk->file_size, &d, err) <
      0)
    return -1;
  if (priv_new (disk, d.nr_extents ? d.nr_extents : 1, err) < 0)
    goto out;
  take_descriptor (disk, &d, "unknown");
  p = disk->priv;
  if (d.nr_extents == 0) {
    ferry_err_set (err, 0, "'%s': VMDK descriptor lists no extents",
                   disk->path);
    goto out;
  }
  for (i = 0; i < d.nr_extents; i++) {
    const struct ferry_vmdk_desc_extent *x = &d.extents[i];
    struct vmdk_extent *e = &p->extents[p->nr_extents++];
    struct vmdk_file *f;

    e->start = start;
    e->length = x->sectors * FERRY_VMDK_SECTOR;
    start += e->length;
    e->type =
        x->type == FERRY_VMDK_EXTENT_FLAT || x->type == FERRY_VMDK_EXTENT_ZERO
            ? x->type
            : FERRY_VMDK_EXTENT_SPARSE;
    if (x->type == FERRY_VMDK_EXTENT_ZERO)
      continue;
    f = &p->files[p->nr_files++];
    f->fd = -1;
    e->file = f;
    snprintf (field, sizeof field, "extent %zu '%s'", i + 1,
              ferry_vmdk_extent_type_name (x->type));
    fd = open_extent_file (disk->confine, disk->path, field, x->file, &f->path,
                           &st, &f->size, err);
    if (fd < 0)
      goto out;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    pthread_mutex_lock (&p->fd_lock);
    while (p->open_files >= MAX_OPEN_FILES) {
      size_t before = p->open_files;
      evict_one (p);
      if (p->open_files == before)
        break;
    }
    f->fd = fd;
    f->last_use = ++p->clock;
    p->open_files++;
    pthread_mutex_unlock (&p->fd_lock);
    if (x->type == FERRY_VMDK_EXTENT_FLAT) {
      e->file_offset = x->offset * FERRY_VMDK_SECTOR;
      need = e->file_offset + e->length;
      if (need > f->size) {
        ferry_err_set (err, 0,
                       "'%s': descriptor line %u: flat extent '%s' needs "
                       "%llu bytes but the file has %llu",
                       disk->path, x->line, f->path, (unsigned long long) need,
                       (unsigned long long) f->size);
        goto out;
      }
    } else {
      if (sparse_load (p, f, x->type, &e->sp, NULL, err) < 0) {
        /* the extent's own error names the extent: say who named it */
        ferry_err_prefix (err, "'%s': descriptor line %u: %s", disk->path,
                          x->line, field);
        goto out;
      }
      if (x->sectors > e->sp->capacity) {
        ferry_err_set (err, 0,
                       "'%s': descriptor line %u: extent of %llu sectors is "
                       "larger than the capacity of '%s' (%llu sectors)",
                       disk->path, x->line, (unsigned long long) x->sectors,
                       f->path, (unsigned long long) e->sp->capacity);
        goto out;
      }
    }
  }
  disk->virtual_size = start;
  r = 0;
out:
  ferry_vmdk_descriptor_free (&d);
  return r;
}

/* Open a VMDK: a monolithic sparse file directly, anything else as a text
 * descriptor naming its extents. A bare COWD or seSparse extent is refused
 * with a message pointing at its descriptor, since its size and parent live
 * there. Then set up the grain table cache and count the allocated bytes.
 * Return 0, or -1 with ERR set; on failure the disk layer calls vmdk_close. */
static int
vmdk_open (struct ferry_disk *disk, struct ferry_err *err)
{
  uint8_t magic[4] = {0};

  if (disk->file_size >= 4 &&
      ferry_disk_pread_exact (disk, magic, 4, 0, "magic", err) < 0)
    return -1;
  if (memcmp (magic, "COWD", 4) == 0)
    return ferry_err_set (err, 0,
                          "'%s' is a vmfsSparse (COWD) extent: open the "
                          "descriptor .vmdk that names it instead",
                          disk->path);
  if (memcmp (magic, "\xbe\xba\xfe\xca", 4) == 0)
    return ferry_err_set (err, 0,
                          "'%s' is a seSparse extent: open the descriptor "
                          ".vmdk that names it instead",
                          disk->path);
  if (memcmp (magic, "KDMV", 4) == 0) {
    if (open_sparse (disk, err) < 0)
      return -1;
  } else if (open_descriptor (disk, err) < 0) {
    return -1;
  }
  if (disk->virtual_size == 0)
    return ferry_err_set (err, 0, "'%s': VMDK of zero size", disk->path);
  if (gt_cache_init (disk->priv, err) < 0)
    return -1;
  disk->allocated = count_allocated (disk->priv);
  return 0;
}

/* The delta's parentCID must be the parent's CID. */
static int
vmdk_check_parent (struct ferry_disk *disk, struct ferry_disk *parent,
                   struct ferry_err *err)
{
  struct vmdk_priv *p = disk->priv, *pp;

  if (parent->format != &ferry_format_vmdk)
    return ferry_err_set (err, 0, "'%s': parent '%s' is a %s image, not a VMDK",
                          disk->path, parent->path, parent->format->name);
  pp = parent->priv;
  if (!p->has_parent_cid)
    return 0;
  if (!pp->has_cid)
    return ferry_err_set (err, 0,
                          "'%s': parent '%s' has no CID to check parentCID "
                          "%08x against",
                          disk->path, parent->path, p->parent_cid);
  if (p->parent_cid != pp->cid)
    return ferry_err_set (err, 0,
                          "'%s': parentCID %08x does not match CID %08x of "
                          "parent '%s' (the parent changed after the "
                          "snapshot was taken)",
                          disk->path, p->parent_cid, pp->cid, parent->path);
  return 0;
}

/* The extent files other than the descriptor itself. */
static const char *
vmdk_data_file (struct ferry_disk *disk, size_t i)
{
  struct vmdk_priv *p = disk->priv;
  size_t k;

  for (k = 0; p && k < p->nr_files; k++)
    if (!p->files[k].borrowed && i-- == 0)
      return p->files[k].path;
  return NULL;
}

const struct ferry_disk_format ferry_format_vmdk = {
    .name = "vmdk",
    .parent_field = "parentFileNameHint",
    .probe = vmdk_probe,
    .open = vmdk_open,
    .block_status = vmdk_block_status,
    .pread = vmdk_pread,
    .check_parent = vmdk_check_parent,
    .close = vmdk_close,
    .data_file = vmdk_data_file,
};
