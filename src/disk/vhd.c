/* VHD (Virtual PC / Hyper-V gen 1) reader: fixed, dynamic and differencing.
 *
 * Layout (all fields big-endian): a 512-byte footer at the end of the file
 * (and, for dynamic/differencing disks, a copy at offset 0); a dynamic
 * header pointed at by the footer; the BAT, one 32-bit sector number per
 * block; each allocated block is a sector bitmap (one bit per sector, most
 * significant bit first, padded to 512 bytes) followed by the block's data.
 *
 * A sector whose bitmap bit is 0 is "not here": the parent's in a
 * differencing disk, zeroes in a dynamic one.  Everything is loaded at open
 * and read-only afterwards, so the callbacks are thread-safe. */
#include "disk/disk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/hostmap.h"
#include "disk/vhd-common.h"
#include "util/cleanup.h"

#define VHD_FOOTER_SIZE 512
#define VHD_DYN_HEADER_SIZE 1024
#define VHD_TYPE_FIXED 2
#define VHD_TYPE_DYNAMIC 3
#define VHD_TYPE_DIFF 4
#define VHD_BAT_UNUSED 0xffffffffu
#define VHD_MAX_GEOMETRY (65535ull * 16 * 255) /* sectors: CHS maxed out */
#define VHD_MAX_SECTORS 0xff000000ull   /* 2040 GiB, the format's limit */
#define VHD_MAX_BAT_BYTES (64ull << 20) /* memory we spend on a BAT */
#define VHD_MAX_LOCATOR 65536           /* bytes of one parent locator */
#define VHD_BITMAP_PIECE 4096           /* bitmap bytes read at once */

struct vhd_priv {
  unsigned type;         /* VHD_TYPE_* */
  uint8_t unique_id[16]; /* footer unique id (what children link to) */
  uint8_t parent_id[16]; /* differencing: parent's unique id */
  uint32_t block_size;   /* bytes per block (dynamic/differencing) */
  uint32_t bitmap_size;  /* bytes of sector bitmap before each block */
  uint32_t nblocks;      /* BAT entries covering the virtual size */
  uint32_t *bat;         /* host-endian sector numbers, or VHD_BAT_UNUSED */
  struct ferry_hostmap *holes; /* holes of the file inside data blocks */
};

/* Read a big-endian 32-bit field (VHD is big endian); memcpy because it may
 * be unaligned. */
