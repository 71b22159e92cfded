/* VMDK internals shared by src/disk/vmdk*.c: the parsed text descriptor and
 * the on-disk sparse extent header. */
#ifndef FERRY_VMDK_H
#define FERRY_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define FERRY_VMDK_SECTOR 512
#define FERRY_VMDK_MAX_EXTENTS 65536         /* extent lines we accept */
#define FERRY_VMDK_MAX_DESCRIPTOR (1u << 20) /* bytes of descriptor text */
#define FERRY_VMDK_MAX_SECTORS (1ull << 41)  /* 1 PiB of virtual disk */

/* Extent types of a descriptor's extent lines. */
enum ferry_vmdk_extent_type {
  FERRY_VMDK_EXTENT_FLAT,       /* FLAT, VMFS, VMFSRAW, VMFSRDM */
  FERRY_VMDK_EXTENT_SPARSE,     /* SPARSE (hosted sparse, KDMV header) */
  FERRY_VMDK_EXTENT_ZERO,       /* ZERO: reads as zeroes, no file */
  FERRY_VMDK_EXTENT_VMFSSPARSE, /* VMFSSPARSE (ESX COWD delta) */
  FERRY_VMDK_EXTENT_SESPARSE,   /* SESPARSE (ESXi space-efficient) */
  FERRY_VMDK_EXTENT_LAST
};

/* The descriptor keyword of an extent type ("FLAT", "SPARSE", ...). */
const char *ferry_vmdk_extent_type_name (enum ferry_vmdk_extent_type type);

/* One extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */
struct ferry_vmdk_desc_extent {
  enum ferry_vmdk_extent_type type; /* kind of extent */
  uint64_t sectors;                 /* virtual length in sectors, > 0 */
  uint64_t offset;                  /* FLAT: first sector in the file */
  char *file;                       /* file name as written, NULL for ZERO */
  unsigned line;                    /* line number in the descriptor */
};

/* A parsed descriptor (text file or embedded in a sparse file). */
struct ferry_vmdk_descriptor {
  bool has_cid;                           /* CID= present */
  uint32_t cid;                           /* content id */
  bool has_parent_cid;                    /* parentCID= present */
  uint32_t parent_cid;                    /* parent's content id */
  char create_type[64];                   /* createType, "" if absent */
  char *parent_hint;                      /* parentFileNameHint or NULL */
  struct ferry_vmdk_desc_extent *extents; /* extent lines in order */
  size_t nr_extents;                      /* entries in extents */
};

/* Parse descriptor TEXT (LEN bytes, stops at the first NUL) read from PATH
 * (named in errors).  On success fills *RET (free with
 * ferry_vmdk_descriptor_free). */
int ferry_vmdk_parse_descriptor (const char *path, const char *text, size_t len,
                                 struct ferry_vmdk_descriptor *ret,
                                 struct ferry_err *err);
/* Free what a descriptor owns (a zeroed or half-built one is fine). */
void ferry_vmdk_descriptor_free (struct ferry_vmdk_descriptor *d);

/* Does this look like a text descriptor? */
bool ferry_vmdk_is_descriptor (const uint8_t *head, size_t len);

/* Sparse extent header (hosted sparse, "KDMV"), 512 bytes little-endian. */
#define FERRY_VMDK_MAGIC 0x564d444bu      /* "KDMV" */
#define FERRY_VMDK_COWD_MAGIC 0x44574f43u /* "COWD" */
#define FERRY_VMDK_GD_AT_END 0xffffffffffffffffull
#define FERRY_VMDK_FLAG_NL_DETECT (1u << 0)
#define FERRY_VMDK_FLAG_RGD (1u << 1)
#define FERRY_VMDK_FLAG_ZERO_GRAIN (1u << 2)
#define FERRY_VMDK_FLAG_COMPRESSED (1u << 16)
#define FERRY_VMDK_FLAG_MARKERS (1u << 17)
#define FERRY_VMDK_COMPRESS_DEFLATE 1

