/* ESXi snapshot-delta extents: the vmfsSparse "COWD" header and the
 * seSparse const/volatile headers and 64-bit directory and table entries.
 * Pure functions of the bytes and the file size: they check every field
 * and describe the extent's layout for the grain-table code in vmdk.c.
 *
 * Sources: VMware Virtual Disk Format 1.1 ("ESX Server sparse extents"),
 * and qemu's block/vmdk.c for seSparse, which VMware does not document. */
#include "disk/vmdk.h"

#include <endian.h>
#include <string.h>

#define MAX_GRAIN_SECTORS 16384 /* as for hosted sparse extents */
#define SE_GRAIN_SECTORS 8      /* the only seSparse grain size */
#define SE_GT_SECTORS 64        /* grain table size, sectors */
#define SE_TYPE(v) ((v) >> 60)  /* entry type nibble */
#define SE_GD_ALLOCATED 0x10000000u

/* Read a little-endian 32-bit header field; memcpy because it may be
 * unaligned. */
static uint32_t
get32 (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, 4);
  return le32toh (v);
}

/* Read a little-endian 64-bit header field; memcpy because it may be
 * unaligned. */
static uint64_t
get64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, 8);
  return le64toh (v);
}

/* Do [A, A+ALEN) and [B, B+BLEN) overlap? */
static bool
overlaps (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

/* Grain directory entries needed to cover the layout's capacity. */
static uint64_t
gd_needed (const struct ferry_vmdk_layout *l)
{
  uint64_t grains = (l->capacity + l->grain_size - 1) / l->grain_size;

  return (grains + l->gtes - 1) / l->gtes;
}

/* Check a vmfsSparse (COWD) header in BUF against the file's SIZE and fill
 * RET with its layout: 4-byte grain table entries, grains anywhere after the
 * header. The grain directory must be large enough for the capacity and lie
 * inside the file after the header, so later lookups need no more bounds on
 * it. Return 0, or -1 with ERR naming PATH and the bad field; RET is only
 * written on success. */
int
ferry_vmdk_cowd_layout (const char *path, const uint8_t *buf, uint64_t size,
                        struct ferry_vmdk_layout *ret, struct ferry_err *err)
{
  struct ferry_vmdk_layout l = {0};
  uint32_t version = get32 (buf + 4);
  uint32_t sectors = get32 (buf + 12);
  uint32_t grain = get32 (buf + 16);
  uint32_t gd_offset = get32 (buf + 20);
  uint32_t gd_entries = get32 (buf + 24);

  if (get32 (buf) != FERRY_VMDK_COWD_MAGIC)
    return ferry_err_set (err, 0, "'%s': COWD header: bad magic", path);
  if (version != 1)
    return ferry_err_set (err, 0, "'%s': COWD header: unsupported version %u",
                          path, version);
  if (sectors == 0)
    return ferry_err_set (err, 0, "'%s': COWD header: numSectors is 0", path);
  if (grain == 0 || grain > MAX_GRAIN_SECTORS)
    return ferry_err_set (err, 0, "'%s': COWD header: bad grainSize %u sectors",
                          path, grain);
  l.capacity = sectors;
  l.grain_size = grain;
  l.gtes = FERRY_VMDK_COWD_GTES;
  l.gte_bytes = 4;
  l.header_end = FERRY_VMDK_COWD_HEADER;
  l.nr_gd = gd_needed (&l);
  if (gd_entries < l.nr_gd)
    return ferry_err_set (err, 0,
                          "'%s': COWD header: numGDEntries %u is too small "
                          "for %u sectors (needs %llu)",
                          path, gd_entries, sectors,
                          (unsigned long long) l.nr_gd);
  l.gd_start = (uint64_t) gd_offset * FERRY_VMDK_SECTOR;
  if (l.gd_start < l.header_end || l.gd_start > size ||
      (uint64_t) gd_entries * 4 > size - l.gd_start)
    return ferry_err_set (err, 0,
                          "'%s': COWD header: grain directory (gdOffset %u, "
                          "%u entries) is outside the file or overlaps the "
                          "header",
                          path, gd_offset, gd_entries);
  l.grains_start = l.header_end;
  l.grains_end = size;
  *ret = l;
  return 0;
}

/* One region of a seSparse const header: sector offset and size at
 * OFF_AT/SIZE_AT in BUF, to bytes, overflow-checked. */
static int
se_region (const char *path, const uint8_t *buf, size_t off_at, size_t size_at,
           const char *name, uint64_t *ret_start, uint64_t *ret_end,
           struct ferry_err *err)
{
  uint64_t off = get64 (buf + off_at), len = get64 (buf + size_at);
  const uint64_t max = UINT64_MAX / FERRY_VMDK_SECTOR;

  if (off == 0 || len == 0 || off > max || len > max - off)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: bad %s region (sector "
                          "%llu, %llu sectors)",
                          path, name, (unsigned long long) off,
                          (unsigned long long) len);
  *ret_start = off * FERRY_VMDK_SECTOR;
  *ret_end = (off + len) * FERRY_VMDK_SECTOR;
  return 0;
}

/* Check a seSparse const header in BUF against the file's SIZE and fill RET
 * with its layout. Only the one variant ESXi writes is accepted (version,
 * 8-sector grains, 64-sector grain tables, no flags). Every region (volatile
 * header, grain directory, grain tables, grains) must be inside the file,
 * and grains and grain tables may not overlap any other region, so that no
 * table entry can make metadata read as guest data. Return 0, or -1 with ERR
 * naming PATH and the field; RET is only written on success. */
int
ferry_vmdk_se_layout (const char *path, const uint8_t *buf, uint64_t size,
                      struct ferry_vmdk_layout *ret, struct ferry_err *err)
{
  struct ferry_vmdk_layout l = {0};
  uint64_t version = get64 (buf + 8), capacity = get64 (buf + 16);
  uint64_t grain = get64 (buf + 24), gt_size = get64 (buf + 32);
  uint64_t flags = get64 (buf + 40), gd_end, vol_end;

  if (get64 (buf) != FERRY_VMDK_SE_MAGIC)
    return ferry_err_set (err, 0, "'%s': seSparse header: bad magic", path);
  if (version != FERRY_VMDK_SE_VERSION)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: unsupported version "
                          "0x%llx",
                          path, (unsigned long long) version);
  if (capacity == 0 || capacity > FERRY_VMDK_MAX_SECTORS)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: bad capacity %llu sectors",
                          path, (unsigned long long) capacity);
  if (grain != SE_GRAIN_SECTORS)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: unsupported grain size %llu "
                          "sectors",
                          path, (unsigned long long) grain);
  if (gt_size != SE_GT_SECTORS)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: unsupported grain table "
                          "size %llu sectors",
                          path, (unsigned long long) gt_size);
  if (flags != 0)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: unsupported flags 0x%llx",
                          path, (unsigned long long) flags);
  l.capacity = capacity;
  l.grain_size = grain;
  l.gtes = FERRY_VMDK_SE_GTES;
  l.gte_bytes = 8;
  l.header_end = FERRY_VMDK_SECTOR;
  l.nr_gd = gd_needed (&l);
  if (se_region (path, buf, 80, 88, "volatile header", &l.volatile_off,
                 &vol_end, err) < 0 ||
      se_region (path, buf, 128, 136, "grain directory", &l.gd_start, &gd_end,
                 err) < 0 ||
      se_region (path, buf, 144, 152, "grain tables", &l.gt_start, &l.gt_end,
                 err) < 0 ||
      se_region (path, buf, 192, 200, "grains", &l.grains_start, &l.grains_end,
                 err) < 0)
    return -1;
  if (vol_end - l.volatile_off < FERRY_VMDK_SECTOR || vol_end > size)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: volatile header at byte "
                          "%llu is outside the file",
                          path, (unsigned long long) l.volatile_off);
  if (l.nr_gd > (gd_end - l.gd_start) / 8)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: grain directory of %llu "
                          "bytes is too small for %llu sectors",
                          path, (unsigned long long) (gd_end - l.gd_start),
                          (unsigned long long) capacity);
  if (l.gd_start > size || l.nr_gd * 8 > size - l.gd_start)
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: grain directory (byte %llu, "
                          "%llu entries) is past the end of the file",
                          path, (unsigned long long) l.gd_start,
                          (unsigned long long) l.nr_gd);
  /* grains and grain tables must not overlap each other or the headers
   * and directory, so no entry can make metadata read as data */
  if (overlaps (l.grains_start, l.grains_end - l.grains_start, 0,
                l.header_end) ||
      overlaps (l.grains_start, l.grains_end - l.grains_start, l.volatile_off,
                vol_end - l.volatile_off) ||
      overlaps (l.grains_start, l.grains_end - l.grains_start, l.gd_start,
                gd_end - l.gd_start) ||
      overlaps (l.grains_start, l.grains_end - l.grains_start, l.gt_start,
                l.gt_end - l.gt_start) ||
      overlaps (l.gt_start, l.gt_end - l.gt_start, 0, l.header_end) ||
      overlaps (l.gt_start, l.gt_end - l.gt_start, l.volatile_off,
                vol_end - l.volatile_off) ||
      overlaps (l.gt_start, l.gt_end - l.gt_start, l.gd_start,
                gd_end - l.gd_start) ||
      overlaps (l.gd_start, gd_end - l.gd_start, 0, l.header_end))
    return ferry_err_set (err, 0,
                          "'%s': seSparse header: grain, grain table and "
                          "grain directory regions overlap",
                          path);
  *ret = l;
  return 0;
}

