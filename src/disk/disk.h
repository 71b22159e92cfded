/* Disk images: readers (one per format, detected by content) and the chain
 * layer that stacks a delta on its parent.
 *
 * Threading: after ferry_disk_open returns, every reader callback must be
 * safe to call from several threads at once (use pread, never a shared file
 * offset; load metadata at open or guard a cache with a mutex).  The source
 * is opened O_RDONLY and never written. */
#ifndef FERRY_DISK_H
#define FERRY_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/confine.h"
#include "util/err.h"
#include "util/location.h"

#define FERRY_DISK_MAX_CHAIN 64 /* longest snapshot chain we follow */

enum ferry_extent_kind {
  FERRY_EXTENT_DATA,    /* this layer holds data: read it */
  FERRY_EXTENT_ZERO,    /* this layer says: reads as zeroes */
  FERRY_EXTENT_UNALLOC, /* not in this layer: the parent's, or zero */
  FERRY_EXTENT_LAST
};

struct ferry_extent {
  uint64_t offset;             /* virtual offset of the extent */
  uint64_t length;             /* bytes, > 0 */
  enum ferry_extent_kind kind; /* what the range holds */
};

struct ferry_disk;

/* One image format.  Registered in src/disk/format.c. */
struct ferry_disk_format {
  const char *name;         /* "vmdk", "vhd", "vhdx", "qcow2", "raw", "rbd" */
  const char *parent_field; /* what names the parent, for errors */
  /* The converter must not read this format's file_extent ranges ahead
   * (POSIX_FADV_WILLNEED; see read_ahead in convert.c). */
  bool no_read_ahead;
  /* Is this image ours?  HEAD holds the first LEN bytes of the file (LEN may
   * be less than 4096 for short files), TAIL the last TAIL_LEN bytes
   * (VHD fixed has its footer at the end).  Pure function of the bytes. */
  bool (*probe) (const uint8_t *head, size_t len, const uint8_t *tail,
                 size_t tail_len);
  /* Open DISK->path (DISK->fd is already open O_RDONLY on it, DISK->file_size
   * set).  Fill DISK->virtual_size, DISK->subformat, DISK->priv and, for a
   * delta, DISK->parent_hint (as written in the image; the chain layer
   * resolves it relative to the child's directory).  Any other file the
   * image names is opened with ferry_confine_open (DISK->confine, ...). */
  int (*open) (struct ferry_disk *disk, struct ferry_err *err);
  /* Describe the extent of this layer starting at OFFSET (< virtual_size),
   * at most LENGTH bytes long (it may be shorter). */
  int (*block_status) (struct ferry_disk *disk, uint64_t offset,
                       uint64_t length, struct ferry_extent *ret,
                       struct ferry_err *err);
  /* Read LENGTH bytes at OFFSET from a range that block_status reported as
   * DATA in this layer (the caller never crosses the end of such an extent).
   * Compressed formats inflate here. */
  int (*pread) (struct ferry_disk *disk, void *buf, uint64_t length,
                uint64_t offset, struct ferry_err *err);
  /* Optional: where the DATA range at OFFSET (block_status said DATA, the
   * caller stays inside that extent) is stored as is (no compression, no
   * transformation) in a file: *FD (the reader's, valid until close) at
   * *FOFF, for the first *LEN bytes (<= LENGTH), contiguous in that file and
   * inside it.  *LEN = 0: not stored as is (read it with pread).  Lets the
   * converter copy file to file in the kernel (copy_file_range). */
  int (*file_extent) (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                      int *fd, uint64_t *foff, uint64_t *len,
                      struct ferry_err *err);
  /* Optional: check that PARENT is really this delta's parent (VMDK parentCID
   * vs CID, VHD/VHDX parent UUID).  Error names both files. */
  int (*check_parent) (struct ferry_disk *disk, struct ferry_disk *parent,
                       struct ferry_err *err);
  /* Free DISK->priv (may be half-built). */
  void (*close) (struct ferry_disk *disk);
  /* Optional: the I-th file other than DISK->path that holds this layer's
   * data (VMDK extents), or NULL past the last.  For identities and the
   * target-is-the-source check. */
  const char *(*data_file) (struct ferry_disk *disk, size_t i);
};

/* An opened image, the top of its chain. */
struct ferry_disk {
  const struct ferry_disk_format *format; /* reader */
  char *path;            /* as given or resolved from the child's hint */
  int fd;                /* O_RDONLY, -1 for non-file sources (rbd) */
  uint64_t file_size;    /* bytes in the file */
  uint64_t virtual_size; /* guest-visible size */
  char subformat[64];    /* "monolithicSparse", "dynamic", "v3", ... */
  char *parent_hint;     /* delta's parent name from the image, or NULL */
  /* For a missing parent's messages: what identifies the parent ("CID
   * 0a1b2c3d (parentCID)", "DataWriteGuid {...} (parent_linkage)"), or "";
   * every name the delta records ("relative_path '...', ..."), or NULL when
   * parent_hint is the only one. */
  char parent_id[80];
  char *parent_names;
  struct ferry_disk *parent; /* opened parent, or NULL */
  uint64_t allocated;        /* bytes of DATA in this layer, 0 if unknown */
  char format_id[64];        /* the format's own id ("cid=..."), or "" */
  bool drop_cache;           /* drop data read from the page cache */
  void *priv;                /* reader state */
  /* Where the files this image names may be (shared by the whole chain,
   * owned by its top; NULL allows nothing). */
  struct ferry_confine *confine;
  struct ferry_rbd_location rbd; /* rbd layers: the image (else zeroed) */
};

/* Open the file PATH (never parsed as an rbd: name), detect its format by
 * content, and open its whole parent chain (loops and chains
 * longer than FERRY_DISK_MAX_CHAIN are errors).  Every file the chain names
 * (parents, extents) must lie in PATH's directory (see confine.h). */