struct ferry_vmdk_header {
  uint32_t magic;       /* FERRY_VMDK_MAGIC */
  uint32_t version;     /* 1, 2 or 3 */
  uint32_t flags;       /* FERRY_VMDK_FLAG_* */
  uint64_t capacity;    /* sectors */
  uint64_t grain_size;  /* sectors per grain */
  uint64_t desc_offset; /* embedded descriptor, sector (0: none) */
  uint64_t desc_size;   /* embedded descriptor, sectors */
  uint32_t gtes_per_gt; /* entries per grain table */
  uint64_t rgd_offset;  /* redundant grain directory, sector */
  uint64_t gd_offset;   /* grain directory, sector (or GD_AT_END) */
  uint64_t overhead;    /* sectors of metadata before the grains */
  uint8_t unclean;      /* unclean shutdown */
  uint8_t nl[4];        /* '\n', ' ', '\r', '\n' */
  uint16_t compress;    /* FERRY_VMDK_COMPRESS_* */
};

/* Decode a 512-byte sparse header (no validation). */
void ferry_vmdk_decode_header (const uint8_t *buf,
                               struct ferry_vmdk_header *ret);

/* ESXi snapshot-delta extents (src/disk/vmdk-esx.c).  vmfsSparse: the
 * 2048-byte "COWD" header, 32-bit grain directory and tables of 4096
 * sector offsets.  seSparse: a const header (magic 0xcafebabe), a volatile
 * header, and a grain directory and tables of 64-bit entries whose top
 * nibble is a type. */
#define FERRY_VMDK_COWD_HEADER 2048 /* bytes of a COWD header */
#define FERRY_VMDK_COWD_GTES 4096   /* entries per COWD grain table */
#define FERRY_VMDK_SE_MAGIC 0xcafebabeull
#define FERRY_VMDK_SE_VOLATILE_MAGIC 0xcafecafeull
#define FERRY_VMDK_SE_VERSION 0x200000001ull
#define FERRY_VMDK_SE_GTES 4096 /* entries per seSparse grain table */

/* Where the metadata and grains of a sparse extent lie, checked against
 * the file: what the generic grain-table code needs. */
struct ferry_vmdk_layout {
  uint64_t capacity;     /* virtual sectors */
  uint64_t grain_size;   /* sectors per grain */
  uint32_t gtes;         /* entries per grain table */
  uint32_t gte_bytes;    /* bytes per GD and GT entry: 4 or 8 */
  uint64_t nr_gd;        /* grain directory entries used */
  uint64_t gd_start;     /* grain directory, byte offset in the file */
  uint64_t header_end;   /* bytes of header at the start of the file */
  uint64_t gt_start;     /* seSparse: grain table region, bytes */
  uint64_t gt_end;       /* end of it */
  uint64_t grains_start; /* grain data lies in [grains_start, */
  uint64_t grains_end;   /*   grains_end) (bytes; may pass EOF) */
  uint64_t volatile_off; /* seSparse: volatile header, bytes */
};

/* Check a COWD header (BUF: its 2048 bytes) of a file of SIZE bytes named
 * PATH and describe its layout. */
int ferry_vmdk_cowd_layout (const char *path, const uint8_t *buf, uint64_t size,
                            struct ferry_vmdk_layout *ret,
                            struct ferry_err *err);
/* Check a seSparse const header (BUF: 512 bytes) and describe the layout. */
int ferry_vmdk_se_layout (const char *path, const uint8_t *buf, uint64_t size,
                          struct ferry_vmdk_layout *ret, struct ferry_err *err);
/* Check a seSparse volatile header (512 bytes). */
int ferry_vmdk_se_check_volatile (const char *path, const uint8_t *buf,
                                  struct ferry_err *err);
/* seSparse grain directory entry RAW (index I) to the byte offset of its
 * grain table, 0 when none. */
int ferry_vmdk_se_gd_entry (const char *path, const struct ferry_vmdk_layout *l,
                            uint64_t i, uint64_t raw, uint64_t *ret,
                            struct ferry_err *err);
/* seSparse grain table entry RAW (grain G) to the form the reader uses:
 * 0 unallocated, 1 reads as zeroes, otherwise the grain's first sector in
 * the file. */
int ferry_vmdk_se_gte (const char *path, const struct ferry_vmdk_layout *l,
                       uint64_t g, uint64_t raw, uint64_t *ret,
                       struct ferry_err *err);

#endif