static uint32_t
rd32 (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

/* Read a big-endian 64-bit field; memcpy because it may be unaligned. */
static uint64_t
rd64 (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

/* The VHD checksum: one's complement of the byte sum, the checksum field
 * (4 bytes at CSUM_OFF) counted as zero. */
static uint32_t
vhd_checksum (const uint8_t *buf, size_t len, size_t csum_off)
{
  uint32_t sum = 0;
  size_t i;

  for (i = 0; i < len; i++)
    if (i < csum_off || i >= csum_off + 4)
      sum += buf[i];
  return ~sum;
}

/* Does the checksum field at CSUM_OFF of BUF match?  Fuzzing builds
 * (-DFERRY_FUZZING) accept any, as libpng does, so that mutated inputs
 * reach the parsers behind the check. */
static bool
vhd_checksum_ok (const uint8_t *buf, size_t len, size_t csum_off)
{
  bool ok = vhd_checksum (buf, len, csum_off) == rd32 (buf + csum_off);

#ifdef FERRY_FUZZING
  ok = true;
#endif
  return ok;
}

/* A footer ("conectix") at the start or in the last 512 bytes. */
static bool
vhd_probe (const uint8_t *head, size_t len, const uint8_t *tail,
           size_t tail_len)
{
  if (len >= 8 && memcmp (head, "conectix", 8) == 0)
    return true;
  return tail_len >= VHD_FOOTER_SIZE &&
         memcmp (tail + tail_len - VHD_FOOTER_SIZE, "conectix", 8) == 0;
}

/* The virtual size, computed the way qemu's vpc driver does so that
 * `ferry convert` and `qemu-img convert -O raw` produce the same bytes:
 * images written by Virtual PC and by qemu without force_size (creator
 * "vpc " / "qemu") are sized by their CHS geometry, the others (Hyper-V
 * "win ", qemu force_size "qem2", Disk2vhd "d2v ", XenServer "tap\0",
 * XenConverter "CTXS") by the footer's current size; so is any image whose
 * geometry is the maximum (it cannot express a larger disk). */
static uint64_t
vhd_virtual_size (const uint8_t *footer)
{
  const uint8_t *app = footer + 28;
  uint64_t chs, cur = rd64 (footer + 48) / 512;
  bool use_chs;

  chs = (uint64_t) (((uint32_t) footer[56] << 8) | footer[57]) * footer[58] *
        footer[59];
  use_chs = memcmp (app, "win ", 4) != 0 && memcmp (app, "qem2", 4) != 0 &&
            memcmp (app, "d2v ", 4) != 0 && memcmp (app, "CTXS", 4) != 0 &&
            memcmp (app, "tap\0", 4) != 0;
  if (!use_chs || chs == VHD_MAX_GEOMETRY)
    return cur * 512;
  return chs * 512;
}

/* Read and check the footer at the end of the file. */
static int
vhd_read_footer (struct ferry_disk *disk, uint8_t *footer,
                 struct ferry_err *err)
{
  uint32_t sum;

  if (disk->file_size < VHD_FOOTER_SIZE)
    return ferry_err_set (err, 0,
                          "'%s': file too short for a VHD footer (%llu bytes)",
                          disk->path, (unsigned long long) disk->file_size);
  if (ferry_disk_pread_exact (disk, footer, VHD_FOOTER_SIZE,
                              disk->file_size - VHD_FOOTER_SIZE, "VHD footer",
                              err) < 0)
    return -1;
  if (memcmp (footer, "conectix", 8) != 0)
    return ferry_err_set (err, 0,
                          "'%s': no VHD footer in the last 512 bytes of the "
                          "file (truncated?)",
                          disk->path);
  sum = vhd_checksum (footer, VHD_FOOTER_SIZE, 64);
  if (!vhd_checksum_ok (footer, VHD_FOOTER_SIZE, 64))
    return ferry_err_set (err, 0,
                          "'%s': VHD footer checksum is 0x%08x, expected "
                          "0x%08x (corrupt footer)",
                          disk->path, rd32 (footer + 64), sum);
  if ((rd32 (footer + 12) >> 16) != 1)
    return ferry_err_set (err, 0,
                          "'%s': VHD footer file format version 0x%08x is "
                          "not supported",
                          disk->path, rd32 (footer + 12));
  return 0;
}

/* Read one parent locator's name (W2ru/W2ku: UTF-16LE paths).  Sets *RET
 * to NULL for other platform codes. */
static int
vhd_read_locator (struct ferry_disk *disk, const uint8_t *ent, unsigned idx,
                  char **ret, struct ferry_err *err)
{
  uint32_t code = rd32 (ent), len = rd32 (ent + 8);
  uint64_t off = rd64 (ent + 16);
  CLEANUP_FREE uint8_t *buf = NULL;
  char what[64];

  *ret = NULL;
  if (code != 0x57327275 /* W2ru */ && code != 0x57326b75 /* W2ku */)
    return 0;
  if (len == 0)
    return 0;
  if (len > VHD_MAX_LOCATOR)
    return ferry_err_set (err, 0,
                          "'%s': parent locator %u: data length %u is too "
                          "large",
                          disk->path, idx, len);
  if (off > disk->file_size || len > disk->file_size - off)
    return ferry_err_set (err, 0,
                          "'%s': parent locator %u: data at offset %llu "
                          "(%u bytes) is past the end of the file",
                          disk->path, idx, (unsigned long long) off, len);
  buf = malloc (len);
  if (buf == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  snprintf (what, sizeof what, "parent locator %u", idx);
  if (ferry_disk_pread_exact (disk, buf, len, off, what, err) < 0)
    return -1;
  *ret = ferry_vhd_utf16_to_utf8 (buf, len, false);
  if (*ret == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  return 0;
}

/* Parent name for a differencing disk: relative locator (W2ru), absolute
 * locator (W2ku) by base name, then the parent's unicode name. */
static int
vhd_parent_hint (struct ferry_disk *disk, const uint8_t *dyn,
                 struct ferry_err *err)
{
  char *rel = NULL, *abs = NULL, *uname = NULL, *name;
  const char *cands[3];
  unsigned i;
  int r = -1;

  for (i = 0; i < 8; i++) {
    const uint8_t *ent = dyn + 576 + 24 * i;
    char **slot = rd32 (ent) == 0x57327275 ? &rel : &abs;
    if (*slot != NULL)
      continue;
    if (vhd_read_locator (disk, ent, i, &name, err) < 0)
      goto out;
    *slot = name;
  }
  uname = ferry_vhd_utf16_to_utf8 (dyn + 64, 512, true);
  if (uname == NULL) {
    ferry_err_set (err, errno, "cannot allocate memory");
    goto out;
  }
  cands[0] = rel;
  cands[1] = abs;
  cands[2] = uname;
  {
    static const char *const keys[3] = {"relative locator W2ru",
                                        "absolute locator W2ku", "parent name"};
    struct vhd_priv *p = disk->priv;
    char id[37];

    disk->parent_names = ferry_vhd_names_text (keys, cands, 3);
    ferry_vhd_uuid_string (p->parent_id, id);
    snprintf (disk->parent_id, sizeof disk->parent_id,
              "unique id %s (its parent UUID)", id);
  }
  disk->parent_hint =
      ferry_vhd_pick_parent (disk->confine, disk->path, cands, 3, err);
  if (disk->parent_hint != NULL)
    r = 0;
out:
  free (rel);
  free (abs);
  free (uname);
  return r;
}

/* Do [A, A+ALEN) and [B, B+BLEN) overlap? */
static bool
overlaps (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return a < b + blen && b < a + alen;
}

/* Load the dynamic header and the BAT, and check every BAT entry against
 * the file and the metadata it must not overlap. */
static int
vhd_open_dynamic (struct ferry_disk *disk, struct vhd_priv *p, uint64_t dyn_off,
                  struct ferry_err *err)
{
  uint8_t dyn[VHD_DYN_HEADER_SIZE];
  uint64_t table_off, table_len, data_end, blen, boff, i, max_entries;
  uint32_t sum, bs;

  if (dyn_off < VHD_FOOTER_SIZE || dyn_off > disk->file_size ||
      disk->file_size - dyn_off < VHD_DYN_HEADER_SIZE + VHD_FOOTER_SIZE)
    return ferry_err_set (err, 0,
                          "'%s': VHD footer data offset %llu (dynamic header) "
                          "is outside the file",
                          disk->path, (unsigned long long) dyn_off);
  if (ferry_disk_pread_exact (disk, dyn, sizeof dyn, dyn_off,
                              "VHD dynamic header", err) < 0)
    return -1;
  if (memcmp (dyn, "cxsparse", 8) != 0)
    return ferry_err_set (err, 0,
                          "'%s': VHD dynamic header at offset %llu has a bad "
                          "cookie",
                          disk->path, (unsigned long long) dyn_off);
  sum = vhd_checksum (dyn, sizeof dyn, 36);
  if (!vhd_checksum_ok (dyn, sizeof dyn, 36))
    return ferry_err_set (err, 0,
                          "'%s': VHD dynamic header checksum is 0x%08x, "
                          "expected 0x%08x (corrupt header)",
                          disk->path, rd32 (dyn + 36), sum);
  if ((rd32 (dyn + 24) >> 16) != 1)
    return ferry_err_set (err, 0,
                          "'%s': VHD dynamic header version 0x%08x is not "
                          "supported",
                          disk->path, rd32 (dyn + 24));
  bs = rd32 (dyn + 32);
  if (bs < 512 || bs > (256u << 20) || (bs & (bs - 1)) != 0)
    return ferry_err_set (err, 0,
                          "'%s': VHD dynamic header block size %u is not a "
                          "power of two between 512 and 256 MiB",
                          disk->path, bs);
  if (disk->virtual_size > VHD_MAX_SECTORS * 512)
    return ferry_err_set (err, 0,
                          "'%s': VHD virtual size %llu is larger than the "
                          "format allows",
                          disk->path, (unsigned long long) disk->virtual_size);
  p->block_size = bs;
  /* one bit per sector, padded to whole sectors */
  p->bitmap_size = ((bs / 512 + 7) / 8 + 511) & ~511u;
  i = (disk->virtual_size + bs - 1) / bs;
  max_entries = rd32 (dyn + 28);
  if (i > max_entries)
    return ferry_err_set (err, 0,
                          "'%s': VHD dynamic header max table entries %llu is "
                          "too small for the virtual size (%llu blocks)",
                          disk->path, (unsigned long long) max_entries,
                          (unsigned long long) i);
  if (i * 4 > VHD_MAX_BAT_BYTES)
    return ferry_err_set (err, 0, "'%s': VHD BAT of %llu entries is too large",
                          disk->path, (unsigned long long) i);
  p->nblocks = (uint32_t) i;
  table_off = rd64 (dyn + 16);
  table_len = (max_entries * 4 + 511) & ~511ull;
  data_end = disk->file_size - VHD_FOOTER_SIZE;
  if (table_off < VHD_FOOTER_SIZE || table_off > data_end ||
      (uint64_t) p->nblocks * 4 > data_end - table_off)
    return ferry_err_set (err, 0,
                          "'%s': VHD dynamic header table offset %llu (BAT) "
                          "is outside the file",
                          disk->path, (unsigned long long) table_off);
  if (overlaps (table_off, (uint64_t) p->nblocks * 4, dyn_off,
                VHD_DYN_HEADER_SIZE))
    return ferry_err_set (err, 0,
                          "'%s': VHD BAT at offset %llu overlaps the dynamic "
                          "header",
                          disk->path, (unsigned long long) table_off);
  p->bat = malloc ((size_t) p->nblocks * 4 + 4);
  if (p->bat == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (ferry_disk_pread_exact (disk, p->bat, (size_t) p->nblocks * 4, table_off,
                              "VHD BAT", err) < 0)
    return -1;
  for (i = 0; i < p->nblocks; i++) {
    p->bat[i] = be32toh (p->bat[i]);
    if (p->bat[i] == VHD_BAT_UNUSED)
      continue;
    boff = (uint64_t) p->bat[i] * 512;
    blen = disk->virtual_size - i * bs < bs ? disk->virtual_size - i * bs : bs;
    blen += p->bitmap_size;
    if (boff < VHD_FOOTER_SIZE ||
        overlaps (boff, blen, dyn_off, VHD_DYN_HEADER_SIZE) ||
        overlaps (boff, blen, table_off, table_len))
      return ferry_err_set (err, 0,
                            "'%s': VHD BAT entry %llu (sector %u) points at "
                            "the footer, dynamic header or BAT",
                            disk->path, (unsigned long long) i, p->bat[i]);
    if (boff > data_end || blen > data_end - boff)
      return ferry_err_set (err, 0,
                            "'%s': VHD BAT entry %llu (sector %u) points past "
                            "the end of the file",
                            disk->path, (unsigned long long) i, p->bat[i]);
    disk->allocated += blen - p->bitmap_size;
  }
  if (p->type == VHD_TYPE_DIFF) {
    memcpy (p->parent_id, dyn + 40, 16);
    if (vhd_parent_hint (disk, dyn, err) < 0)
      return -1;
  }
  return 0;
}

/* Open a VHD from its footer: a fixed disk is its data followed by the
 * footer, so its size is checked against the file; dynamic and differencing
 * disks go on to the dynamic header and BAT. The unique id becomes the
 * disk's format_id, part of the source identity that resume and done checks
 * compare. Return 0, or -1 with ERR set; priv may be half filled on failure
 * and is freed by vhd_close, which the disk layer calls. */
static int
vhd_open (struct ferry_disk *disk, struct ferry_err *err)
{
  uint8_t footer[VHD_FOOTER_SIZE];
  struct vhd_priv *p;
  uint64_t dyn_off;

  if (vhd_read_footer (disk, footer, err) < 0)
    return -1;
  p = calloc (1, sizeof *p);
  if (p == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  disk->priv = p;
  p->holes = ferry_hostmap_new (disk->fd);
  if (p->holes == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  p->type = rd32 (footer + 60);
  memcpy (p->unique_id, footer + 68, 16);
  memcpy (disk->format_id, "uid=", 4);
  ferry_vhd_uuid_string (p->unique_id, disk->format_id + 4);
  disk->virtual_size = vhd_virtual_size (footer);
  switch (p->type) {
  case VHD_TYPE_FIXED:
    snprintf (disk->subformat, sizeof disk->subformat, "fixed");
    if (disk->virtual_size > disk->file_size - VHD_FOOTER_SIZE)
      return ferry_err_set (
          err, 0,
          "'%s': VHD footer current size %llu is past the "
          "end of the file (%llu bytes of data)",
          disk->path, (unsigned long long) disk->virtual_size,
          (unsigned long long) (disk->file_size - VHD_FOOTER_SIZE));
    disk->allocated = disk->virtual_size;
    return 0;
  case VHD_TYPE_DYNAMIC:
  case VHD_TYPE_DIFF:
    snprintf (disk->subformat, sizeof disk->subformat, "%s",
              p->type == VHD_TYPE_DIFF ? "differencing" : "dynamic");
    dyn_off = rd64 (footer + 16);
    return vhd_open_dynamic (disk, p, dyn_off, err);
  default:
    return ferry_err_set (err, 0,
                          "'%s': VHD footer disk type %u is not fixed (2), "
                          "dynamic (3) or differencing (4)",
                          disk->path, p->type);
  }
}

/* Status of one stretch inside block BLK starting at byte BOFF, at most N
 * bytes (N never crosses a bitmap piece): sets *KIND and returns the length
 * over which it is uniform, or 0 on error. */
static uint64_t
vhd_block_run (struct ferry_disk *disk, uint64_t blk, uint64_t boff, uint64_t n,
               enum ferry_extent_kind *kind, struct ferry_err *err)
{
  struct vhd_priv *p = disk->priv;
  enum ferry_extent_kind absent =
      p->type == VHD_TYPE_DIFF ? FERRY_EXTENT_UNALLOC : FERRY_EXTENT_ZERO;
  uint8_t bm[VHD_BITMAP_PIECE];
  uint64_t s0, s1, s, first_byte, nbytes;
  bool bit;

  if (p->bat[blk] == VHD_BAT_UNUSED) {
    *kind = absent;
    return n;
  }
  s0 = boff / 512;
  s1 = (boff + n + 511) / 512;
  first_byte = s0 / 8;
  nbytes = (s1 + 7) / 8 - first_byte;
  if (ferry_disk_pread_exact (disk, bm, nbytes,
                              (uint64_t) p->bat[blk] * 512 + first_byte,
                              "VHD sector bitmap", err) < 0)
    return 0;
#define VHD_BIT(sec) ((bm[(sec) / 8 - first_byte] >> (7 - (sec) % 8)) & 1)
  bit = VHD_BIT (s0);
  for (s = s0 + 1; s < s1 && VHD_BIT (s) == bit; s++)
    ;
#undef VHD_BIT
  *kind = bit ? FERRY_EXTENT_DATA : absent;
  return s * 512 - boff < n ? s * 512 - boff : n;
}

/* Extents span blocks: the run continues while the kind stays the same. */
static int
vhd_block_status (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                  struct ferry_extent *ret, struct ferry_err *err)
{
  struct vhd_priv *p = disk->priv;
  enum ferry_extent_kind kind = FERRY_EXTENT_LAST, k;
  uint64_t pos = offset, end = offset + length, blk, boff, n, run;
  const uint64_t piece = (uint64_t) VHD_BITMAP_PIECE * 8 * 512;
  bool data;

  ret->offset = offset;
  if (p->type == VHD_TYPE_FIXED) {
    /* holes of the file read as zeroes */
    ret->length = ferry_hostmap_query (p->holes, offset, length, &data);
    ret->kind = data ? FERRY_EXTENT_DATA : FERRY_EXTENT_ZERO;
    return 0;
  }
  while (pos < end) {
    blk = pos / p->block_size;
    boff = pos % p->block_size;
    n = p->block_size - boff;
    if (n > piece - boff % piece)
      n = piece - boff % piece;
    if (n > end - pos)
      n = end - pos;
    if (blk >= p->nblocks)
      return ferry_err_set (err, 0, "'%s': offset %llu is past the BAT",
                            disk->path, (unsigned long long) pos);
    run = vhd_block_run (disk, blk, boff, n, &k, err);
    if (run == 0)
      return -1;
    if (k == FERRY_EXTENT_DATA) {
      /* the unwritten parts of a data block read as zeroes */
      uint64_t h = ferry_hostmap_query (
          p->holes, (uint64_t) p->bat[blk] * 512 + p->bitmap_size + boff, run,
          &data);
      if (!data)
        k = FERRY_EXTENT_ZERO;
      if (h < run)
        run = h;
    }
    if (kind != FERRY_EXTENT_LAST && k != kind)
      break;
    kind = k;
    pos += run;
    if (run < n)
      break;
  }
  ret->length = pos - offset;
  ret->kind = kind;
  return 0;
}

/* Read a DATA range: block by block, merging pieces contiguous in the
 * file into one pread. */
static int
vhd_pread (struct ferry_disk *disk, void *buf, uint64_t length, uint64_t offset,
           struct ferry_err *err)
{
  struct vhd_priv *p = disk->priv;
  uint8_t *out = buf;
  uint64_t blk, boff, n, foff;
  struct ferry_read_run run = {0};

  if (p->type == VHD_TYPE_FIXED)
    return ferry_disk_pread_exact (disk, buf, length, offset, "VHD data", err);
  while (length > 0) {
    blk = offset / p->block_size;
    boff = offset % p->block_size;
    n = p->block_size - boff < length ? p->block_size - boff : length;
    if (blk >= p->nblocks)
      return ferry_err_set (err, 0, "'%s': read at %llu is past the BAT",
                            disk->path, (unsigned long long) offset);
    if (p->bat[blk] == VHD_BAT_UNUSED) {
      memset (out, 0, n);
    } else {
      foff = (uint64_t) p->bat[blk] * 512 + p->bitmap_size + boff;
      if (ferry_read_run_add (disk, &run, out, foff, n, "VHD data block", err) <
          0)
        return -1;
    }
    out += n;
    offset += n;
    length -= n;
  }
  return ferry_read_run_flush (disk, &run, "VHD data block", err);
}

/* Where a DATA range lies in the file: a fixed disk is its data; in a
 * dynamic or differencing one, up to the end of OFFSET's block. */
static int
vhd_file_extent (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                 int *fd, uint64_t *foff, uint64_t *len, struct ferry_err *err)
{
  struct vhd_priv *p = disk->priv;
  uint64_t blk, boff;

  *fd = disk->fd;
  *len = 0;
  if (p->type == VHD_TYPE_FIXED) {
    *foff = offset;
  } else {
    blk = offset / p->block_size;
    boff = offset % p->block_size;
    if (blk >= p->nblocks || p->bat[blk] == VHD_BAT_UNUSED)
      return 0;
    *foff = (uint64_t) p->bat[blk] * 512 + p->bitmap_size + boff;
    if (length > p->block_size - boff)
      length = p->block_size - boff;
  }
  if (*foff > disk->file_size || length > disk->file_size - *foff)
    return ferry_err_set (err, 0,
                          "'%s': VHD data at virtual offset %llu is past the "
                          "end of the file",
                          disk->path, (unsigned long long) offset);
  *len = length;
  return 0;
}

/* The parent's footer unique id must be the one the child recorded. */
static int
vhd_check_parent (struct ferry_disk *disk, struct ferry_disk *parent,
                  struct ferry_err *err)
{
  struct vhd_priv *p = disk->priv, *pp;
  char want[37], got[37];

  if (parent->format != &ferry_format_vhd)
    return ferry_err_set (err, 0, "'%s': parent '%s' is a %s image, not a VHD",
                          disk->path, parent->path, parent->format->name);
  pp = parent->priv;
  if (memcmp (p->parent_id, pp->unique_id, 16) != 0) {
    ferry_vhd_uuid_string (p->parent_id, want);
    ferry_vhd_uuid_string (pp->unique_id, got);
    return ferry_err_set (err, 0,
                          "'%s': parent '%s' has unique id %s but the "
                          "differencing disk expects %s (wrong parent, or the "
                          "parent was changed)",
                          disk->path, parent->path, got, want);
  }
  return 0;
}

/* Free the reader state (BAT, hole map) made by vhd_open; safe on a half-
 * opened disk. */
static void
vhd_close (struct ferry_disk *disk)
{
  struct vhd_priv *p = disk->priv;

  if (p == NULL)
    return;
  free (p->bat);
  ferry_hostmap_free (p->holes);
  free (p);
  disk->priv = NULL;
}

const struct ferry_disk_format ferry_format_vhd = {
    .name = "vhd",
    .parent_field = "parent locator",
    .probe = vhd_probe,
    .open = vhd_open,
    .block_status = vhd_block_status,
    .pread = vhd_pread,
    .file_extent = vhd_file_extent,
    .check_parent = vhd_check_parent,
    .close = vhd_close,
};