/* Check the seSparse volatile header in BUF: right magic, and no journal
 * waiting to be replayed. An unreplayed journal means the data on disk is
 * not the snapshot's, so it is refused with advice to consolidate on ESXi.
 * Return 0, or -1 with ERR set. */
int
ferry_vmdk_se_check_volatile (const char *path, const uint8_t *buf,
                              struct ferry_err *err)
{
  if (get64 (buf) != FERRY_VMDK_SE_VOLATILE_MAGIC)
    return ferry_err_set (err, 0, "'%s': seSparse volatile header: bad magic",
                          path);
  if (get64 (buf + 24) != 0)
    return ferry_err_set (err, 0,
                          "'%s': seSparse volatile header: the journal needs "
                          "replaying (the snapshot was not closed cleanly; "
                          "consolidate it on ESXi first)",
                          path);
  return 0;
}

/* Decode seSparse grain directory entry I (RAW, as read) into the byte
 * offset of its grain table in *RET, or 0 when unallocated. The entry must
 * carry the allocated marker and index a table inside the grain table
 * region. Return 0, or -1 with ERR set. */
int
ferry_vmdk_se_gd_entry (const char *path, const struct ferry_vmdk_layout *l,
                        uint64_t i, uint64_t raw, uint64_t *ret,
                        struct ferry_err *err)
{
  const uint64_t gt_bytes = (uint64_t) l->gtes * 8;
  uint64_t idx;

