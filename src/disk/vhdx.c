/* VHDX (Hyper-V) reader: fixed, dynamic and differencing (AVHDX).
 *
 * Layout (little-endian): a file identifier at 0, two headers at 64 KiB and
 * 128 KiB (the valid one with the higher sequence number is current), two
 * copies of the region table at 192 KiB and 256 KiB naming the BAT and the
 * metadata region; the metadata holds the block size, virtual size, sector
 * size and, for a differencing disk, the parent locator.  The BAT holds one
 * 64-bit entry per payload block, with one sector bitmap entry after every
 * CHUNK_RATIO payload entries.  Headers and region table carry CRC32C.
 *
 * An image whose header names a log (LogGuid not zero) was not closed
 * cleanly: the log is replayed in memory (vhdx-log.c) before anything past
 * the headers is read, and every later read of the file goes through that
 * overlay; the file itself is never written.  Everything is loaded at open
 * and read-only afterwards, so the callbacks are thread-safe. */
#include "disk/disk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "disk/crc32c.h"
#include "disk/hostmap.h"
#include "disk/vhd-common.h"
#include "disk/vhdx-log.h"
#include "util/cleanup.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define VHDX_HEADER_SIZE (4 * KiB)
#define VHDX_REGION_SIZE (64 * KiB)
#define VHDX_HEADER_AREA (1 * MiB) /* identifier, headers, region tables */
#define VHDX_MAX_ENTRIES 2047      /* region table and metadata table */
#define VHDX_MAX_SIZE (64ull << 40)
#define VHDX_MAX_BAT_BYTES (256ull << 20) /* memory we spend on a BAT */
#define VHDX_MAX_LOCATOR (64 * KiB)
#define VHDX_BITMAP_PIECE 4096 /* bitmap bytes read at once */

enum vhdx_block_state {
  PAYLOAD_NOT_PRESENT = 0,
  PAYLOAD_UNDEFINED = 1,
  PAYLOAD_ZERO = 2,
  PAYLOAD_UNMAPPED = 3,
  PAYLOAD_FULLY_PRESENT = 6,
  PAYLOAD_PARTIALLY_PRESENT = 7,
  SB_PRESENT = 6,
};

/* GUIDs as stored on disk (first three fields little-endian). */
static const uint8_t guid_bat[16] = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6,
                                     0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e,
                                     0x9b, 0xfd, 0x4a, 0x08};
static const uint8_t guid_metadata[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47,
                                          0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f,
                                          0x05, 0x0f, 0x88, 0x6e};
static const uint8_t guid_file_params[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa,
                                             0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0,
                                             0xaa, 0x44, 0xe7, 0x6b};
static const uint8_t guid_vdisk_size[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd,
                                            0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe,
                                            0xd8, 0x3b, 0xf4, 0xb8};
static const uint8_t guid_logical_sector[16] = {
    0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
    0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f};
static const uint8_t guid_parent_locator[16] = {
    0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
    0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c};
static const uint8_t guid_locator_type[16] = {
    0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a,
    0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13};

struct vhdx_priv {
  uint64_t *bat;               /* host-endian BAT entries */
  uint64_t bat_entries;        /* entries in BAT */
  uint64_t nblocks;            /* payload blocks covering the virtual size */
  uint64_t chunk_ratio;        /* payload blocks per sector bitmap block */
  uint32_t block_size;         /* bytes per payload block */
  uint32_t sector_size;        /* logical sector size: 512 or 4096 */
  bool has_parent;             /* differencing disk */
  uint8_t data_write_guid[16]; /* current header's DataWriteGuid */
  char linkage[40];            /* parent_linkage value (no braces), or "" */
  char linkage2[40];           /* parent_linkage2 value (no braces), or "" */
  struct ferry_hostmap *holes; /* holes of the file inside present blocks */
  struct ferry_vhdx_log *log;  /* replayed log overlay, or NULL */
  uint64_t file_size;          /* file size after the log replay */
};

#define rd16 ferry_vhd_le16
#define rd32 ferry_vhd_le32
#define rd64 ferry_vhd_le64

/* CRC32C of BUF with the 4-byte checksum field at offset 4 taken as 0. */
static uint32_t
vhdx_crc (const uint8_t *buf, size_t len)
{
  static const uint8_t zero[4];
  uint32_t c;

  c = ferry_crc32c (0, buf, 4);
  c = ferry_crc32c (c, zero, 4);
  return ferry_crc32c (c, buf + 8, len - 8);
}