int ferry_disk_open (const char *path, struct ferry_disk **ret,
                     struct ferry_err *err);
/* The same with the allowed directories given: CONFINE (copied; NULL means
 * PATH's directory) instead of PATH's directory. */
int ferry_disk_open_confined (const char *path,
                              const struct ferry_confine *confine,
                              struct ferry_disk **ret, struct ferry_err *err);
/* Open LOC: a file (as ferry_disk_open_confined with CONFINE) or an RBD
 * image (read-only, at its snapshot; librbd follows a clone's parents
 * itself and nothing on this host is read, so CONFINE is not used). */
int ferry_disk_open_location (const struct ferry_location *loc,
                              const struct ferry_confine *confine,
                              struct ferry_disk **ret, struct ferry_err *err);
/* Close a chain (NULL is fine). */
void ferry_disk_close (struct ferry_disk *disk);
/* Open the file PATH alone, not its parents (an orphan delta can still be
 * shown): a one-layer chain whose parent_hint says whether it is a delta.
 * CONFINE as for ferry_disk_open_confined. */
int ferry_disk_open_top (const char *path, const struct ferry_confine *confine,
                         struct ferry_disk **ret, struct ferry_err *err);
/* What the delta DISK needs of its parent, for messages: "DataWriteGuid
 * {...} (parent_linkage), named relative_path '...', ..." into BUF. */
void ferry_disk_parent_needs (const struct ferry_disk *disk, char *buf,
                              size_t len);

/* Resolved view through the chain: DATA (with the layer that holds it) or
 * ZERO (holes and zero extents of every layer). */
struct ferry_map {
  uint64_t offset;
  uint64_t length;
  bool zero;                /* true: reads as zeroes */
  bool held;                /* ferry_disk_map_above: no layer above BASE
                               defines this range (zero is false) */
  struct ferry_disk *layer; /* for data: the layer to read from */
};
int ferry_disk_map (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                    struct ferry_map *ret, struct ferry_err *err);
/* As ferry_disk_map, but the descent stops at BASE, a layer of DISK's chain
 * (NULL: never): a range that no layer above BASE defines (allocated or
 * zeroed) comes back with HELD set, whatever BASE and its parents hold.
 * The chain-aware copy writes only the ranges that are not held. */
int ferry_disk_map_above (struct ferry_disk *disk, struct ferry_disk *base,
                          uint64_t offset, uint64_t length,
                          struct ferry_map *ret, struct ferry_err *err);
/* The layer of DISK's chain that is the file PATH (same device and inode),
 * or NULL (errno ENOENT when PATH is missing). */
struct ferry_disk *ferry_disk_find_layer (struct ferry_disk *disk,
                                          const char *path);
/* Map the whole disk from offset 0, so that every grain/block table entry
 * is checked on the way (what `ferry inspect` and `ferry validate` do),
 * read-only; at most MAX_CALLS map calls (0: no limit).  Adds the bytes
 * found allocated to *ALLOC (also those before an error).  -1 with ERR on
 * the first bad entry. */
int ferry_disk_walk (struct ferry_disk *disk, unsigned max_calls,
                     uint64_t *alloc, struct ferry_err *err);
/* Read any range of the virtual disk through the chain (zero-filled where
 * nothing is allocated). */
int ferry_disk_read (struct ferry_disk *disk, void *buf, uint64_t length,
                     uint64_t offset, struct ferry_err *err);

/* Helpers for readers: bounds-checked pread of exactly LENGTH bytes (a short
 * read is an error naming the file and WHAT). */
int ferry_disk_pread_exact (struct ferry_disk *disk, void *buf, size_t length,
                            uint64_t offset, const char *what,
                            struct ferry_err *err);

/* Should data read from a file holding BYTES allocated bytes be dropped
 * from the page cache once read (POSIX_FADV_DONTNEED)?  Yes when it is
 * more than half of MemAvailable; the environment variable
 * FERRY_DROP_CACHE=1 (always) or 0 (never) decides instead.  Set per layer
 * in ferry_disk.drop_cache at open; readers that open other files (VMDK
 * extents) ask for each. */
bool ferry_disk_drop_wanted (uint64_t bytes);

/* Reads of pieces that are adjacent both in the file and in the caller's
 * buffer, merged into one pread (readers that walk blocks use this). */
struct ferry_read_run {
  uint8_t *buf;  /* where the pending run goes */
  uint64_t foff; /* its file offset */
  uint64_t len;  /* its length, 0 = nothing pending */
};
/* Queue N bytes at file offset FOFF into OUT, reading the pending run first
 * if this piece does not continue it.  WHAT names the data in errors. */
int ferry_read_run_add (struct ferry_disk *disk, struct ferry_read_run *run,
                        uint8_t *out, uint64_t foff, uint64_t n,
                        const char *what, struct ferry_err *err);
/* Read the pending run, if any. */
int ferry_read_run_flush (struct ferry_disk *disk, struct ferry_read_run *run,
                          const char *what, struct ferry_err *err);

/* Format table (src/disk/format.c), and the formats themselves. */
extern const struct ferry_disk_format ferry_format_qcow2;
extern const struct ferry_disk_format ferry_format_raw;
extern const struct ferry_disk_format ferry_format_rbd;
extern const struct ferry_disk_format ferry_format_vhd;
extern const struct ferry_disk_format ferry_format_vhdx;
extern const struct ferry_disk_format ferry_format_vmdk;
const struct ferry_disk_format *ferry_disk_detect (const uint8_t *head,
                                                   size_t len,
                                                   const uint8_t *tail,
                                                   size_t tail_len);

#endif