  if (raw == 0) {
    *ret = 0;
    return 0;
  }
  idx = raw & 0xffffffffu;
  if ((raw >> 32) != SE_GD_ALLOCATED ||
      idx >= (l->gt_end - l->gt_start) / gt_bytes)
    return ferry_err_set (err, 0,
                          "'%s': seSparse grain directory entry %llu "
                          "(0x%016llx) is not a grain table in the table "
                          "region",
                          path, (unsigned long long) i,
                          (unsigned long long) raw);
  *ret = l->gt_start + idx * gt_bytes;
  return 0;
}

/* Decode seSparse grain table entry RAW for grain G: *RET is 0 for
 * unallocated, 1 for unmapped or zeroed (both read as zeroes; the caller
 * treats 1 as a zero grain), or the grain's sector in the file. An allocated
 * grain's index must fall inside the grain region. Return 0, or -1 with ERR
 * set for any other type or out-of-range index. */
int
ferry_vmdk_se_gte (const char *path, const struct ferry_vmdk_layout *l,
                   uint64_t g, uint64_t raw, uint64_t *ret,
                   struct ferry_err *err)
{
  uint64_t idx;

  switch (SE_TYPE (raw)) {
  case 0: /* unallocated */
    if (raw != 0)
      break;
    *ret = 0;
    return 0;
  case 1: /* unmapped (SCSI UNMAP): reads as zeroes */
  case 2: /* zeroed */
    *ret = 1;
    return 0;
  case 3: /* allocated: grain index, low 12 bits in bits 48..59 */
    idx = ((raw >> 48) & 0xfff) | ((raw & 0xffffffffffffull) << 12);
    if (idx >=
        (l->grains_end - l->grains_start) / (l->grain_size * FERRY_VMDK_SECTOR))
      break;
    *ret = l->grains_start / FERRY_VMDK_SECTOR + idx * l->grain_size;
    return 0;
  default:
    break;
  }
  return ferry_err_set (err, 0,
                        "'%s': seSparse grain table entry for grain %llu "
                        "(0x%016llx) is invalid or outside the grain region",
                        path, (unsigned long long) g, (unsigned long long) raw);
}