/* Does BUF's CRC32C match its checksum field?  Fuzzing builds
 * (-DFERRY_FUZZING) accept any, as libpng does, so that mutated inputs
 * reach the parsers behind the check. */
static bool
vhdx_crc_ok (const uint8_t *buf, size_t len)
{
  bool ok = vhdx_crc (buf, len) == rd32 (buf + 4);

#ifdef FERRY_FUZZING
  ok = true;
#endif
  return ok;
}

/* Read LENGTH bytes at file offset OFFSET of the file as the replayed log
 * leaves it (everything past the headers is read this way). */
static int
vhdx_read (struct ferry_disk *disk, void *buf, size_t length, uint64_t offset,
           const char *what, struct ferry_err *err)
{
  struct vhdx_priv *p = disk->priv;

  return ferry_vhdx_log_pread (disk, p->log, buf, length, offset, what, err);
}

/* Format probe: a VHDX starts with the file type identifier "vhdxfile". The
 * tail is not needed. */
static bool
vhdx_probe (const uint8_t *head, size_t len, const uint8_t *tail,
            size_t tail_len)
{
  (void) tail, (void) tail_len;
  return len >= 8 && memcmp (head, "vhdxfile", 8) == 0;
}

/* Do [A, A+ALEN) and [B, B+BLEN) overlap? Used to keep the header, region,
 * metadata and BAT areas apart; empty ranges are not special-cased. */
static bool
do_overlap (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return a < b + blen && b < a + alen;
}

/* Pick the current header: valid (signature, CRC32C, version 1) with the
 * higher sequence number; replay its log, if any, in memory. */
static int
vhdx_read_headers (struct ferry_disk *disk, struct vhdx_priv *p,
                   struct ferry_err *err)
{
  uint8_t h[2][VHDX_HEADER_SIZE];
  const char *why[2];
  int i, best = -1;

  for (i = 0; i < 2; i++) {
    if (ferry_disk_pread_exact (disk, h[i], VHDX_HEADER_SIZE,
                                (uint64_t) (i + 1) * 64 * KiB, "VHDX header",
                                err) < 0)
      return -1;
    why[i] = NULL;
    if (memcmp (h[i], "head", 4) != 0)
      why[i] = "bad signature";
    else if (!vhdx_crc_ok (h[i], VHDX_HEADER_SIZE))
      why[i] = "bad CRC32C checksum";
    else if (rd16 (h[i] + 66) != 1)
      why[i] = "unsupported version";
    if (why[i] == NULL && (best < 0 || rd64 (h[i] + 8) > rd64 (h[best] + 8)))
      best = i;
  }
  if (best < 0)
    return ferry_err_set (err, 0,
                          "'%s': no valid VHDX header (header 1: %s; header "
                          "2: %s)",
                          disk->path, why[0], why[1]);
  if (ferry_vhdx_log_replay (disk, h[best], &p->log, err) < 0)
    return -1;
  p->file_size = ferry_vhdx_log_file_size (disk, p->log);
  memcpy (p->data_write_guid, h[best] + 32, 16);
  memcpy (disk->format_id, "dwg=", 4);
  ferry_vhd_guid_string (p->data_write_guid, disk->format_id + 4);
  return 0;
}

/* Find the BAT and metadata regions in the region table (the second copy
 * is used when the first is damaged). */
static int
vhdx_read_regions (struct ferry_disk *disk, uint64_t *bat_off,
                   uint64_t *bat_len, uint64_t *meta_off, uint64_t *meta_len,
                   struct ferry_err *err)
{
  CLEANUP_FREE uint8_t *rt = NULL;
  const uint8_t *e;
  uint32_t n, i, len;
  uint64_t off;
  char g[37];
  int copy;
  const char *why = NULL;
  uint64_t fsize = ((struct vhdx_priv *) disk->priv)->file_size;

  rt = malloc (VHDX_REGION_SIZE);
  if (rt == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (copy = 0; copy < 2; copy++) {
    if (vhdx_read (disk, rt, VHDX_REGION_SIZE, (uint64_t) (3 + copy) * 64 * KiB,
                   "VHDX region table", err) < 0)
      return -1;
    if (memcmp (rt, "regi", 4) != 0)
      why = "bad signature";
    else if (!vhdx_crc_ok (rt, VHDX_REGION_SIZE))
      why = "bad CRC32C checksum";
    else if (rd32 (rt + 8) > VHDX_MAX_ENTRIES)
      why = "too many entries";
    else
      break;
  }
  if (copy == 2)
    return ferry_err_set (err, 0, "'%s': no valid VHDX region table (%s)",
                          disk->path, why);
  n = rd32 (rt + 8);
  *bat_len = *meta_len = 0;
  for (i = 0; i < n; i++) {
    e = rt + 16 + 32 * i;
    off = rd64 (e + 16);
    len = rd32 (e + 24);
    if (memcmp (e, guid_bat, 16) != 0 && memcmp (e, guid_metadata, 16) != 0) {
      if (rd32 (e + 28) & 1) {
        ferry_vhd_guid_string (e, g);
        return ferry_err_set (err, 0,
                              "'%s': VHDX region table entry %u: unknown "
                              "required region {%s}",
                              disk->path, i, g);
      }
      continue;
    }
    if (off < VHDX_HEADER_AREA || off % MiB != 0 || len == 0 ||
        len % MiB != 0 || off > fsize || len > fsize - off)
      return ferry_err_set (err, 0,
                            "'%s': VHDX region table entry %u (%s): offset "
                            "%llu length %u is misaligned or outside the file",
                            disk->path, i,
                            memcmp (e, guid_bat, 16) == 0 ? "BAT" : "metadata",
                            (unsigned long long) off, len);
    if (memcmp (e, guid_bat, 16) == 0) {
      *bat_off = off;
      *bat_len = len;
    } else {
      *meta_off = off;
      *meta_len = len;
    }
  }
  if (*bat_len == 0 || *meta_len == 0)
    return ferry_err_set (err, 0, "'%s': VHDX region table has no %s region",
                          disk->path, *bat_len == 0 ? "BAT" : "metadata");
  if (do_overlap (*bat_off, *bat_len, *meta_off, *meta_len))
    return ferry_err_set (err, 0, "'%s': VHDX BAT and metadata regions overlap",
                          disk->path);
  return 0;
}

/* Copy a locator value into OUT (a GUID string), dropping braces. */
static void
set_linkage (char *out, size_t outlen, const char *v)
{
  size_t n;

  if (*v == '{')
    v++;
  snprintf (out, outlen, "%s", v);
  n = strlen (out);
  if (n > 0 && out[n - 1] == '}')
    out[n - 1] = '\0';
}

/* Parse the parent locator item (LOC, LEN bytes): parent_linkage and the
 * path entries; set DISK->parent_hint. */
static int
vhdx_parse_locator (struct ferry_disk *disk, struct vhdx_priv *p,
                    const uint8_t *loc, uint32_t len, struct ferry_err *err)
{
  char *rel = NULL, *abs = NULL, *vol = NULL, *key = NULL, *val = NULL;
  const char *cands[3];
  uint32_t n, i, ko, vo, kl, vl;
  const uint8_t *e;
  int r = -1;

  if (len < 20 || memcmp (loc, guid_locator_type, 16) != 0)
    return ferry_err_set (err, 0,
                          "'%s': VHDX parent locator has an unknown locator "
                          "type",
                          disk->path);
  n = rd16 (loc + 18);
  if (n > (len - 20) / 12)
    return ferry_err_set (err, 0,
                          "'%s': VHDX parent locator key-value count %u does "
                          "not fit in the item",
                          disk->path, n);
  for (i = 0; i < n; i++) {
    e = loc + 20 + 12 * i;
    ko = rd32 (e);
    vo = rd32 (e + 4);
    kl = rd16 (e + 8);
    vl = rd16 (e + 10);
    if (ko > len || kl > len - ko || vo > len || vl > len - vo || kl == 0 ||
        vl == 0) {
      ferry_err_set (err, 0,
                     "'%s': VHDX parent locator entry %u points outside the "
                     "locator",
                     disk->path, i);
      goto out;
    }
    key = ferry_vhd_utf16_to_utf8 (loc + ko, kl, false);
    val = ferry_vhd_utf16_to_utf8 (loc + vo, vl, false);
    if (key == NULL || val == NULL) {
      ferry_err_set (err, errno, "cannot allocate memory");
      goto out;
    }
    if (strcmp (key, "parent_linkage") == 0)
      set_linkage (p->linkage, sizeof p->linkage, val);
    else if (strcmp (key, "parent_linkage2") == 0)
      set_linkage (p->linkage2, sizeof p->linkage2, val);
    else if (strcmp (key, "relative_path") == 0 && rel == NULL)
      rel = TAKE_PTR (val);
    else if (strcmp (key, "absolute_win32_path") == 0 && abs == NULL)
      abs = TAKE_PTR (val);
    else if (strcmp (key, "volume_path") == 0 && vol == NULL)
      vol = TAKE_PTR (val);
    free (key);
    free (val);
    key = val = NULL;
  }
  if (p->linkage[0] == '\0') {
    ferry_err_set (err, 0,
                   "'%s': VHDX parent locator has no parent_linkage entry",
                   disk->path);
    goto out;
  }
  cands[0] = rel;
  cands[1] = abs;
  cands[2] = vol;
  {
    static const char *const keys[3] = {"relative_path", "absolute_win32_path",
                                        "volume_path"};
    char id[sizeof p->linkage];
    size_t j;

    disk->parent_names = ferry_vhd_names_text (keys, cands, 3);
    /* the linkage is hostile text: only GUID characters get through */
    for (j = 0; p->linkage[j]; j++)
      id[j] = strchr ("0123456789abcdefABCDEF-", p->linkage[j]) ? p->linkage[j]
                                                                : '?';
    id[j] = '\0';
    snprintf (disk->parent_id, sizeof disk->parent_id,
              "DataWriteGuid {%s} (its parent_linkage)", id);
  }
  disk->parent_hint =
      ferry_vhd_pick_parent (disk->confine, disk->path, cands, 3, err);
  if (disk->parent_hint != NULL)
    r = 0;
out:
  free (key);
  free (val);
  free (rel);
  free (abs);
  free (vol);
  return r;
}

/* Is metadata entry E the item GUID?  1: yes, with length WANT; 0: another
 * item; -1 (ERR set): GUID with the wrong length. */
static int
is_item (struct ferry_disk *disk, const uint8_t *e, uint32_t ilen,
         const uint8_t *guid, uint32_t want, const char *what,
         struct ferry_err *err)
{
  if (memcmp (e, guid, 16) != 0)
    return 0;
  if (ilen != want)
    return ferry_err_set (err, 0,
                          "'%s': VHDX metadata %s item has length %u, "
                          "expected %u",
                          disk->path, what, ilen, want);
  return 1;
}

/* Read the metadata table and the items we need. */
static int
vhdx_read_metadata (struct ferry_disk *disk, struct vhdx_priv *p,
                    uint64_t meta_off, uint64_t meta_len, struct ferry_err *err)
{
  CLEANUP_FREE uint8_t *tab = NULL, *loc = NULL;
  uint8_t item[8];
  bool got_params = false, got_size = false, got_sector = false;
  uint64_t loc_off = 0;
  uint32_t loc_len = 0, n, i, ioff, ilen, flags;
  const uint8_t *e;
  char g[37];
  int r;

  tab = malloc (VHDX_REGION_SIZE);
  if (tab == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (vhdx_read (disk, tab, VHDX_REGION_SIZE, meta_off, "VHDX metadata table",
                 err) < 0)
    return -1;
  if (memcmp (tab, "metadata", 8) != 0)
    return ferry_err_set (
        err, 0, "'%s': VHDX metadata table has a bad signature", disk->path);
  n = rd16 (tab + 10);
  if (n > VHDX_MAX_ENTRIES)
    return ferry_err_set (err, 0,
                          "'%s': VHDX metadata table entry count %u is too "
                          "large",
                          disk->path, n);
  for (i = 0; i < n; i++) {
    e = tab + 32 + 32 * i;
    ioff = rd32 (e + 16);
    ilen = rd32 (e + 20);
    flags = rd32 (e + 24);
    if (ilen > 0 &&
        (ioff < VHDX_REGION_SIZE || ioff > meta_len || ilen > meta_len - ioff))
      return ferry_err_set (err, 0,
                            "'%s': VHDX metadata entry %u: offset %u length "
                            "%u is outside the metadata region",
                            disk->path, i, ioff, ilen);
    if ((r = is_item (disk, e, ilen, guid_file_params, 8, "file parameters",
                      err)) != 0) {
      if (r < 0)
        return -1;
      if (vhdx_read (disk, item, 8, meta_off + ioff, "VHDX file parameters",
                     err) < 0)
        return -1;
      p->block_size = rd32 (item);
      p->has_parent = (rd32 (item + 4) & 2) != 0;
      snprintf (disk->subformat, sizeof disk->subformat, "%s",
                p->has_parent           ? "differencing"
                : (rd32 (item + 4) & 1) ? "fixed"
                                        : "dynamic");
      got_params = true;
    } else if ((r = is_item (disk, e, ilen, guid_vdisk_size, 8,
                             "virtual disk size", err)) != 0) {
      if (r < 0)
        return -1;
      if (vhdx_read (disk, item, 8, meta_off + ioff, "VHDX virtual disk size",
                     err) < 0)
        return -1;
      disk->virtual_size = rd64 (item);
      got_size = true;
    } else if ((r = is_item (disk, e, ilen, guid_logical_sector, 4,
                             "logical sector size", err)) != 0) {
      if (r < 0)
        return -1;
      if (vhdx_read (disk, item, 4, meta_off + ioff, "VHDX logical sector size",
                     err) < 0)
        return -1;
      p->sector_size = rd32 (item);
      got_sector = true;
    } else if (memcmp (e, guid_parent_locator, 16) == 0) {
      loc_off = meta_off + ioff;
      loc_len = ilen;
    } else if (flags & 4) {
      /* unknown required item (the virtual disk id and physical sector
       * size are known and not needed for reading) */
      static const uint8_t known[][16] = {
          {0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45, 0x93, 0xef, 0xc3,
           0x09, 0xe0, 0x00, 0xc7, 0x46},
          {0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44, 0x9c, 0xc9, 0xe9,
           0x88, 0x52, 0x51, 0xc5, 0x56}};
      if (memcmp (e, known[0], 16) != 0 && memcmp (e, known[1], 16) != 0) {
        ferry_vhd_guid_string (e, g);
        return ferry_err_set (err, 0,
                              "'%s': VHDX metadata entry %u: unknown "
                              "required item {%s}",
                              disk->path, i, g);
      }
    }
  }
  if (!got_params || !got_size || !got_sector)
    return ferry_err_set (err, 0, "'%s': VHDX metadata has no %s item",
                          disk->path,
                          !got_params ? "file parameters"
                          : !got_size ? "virtual disk size"
                                      : "logical sector size");
  if (p->block_size < MiB || p->block_size > 256 * MiB ||
      (p->block_size & (p->block_size - 1)) != 0)
    return ferry_err_set (err, 0,
                          "'%s': VHDX file parameters block size %u is not a "
                          "power of two between 1 MiB and 256 MiB",
                          disk->path, p->block_size);
  if (p->sector_size != 512 && p->sector_size != 4096)
    return ferry_err_set (err, 0,
                          "'%s': VHDX logical sector size %u is not 512 or "
                          "4096",
                          disk->path, p->sector_size);
  if (disk->virtual_size == 0 || disk->virtual_size > VHDX_MAX_SIZE ||
      disk->virtual_size % p->sector_size != 0)
    return ferry_err_set (err, 0,
                          "'%s': VHDX virtual disk size %llu is zero, above "
                          "64 TiB or not a multiple of the sector size",
                          disk->path, (unsigned long long) disk->virtual_size);
  if (p->has_parent) {
    if (loc_len == 0)
      return ferry_err_set (err, 0,
                            "'%s': VHDX differencing disk has no parent "
                            "locator",
                            disk->path);
    if (loc_len > VHDX_MAX_LOCATOR)
      return ferry_err_set (err, 0,
                            "'%s': VHDX parent locator length %u is too "
                            "large",
                            disk->path, loc_len);
    loc = malloc (loc_len);
    if (loc == NULL)
      return ferry_err_set (err, errno, "cannot allocate memory");
    if (vhdx_read (disk, loc, loc_len, loc_off, "VHDX parent locator", err) < 0)
      return -1;
    if (vhdx_parse_locator (disk, p, loc, loc_len, err) < 0)
      return -1;
  }
  return 0;
}

/* BAT index of payload block BLK, and of the sector bitmap of its chunk. */
static uint64_t
payload_index (const struct vhdx_priv *p, uint64_t blk)
{
  return blk + blk / p->chunk_ratio;
}

/* BAT index of the sector bitmap entry for payload block BLK: the BAT puts
 * one bitmap entry after every chunk_ratio payload entries. */
static uint64_t
bitmap_index (const struct vhdx_priv *p, uint64_t blk)
{
  return (blk / p->chunk_ratio) * (p->chunk_ratio + 1) + p->chunk_ratio;
}

/* Load the BAT and check every entry: known state, inside the file, not on
 * the headers, BAT or metadata; partially present blocks have a bitmap. */
static int
vhdx_load_bat (struct ferry_disk *disk, struct vhdx_priv *p, uint64_t bat_off,
               uint64_t bat_len, uint64_t meta_off, uint64_t meta_len,
               struct ferry_err *err)
{
  uint64_t nchunks, i, blk, e, off, len, st, start;

  p->chunk_ratio = ((1ull << 23) * p->sector_size) / p->block_size;
  p->nblocks = (disk->virtual_size + p->block_size - 1) / p->block_size;
  nchunks = (p->nblocks + p->chunk_ratio - 1) / p->chunk_ratio;
  p->bat_entries = p->has_parent
                       ? nchunks * (p->chunk_ratio + 1)
                       : p->nblocks + (p->nblocks - 1) / p->chunk_ratio;
  if (p->bat_entries * 8 > bat_len)
    return ferry_err_set (err, 0,
                          "'%s': VHDX BAT region (%llu bytes) is too small "
                          "for %llu entries",
                          disk->path, (unsigned long long) bat_len,
                          (unsigned long long) p->bat_entries);
  if (p->bat_entries * 8 > VHDX_MAX_BAT_BYTES)
    return ferry_err_set (err, 0,
                          "'%s': VHDX BAT of %llu entries is too "
                          "large",
                          disk->path, (unsigned long long) p->bat_entries);
  p->bat = malloc (p->bat_entries * 8);
  if (p->bat == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (vhdx_read (disk, p->bat, p->bat_entries * 8, bat_off, "VHDX BAT", err) <
      0)
    return -1;
  for (i = 0; i < p->bat_entries; i++)
    p->bat[i] = le64toh (p->bat[i]);
  /* sector bitmap entries first: payload checks below rely on them */
  for (i = p->chunk_ratio; i < p->bat_entries; i += p->chunk_ratio + 1)
    if ((p->bat[i] & 7) != 0 && (p->bat[i] & 7) != SB_PRESENT)
      return ferry_err_set (err, 0,
                            "'%s': VHDX BAT entry %llu (sector bitmap) has "
                            "invalid state %llu",
                            disk->path, (unsigned long long) i,
                            (unsigned long long) (p->bat[i] & 7));
  for (i = 0; i < p->bat_entries; i++) {
    e = p->bat[i];
    st = e & 7;
    off = (e >> 20) * MiB;
    if (i % (p->chunk_ratio + 1) == p->chunk_ratio) {
      /* sector bitmap entry (state checked above) */
      if (st != SB_PRESENT || !p->has_parent)
        continue;
      len = MiB;
    } else {
      blk = i - i / (p->chunk_ratio + 1);
      if (st == 4 || st == 5 ||
          (st == PAYLOAD_PARTIALLY_PRESENT && !p->has_parent))
        return ferry_err_set (err, 0,
                              "'%s': VHDX BAT entry %llu (block %llu) has "
                              "invalid state %llu",
                              disk->path, (unsigned long long) i,
                              (unsigned long long) blk,
                              (unsigned long long) st);
      if (st != PAYLOAD_FULLY_PRESENT && st != PAYLOAD_PARTIALLY_PRESENT)
        continue;
      if (st == PAYLOAD_PARTIALLY_PRESENT &&
          (p->bat[bitmap_index (p, blk)] & 7) != SB_PRESENT)
        return ferry_err_set (err, 0,
                              "'%s': VHDX BAT entry %llu (block %llu) is "
                              "partially present but the sector bitmap block "
                              "of its chunk is missing",
                              disk->path, (unsigned long long) i,
                              (unsigned long long) blk);
      start = blk * p->block_size;
      len = disk->virtual_size - start < p->block_size
                ? disk->virtual_size - start
                : p->block_size;
      disk->allocated += len;
    }
    if (off < VHDX_HEADER_AREA || do_overlap (off, len, bat_off, bat_len) ||
        do_overlap (off, len, meta_off, meta_len))
      return ferry_err_set (err, 0,
                            "'%s': VHDX BAT entry %llu (file offset %llu) "
                            "points at the headers, BAT or metadata",
                            disk->path, (unsigned long long) i,
                            (unsigned long long) off);
    if (off > p->file_size || len > p->file_size - off)
      return ferry_err_set (err, 0,
                            "'%s': VHDX BAT entry %llu (file offset %llu) "
                            "points past the end of the file",
                            disk->path, (unsigned long long) i,
                            (unsigned long long) off);
  }
  return 0;
}

/* Open a VHDX: pick the current header, read the region table, the metadata
 * (sizes, parent locator) and the BAT, each step checking the structures
 * against the file before the next trusts them. Return 0, or -1 with ERR
 * set; the half-filled state is freed by vhdx_close, which the disk layer
 * calls on failure. */
static int
vhdx_open (struct ferry_disk *disk, struct ferry_err *err)
{
  uint64_t bat_off = 0, bat_len = 0, meta_off = 0, meta_len = 0;
  struct vhdx_priv *p;

  if (disk->file_size < VHDX_HEADER_AREA)
    return ferry_err_set (err, 0,
                          "'%s': file too short for a VHDX image (%llu "
                          "bytes, truncated?)",
                          disk->path, (unsigned long long) disk->file_size);
  p = calloc (1, sizeof *p);
  if (p == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  disk->priv = p;
  if (vhdx_read_headers (disk, p, err) < 0 ||
      vhdx_read_regions (disk, &bat_off, &bat_len, &meta_off, &meta_len, err) <
          0 ||
      vhdx_read_metadata (disk, p, meta_off, meta_len, err) < 0 ||
      vhdx_load_bat (disk, p, bat_off, bat_len, meta_off, meta_len, err) < 0)
    return -1;
  p->holes = ferry_hostmap_new (disk->fd);
  if (p->holes == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  return 0;
}

/* Status of a stretch inside block BLK from byte BOFF, at most N bytes (N
 * never crosses a bitmap piece): sets *KIND, returns the uniform length or
 * 0 on error. */
static uint64_t
vhdx_block_run (struct ferry_disk *disk, uint64_t blk, uint64_t boff,
                uint64_t n, enum ferry_extent_kind *kind, struct ferry_err *err)
{
  struct vhdx_priv *p = disk->priv;
  enum ferry_extent_kind absent =
      p->has_parent ? FERRY_EXTENT_UNALLOC : FERRY_EXTENT_ZERO;
  uint8_t bm[VHDX_BITMAP_PIECE];
  uint64_t ss = p->sector_size, s0, s1, s, first_byte, nbytes, base;
  bool bit;

  switch (p->bat[payload_index (p, blk)] & 7) {
  case PAYLOAD_ZERO:
    *kind = FERRY_EXTENT_ZERO;
    return n;
  case PAYLOAD_FULLY_PRESENT:
    *kind = FERRY_EXTENT_DATA;
    return n;
  case PAYLOAD_PARTIALLY_PRESENT:
    break;
  default:
    *kind = absent;
    return n;
  }
  /* sector numbers relative to the start of the chunk */
  base = (blk % p->chunk_ratio) * (p->block_size / ss);
  s0 = base + boff / ss;
  s1 = base + (boff + n + ss - 1) / ss;
  first_byte = s0 / 8;
  nbytes = (s1 + 7) / 8 - first_byte;
  if (vhdx_read (disk, bm, nbytes,
                 (p->bat[bitmap_index (p, blk)] >> 20) * MiB + first_byte,
                 "VHDX sector bitmap", err) < 0)
    return 0;
#define VHDX_BIT(sec) ((bm[(sec) / 8 - first_byte] >> ((sec) % 8)) & 1)
  bit = VHDX_BIT (s0);
  for (s = s0 + 1; s < s1 && VHDX_BIT (s) == bit; s++)
    ;
#undef VHDX_BIT
  *kind = bit ? FERRY_EXTENT_DATA : absent;
  s = (s - base) * ss;
  return s - boff < n ? s - boff : n;
}

/* Extents span blocks while the kind stays the same. */
static int
vhdx_block_status (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                   struct ferry_extent *ret, struct ferry_err *err)
{
  struct vhdx_priv *p = disk->priv;
  enum ferry_extent_kind kind = FERRY_EXTENT_LAST, k;
  uint64_t pos = offset, end = offset + length, blk, boff, n, run;
  const uint64_t piece = (uint64_t) VHDX_BITMAP_PIECE * 8 * p->sector_size;

  ret->offset = offset;
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
    run = vhdx_block_run (disk, blk, boff, n, &k, err);
    if (run == 0)
      return -1;
    if (k == FERRY_EXTENT_DATA && p->log == NULL) {
      /* the unwritten parts of a present block read as zeroes (after a
       * log replay the file's holes may hold replayed data: no shortcut) */
      bool data;
      uint64_t h = ferry_hostmap_query (
          p->holes, (p->bat[payload_index (p, blk)] >> 20) * MiB + boff, run,
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

/* Where a DATA range lies in the file: up to the end of OFFSET's block,
 * whose payload is stored as is.  Not after a log replay (the file's bytes
 * are not the disk's there): *LEN = 0, read it with pread. */
static int
vhdx_file_extent (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                  int *fd, uint64_t *foff, uint64_t *len, struct ferry_err *err)
{
  struct vhdx_priv *p = disk->priv;
  uint64_t blk = offset / p->block_size, boff = offset % p->block_size, e;

  *fd = disk->fd;
  *len = 0;
  if (p->log != NULL || blk >= p->nblocks)
    return 0;
  e = p->bat[payload_index (p, blk)];
  if ((e & 7) != PAYLOAD_FULLY_PRESENT && (e & 7) != PAYLOAD_PARTIALLY_PRESENT)
    return 0;
  *foff = (e >> 20) * MiB + boff;
  if (length > p->block_size - boff)
    length = p->block_size - boff;
  if (*foff > disk->file_size || length > disk->file_size - *foff)
    return ferry_err_set (err, 0,
                          "'%s': VHDX data at virtual offset %llu is past the "
                          "end of the file",
                          disk->path, (unsigned long long) offset);
  *len = length;
  return 0;
}

/* Read a DATA range block by block; blocks contiguous in the file are
 * read with one pread. */
static int
vhdx_pread (struct ferry_disk *disk, void *buf, uint64_t length,
            uint64_t offset, struct ferry_err *err)
{
  struct vhdx_priv *p = disk->priv;
  uint8_t *out = buf;
  uint64_t blk, boff, n, e, foff;
  struct ferry_read_run run = {0};

  while (length > 0) {
    blk = offset / p->block_size;
    boff = offset % p->block_size;
    n = p->block_size - boff < length ? p->block_size - boff : length;
    if (blk >= p->nblocks)
      return ferry_err_set (err, 0, "'%s': read at %llu is past the BAT",
                            disk->path, (unsigned long long) offset);
    e = p->bat[payload_index (p, blk)];
    if ((e & 7) != PAYLOAD_FULLY_PRESENT &&
        (e & 7) != PAYLOAD_PARTIALLY_PRESENT) {
      memset (out, 0, n);
    } else {
      foff = (e >> 20) * MiB + boff;
      if (p->log != NULL) {
        if (vhdx_read (disk, out, n, foff, "VHDX payload block", err) < 0)
          return -1;
      } else if (ferry_read_run_add (disk, &run, out, foff, n,
                                     "VHDX payload block", err) < 0)
        return -1;
    }
    out += n;
    offset += n;
    length -= n;
  }
  return ferry_read_run_flush (disk, &run, "VHDX payload block", err);
}

/* The parent's DataWriteGuid must be the child's parent_linkage (or
 * parent_linkage2). */
static int
vhdx_check_parent (struct ferry_disk *disk, struct ferry_disk *parent,
                   struct ferry_err *err)
{
  struct vhdx_priv *p = disk->priv, *pp;
  char got[37];

  if (parent->format != &ferry_format_vhdx)
    return ferry_err_set (err, 0, "'%s': parent '%s' is a %s image, not a VHDX",
                          disk->path, parent->path, parent->format->name);
  pp = parent->priv;
  ferry_vhd_guid_string (pp->data_write_guid, got);
  if (strcasecmp (got, p->linkage) != 0 &&
      (p->linkage2[0] == '\0' || strcasecmp (got, p->linkage2) != 0))
    return ferry_err_set (err, 0,
                          "'%s': parent '%s' has DataWriteGuid {%s} but the "
                          "differencing disk's parent_linkage is {%s} (wrong "
                          "parent, or the parent was written after the "
                          "snapshot)",
                          disk->path, parent->path, got, p->linkage);
  return 0;
}

/* Free the reader state (BAT, hole map) made by vhdx_open; safe on a half-
 * opened disk. */
static void
vhdx_close (struct ferry_disk *disk)
{
  struct vhdx_priv *p = disk->priv;

  if (p == NULL)
    return;
  free (p->bat);
  ferry_hostmap_free (p->holes);
  ferry_vhdx_log_free (p->log);
  free (p);
  disk->priv = NULL;
}

const struct ferry_disk_format ferry_format_vhdx = {
    .name = "vhdx",
    .parent_field = "parent locator",
    .probe = vhdx_probe,
    .open = vhdx_open,
    .block_status = vhdx_block_status,
    .pread = vhdx_pread,
    .file_extent = vhdx_file_extent,
    .check_parent = vhdx_check_parent,
    .close = vhdx_close,
};
