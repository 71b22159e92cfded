/* modules/guest-resize.c: grow the last partition of disk 0 and what it
 * holds to fill the disk, in place (modules/guest.h, docs/guest-resize.md).
 *
 * convert created the target disk at the plan's size_gb; the partition
 * table still describes the source's size.  One function observes and
 * converges: it first works out everything that would change (and refuses
 * what it cannot do, before touching anything), then, with op->apply,
 * makes the changes in this order:
 *
 *   unmount the guest (and deactivate the VG of an LVM last partition)
 *   GPT: move the backup header to the disk's end (part_expand_gpt)
 *   MBR logical: grow the extended partition first
 *   grow the partition (parted resizepart: start, type, flags, GPT GUIDs
 *   and name are kept as they are)
 *   LVM: pvresize, lvresize -l +100%FREE of the root LV (or the largest)
 *   the filesystem: ext2/3/4 (e2fsck -f, resize2fs), xfs (mounted,
 *   xfs_growfs), ntfs (ntfsresize)
 *   mount the guest again as ferry_gfs_mount does
 *
 * "Done" allows slack: a partition ending within 1 MiB of the last usable
 * sector (alignment), a filesystem within 4 MiB of its container. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/guest.h"
#include "util/cleanup.h"
#include "util/log.h"

#define MIB (UINT64_C (1) << 20)
#define PART_SLACK MIB
#define FS_SLACK (4 * MIB)

/* What resize found and what it would change. */
struct rz {
  char disk[64];       /* "/dev/sda" */
  uint64_t bytes;      /* disk size */
  uint64_t ss;         /* sector size */
  bool gpt;            /* else msdos */
  bool gpt_move;       /* the backup GPT header is not at the disk's end */
  int64_t end_sect;    /* where the last partition must end (inclusive) */
  int part;            /* the last partition's number */
  char part_dev[80];   /* "/dev/sda2" */
  uint64_t part_start; /* bytes */
  uint64_t part_size;  /* bytes now */
  uint64_t part_new;   /* bytes after growing */
  bool grow_part;      /* the partition must grow */
  int ext;             /* MBR: the extended partition holding it, or 0 */
  bool grow_ext;       /* the extended partition must grow */
  int ext_id, part_id; /* MBR: their type bytes before (-1: unknown) */
  char *vg;            /* LVM: the VG on the partition, or NULL */
  bool grow_pv;        /* pvresize */
  uint64_t pv_size, pv_new;
  char *lv;     /* the LV that gets the free extents */
  bool grow_lv; /* lvresize */
  uint64_t lv_size, lv_new;
  char *fs_dev;     /* the device the filesystem is on */
  char *fs_type;    /* vfs_type of fs_dev ("" when none) */
  uint64_t fs_size; /* its size now */
  uint64_t fs_new;  /* its container's size after growing */
  bool grow_fs;
};

static void
rz_clear (struct rz *r)
{
  free (r->vg);
  free (r->lv);
  free (r->fs_dev);
  free (r->fs_type);
}

/* "900 MiB", "2.9 GiB" into BUF. */
static const char *
human (uint64_t b, char *buf, size_t len)
{
  if (b >= (UINT64_C (1) << 30))
    snprintf (buf, len, "%.1f GiB", (double) b / (double) (UINT64_C (1) << 30));
  else
    snprintf (buf, len, "%" PRIu64 " MiB", (b + MIB / 2) / MIB);
  return buf;
}

static uint64_t
le (const unsigned char *p, int n)
{
  uint64_t v = 0;

  while (n-- > 0)
    v = (v << 8) | p[n];
  return v;
}

static void
free_strings (char **s)
{
  size_t i;

  for (i = 0; s && s[i]; i++)
    free (s[i]);
  free (s);
}

/* Drop the dashes of an LVM UUID in place (guestfs_pvuuid and
 * guestfs_vgpvuuids print them, the pvs_full struct has none). */
static void
undash (char *s)
{
  char *d = s;

  for (; s && *s; s++)
    if (*s != '-')
      *d++ = *s;
  if (d)
    *d = '\0';
}

/* Read COUNT bytes at OFFSET of DEV (exactly, or an error). */
static unsigned char *
read_dev (guestfs_h *g, const char *dev, size_t count, uint64_t offset,
          struct ferry_err *err)
{
  size_t got = 0;
  char *b = guestfs_pread_device (g, dev, (int) count, (int64_t) offset, &got);

  if (b == NULL) {
    ferry_err_set (err, 0, "resize: reading %s: %s", dev,
                   ferry_gfs_last_error (g));
    return NULL;
  }
  if (got != count) {
    free (b);
    ferry_err_set (err, 0, "resize: short read of %s at %" PRIu64, dev, offset);
    return NULL;
  }
  return (unsigned char *) b;
}

/* The end (exclusive, bytes) of the partitions of R->disk from the
 * partition table itself, so that a disk smaller than its partitions is
 * refused with a clear message before parted is asked (parted refuses such
 * a table with its own words).  Sets R->gpt and, for GPT, R->gpt_move and
 * R->end_sect.  *RET_END 0: no partition table. */
static int
read_table (guestfs_h *g, struct rz *r, uint64_t *ret_end,
            struct ferry_err *err)
{
  CLEANUP_FREE unsigned char *mbr = NULL;
  uint64_t sectors = r->bytes / r->ss, end = 0;
  int i;

  if ((mbr = read_dev (g, r->disk, 512, 0, err)) == NULL)
    return -1;
  if (mbr[510] != 0x55 || mbr[511] != 0xaa) {
    *ret_end = 0;
    return 0;
  }
  for (i = 0; i < 4; i++) {
    const unsigned char *e = mbr + 446 + 16 * i;
    uint64_t start = le (e + 8, 4), n = le (e + 12, 4);
    if (e[4] == 0xee)
      r->gpt = true;
    else if (e[4] != 0 && n > 0 && (start + n) * r->ss > end)
      end = (start + n) * r->ss;
  }
  if (r->gpt) {
    CLEANUP_FREE unsigned char *h = NULL;
    CLEANUP_FREE unsigned char *ents = NULL;
    uint64_t alt, ent_lba, n_ent, ent_size, ent_sects;
    size_t len;

    if ((h = read_dev (g, r->disk, 512, r->ss, err)) == NULL)
      return -1;
    if (memcmp (h, "EFI PART", 8) != 0)
      return ferry_err_set (err, 0,
                            "resize: %s has a protective MBR but no GPT "
                            "header",
                            r->disk);
    alt = le (h + 32, 8);
    ent_lba = le (h + 72, 8);
    n_ent = le (h + 80, 4);
    ent_size = le (h + 84, 4);
    if (ent_size < 128 || ent_size > 4096 || n_ent == 0 || n_ent > 1024 ||
        ent_lba >= sectors)
      return ferry_err_set (err, 0, "resize: %s: implausible GPT header",
                            r->disk);
    len = (size_t) (n_ent * ent_size);
    if ((ents = read_dev (g, r->disk, len, ent_lba * r->ss, err)) == NULL)
      return -1;
    for (i = 0; (uint64_t) i < n_ent; i++) {
      const unsigned char *e = ents + (size_t) i * ent_size;
      static const unsigned char zero[16];
      uint64_t last = le (e + 40, 8);
      if (memcmp (e, zero, 16) != 0 && (last + 1) * r->ss > end)
        end = (last + 1) * r->ss;
    }
    ent_sects = (len + r->ss - 1) / r->ss;
    r->gpt_move = alt != sectors - 1;
    r->end_sect = (int64_t) (sectors - 2 - ent_sects);
  } else
    r->end_sect = (int64_t) (sectors - 1);
  *ret_end = end;
  return 0;
}

/* The last partition (by its end) and, on MBR, the extended partition
 * holding it. */
static int
find_last (guestfs_h *g, struct rz *r, struct ferry_err *err)
{
  struct guestfs_partition_list *pl = guestfs_part_list (g, r->disk);
  uint64_t best = 0;
  size_t i;

  if (pl == NULL)
    return ferry_err_set (err, 0, "resize: listing the partitions of %s: %s",
                          r->disk, ferry_gfs_last_error (g));
  r->part = 0;
  for (i = 0; i < pl->len; i++)
    if (r->part == 0 || pl->val[i].part_end > best) {
      best = pl->val[i].part_end;
      r->part = pl->val[i].part_num;
      r->part_start = pl->val[i].part_start;
      r->part_size = pl->val[i].part_size;
    }
  if (r->part && !r->gpt) {
    CLEANUP_FREE char *kind =
        guestfs_part_get_mbr_part_type (g, r->disk, r->part);
    if (kind && strcmp (kind, "extended") == 0) {
      /* the last logical partition inside it */
      r->ext = r->part;
      r->part = 0;
      for (i = 0; i < pl->len; i++)
        if (pl->val[i].part_num >= 5 &&
            (r->part == 0 || pl->val[i].part_end > best)) {
          best = pl->val[i].part_end;
          r->part = pl->val[i].part_num;
          r->part_start = pl->val[i].part_start;
          r->part_size = pl->val[i].part_size;
        }
      if (r->part == 0) {
        guestfs_free_partition_list (pl);
        return ferry_err_set (err, 0,
                              "resize: the last partition of %s is an "
                              "empty extended partition",
                              r->disk);
      }
    }
  }
  if (r->ext) {
    /* the extended partition's own end */
    for (i = 0; i < pl->len; i++)
      if (pl->val[i].part_num == r->ext)
        r->grow_ext = (uint64_t) (r->end_sect + 1) * r->ss >
                      pl->val[i].part_end + 1 + PART_SLACK;
  }
  guestfs_free_partition_list (pl);
  if (r->part == 0)
    return ferry_err_set (err, 0, "resize: %s has no partition", r->disk);
  /* parted rewrites an extended partition's type as 0x0f: put it back */
  r->ext_id = r->ext ? guestfs_part_get_mbr_id (g, r->disk, r->ext) : -1;
  r->part_id = r->gpt ? -1 : guestfs_part_get_mbr_id (g, r->disk, r->part);
  snprintf (r->part_dev, sizeof r->part_dev, "%s%d", r->disk, r->part);
  r->part_new = (uint64_t) (r->end_sect + 1) * r->ss - r->part_start;
  r->grow_part = r->part_new > r->part_size + PART_SLACK;
  if (!r->grow_part)
    r->part_new = r->part_size;
  return 0;
}

/* The VG on R->part_dev, its PV and the LV to grow: the root LV when it is
 * in this VG, else the largest. */
static int
find_lvm (guestfs_h *g, const struct ferry_guest_info *info, struct rz *r,
          struct ferry_err *err)
{
  CLEANUP_FREE char *pvuuid = guestfs_pvuuid (g, r->part_dev);
  char **vgs = NULL, **lvs = NULL;
  struct guestfs_lvm_pv_list *pvs = NULL;
  struct guestfs_lvm_vg_list *vgl = NULL;
  uint64_t ext = 0, pe_start = 0, gain;
  int64_t pe_count = 0, free_count = 0;
  CLEANUP_FREE char *prefix = NULL;
  CLEANUP_FREE char *root = NULL;
  size_t i, j;
  int rc = -1;

  if (pvuuid == NULL)
    return ferry_err_set (err, 0, "resize: lvm pv %s: %s", r->part_dev,
                          ferry_gfs_last_error (g));
  undash (pvuuid);
  if (strlen (pvuuid) != 32)
    return ferry_err_set (err, 0, "resize: lvm pv %s: odd uuid '%s'",
                          r->part_dev, pvuuid);
  if ((vgs = guestfs_vgs (g)) == NULL)
    goto lvm_err;
  for (i = 0; vgs[i] && r->vg == NULL; i++) {
    char **u = guestfs_vgpvuuids (g, vgs[i]);
    for (j = 0; u && u[j]; j++) {
      undash (u[j]);
      if (strcmp (u[j], pvuuid) == 0)
        r->vg = strdup (vgs[i]);
    }
    free_strings (u);
  }
  if (r->vg == NULL) {
    ferry_err_set (err, 0, "resize: the lvm pv %s is in no volume group",
                   r->part_dev);
    goto out;
  }
  if ((pvs = guestfs_pvs_full (g)) == NULL ||
      (vgl = guestfs_vgs_full (g)) == NULL)
    goto lvm_err;
  for (i = 0; i < pvs->len; i++)
    if (memcmp (pvs->val[i].pv_uuid, pvuuid, 32) == 0) {
      pe_start = pvs->val[i].pe_start;
      pe_count = pvs->val[i].pv_pe_count;
      r->pv_size = pvs->val[i].pv_size;
    }
  for (i = 0; i < vgl->len; i++)
    if (strcmp (vgl->val[i].vg_name, r->vg) == 0) {
      ext = vgl->val[i].vg_extent_size;
      free_count = vgl->val[i].vg_free_count;
    }
  if (ext == 0 || pe_count <= 0) {
    ferry_err_set (err, 0, "resize: no extent size for lvm vg '%s'", r->vg);
    goto out;
  }
  /* pvresize adds the whole extents the partition has room for */
  gain = r->part_new > pe_start ? (r->part_new - pe_start) / ext : 0;
  gain = gain > (uint64_t) pe_count ? gain - (uint64_t) pe_count : 0;
  r->grow_pv = gain > 0;
  r->pv_new = r->pv_size + gain * ext;
  /* the LV: root when it lives here, else the largest */
  if (asprintf (&prefix, "/dev/%s/", r->vg) < 0) {
    ferry_err_set (err, ENOMEM, "resize");
    goto out;
  }
  if (info->root && guestfs_is_lv (g, info->root) > 0)
    root = guestfs_lvm_canonical_lv_name (g, info->root);
  if ((lvs = guestfs_lvs (g)) == NULL)
    goto lvm_err;
  for (i = 0; lvs[i]; i++) {
    int64_t sz;
    if (strncmp (lvs[i], prefix, strlen (prefix)) != 0)
      continue;
    if ((sz = guestfs_blockdev_getsize64 (g, lvs[i])) < 0)
      goto lvm_err;
    if (root && strcmp (root, lvs[i]) == 0) {
      free (r->lv);
      r->lv = strdup (lvs[i]);
      r->lv_size = (uint64_t) sz;
      break;
    }
    if (r->lv == NULL || (uint64_t) sz > r->lv_size) {
      free (r->lv);
      r->lv = strdup (lvs[i]);
      r->lv_size = (uint64_t) sz;
    }
  }
  if (r->lv == NULL) {
    ferry_err_set (err, 0, "resize: lvm vg '%s' has no logical volume", r->vg);
    goto out;
  }
  r->grow_lv = free_count > 0 || gain > 0;
  r->lv_new = r->lv_size + ((uint64_t) free_count + gain) * ext;
  rc = 0;
  goto out;
lvm_err:
  ferry_err_set (err, 0, "resize: lvm on %s: %s", r->part_dev,
                 ferry_gfs_last_error (g));
out:
  free_strings (vgs);
  free_strings (lvs);
  if (pvs)
    guestfs_free_lvm_pv_list (pvs);
  if (vgl)
    guestfs_free_lvm_vg_list (vgl);
  return rc;
}

/* ext2/3/4, xfs, ntfs: the filesystems resize grows. */
static bool
fs_known (const char *t)
{
  return strcmp (t, "ext2") == 0 || strcmp (t, "ext3") == 0 ||
         strcmp (t, "ext4") == 0 || strcmp (t, "xfs") == 0 ||
         strcmp (t, "ntfs") == 0;
}

/* The size of the filesystem on R->fs_dev from its own superblock; 0 for
 * a type resize does not know. */
static int
fs_size (guestfs_h *g, struct rz *r, struct ferry_err *err)
{
  const char *t = r->fs_type;

  r->fs_size = 0;
  if (strcmp (t, "ext2") == 0 || strcmp (t, "ext3") == 0 ||
      strcmp (t, "ext4") == 0) {
    char **kv = guestfs_tune2fs_l (g, r->fs_dev);
    uint64_t count = 0, bs = 0;
    size_t i;
    if (kv == NULL)
      return ferry_err_set (err, 0,
                            "resize: reading the %s superblock of %s: "
                            "%s",
                            t, r->fs_dev, ferry_gfs_last_error (g));
    for (i = 0; kv[i] && kv[i + 1]; i += 2) {
      if (strcmp (kv[i], "Block count") == 0)
        count = strtoull (kv[i + 1], NULL, 10);
      else if (strcmp (kv[i], "Block size") == 0)
        bs = strtoull (kv[i + 1], NULL, 10);
    }
    free_strings (kv);
    r->fs_size = count * bs;
  } else if (strcmp (t, "xfs") == 0) {
    struct guestfs_xfsinfo *x = guestfs_xfs_info (g, r->fs_dev);
    if (x == NULL)
      return ferry_err_set (err, 0, "resize: xfs_info %s: %s", r->fs_dev,
                            ferry_gfs_last_error (g));
    r->fs_size = x->xfs_datablocks * x->xfs_blocksize;
    guestfs_free_xfsinfo (x);
  } else if (strcmp (t, "ntfs") == 0) {
    CLEANUP_FREE unsigned char *b = read_dev (g, r->fs_dev, 512, 0, err);
    if (b == NULL)
      return -1;
    if (memcmp (b + 3, "NTFS    ", 8) != 0)
      return ferry_err_set (err, 0, "resize: %s: no NTFS boot sector",
                            r->fs_dev);
    r->fs_size = le (b + 0x28, 8) * le (b + 0x0b, 2);
  }
  if (r->fs_size == 0 && fs_known (t))
    return ferry_err_set (err, 0, "resize: %s on %s reports no size", t,
                          r->fs_dev);
  return 0;
}

/* Work out everything (no change made). */
static int
survey (struct ferry_guest_op *op, struct rz *r, struct ferry_err *err)
{
  guestfs_h *g = op->g;
  char **devs = guestfs_list_devices (g);
  int64_t sz, ss;
  uint64_t end = 0;
  char a[32], b[32];

  if (devs == NULL || devs[0] == NULL) {
    free_strings (devs);
    return ferry_err_set (err, 0, "resize: the appliance sees no disk: %s",
                          ferry_gfs_last_error (g));
  }
  snprintf (r->disk, sizeof r->disk, "%s", devs[0]);
  free_strings (devs);
  if ((sz = guestfs_blockdev_getsize64 (g, r->disk)) < 0 ||
      (ss = guestfs_blockdev_getss (g, r->disk)) <= 0)
    return ferry_err_set (err, 0, "resize: %s: %s", r->disk,
                          ferry_gfs_last_error (g));
  r->bytes = (uint64_t) sz;
  r->ss = (uint64_t) ss;
  if (op->n_disks > 0 && op->disk_bytes && op->disk_bytes[0] &&
      op->disk_bytes[0] != r->bytes)
    ferry_warn ("resize: disk 0 is %" PRIu64 " bytes, the appliance sees %s "
                "at %" PRIu64,
                op->disk_bytes[0], r->disk, r->bytes);
  if (read_table (g, r, &end, err) < 0)
    return -1;
  if (end == 0)
    return ferry_err_set (err, 0,
                          "resize: disk 0 (%s) has no partition table: "
                          "ferry grows only a partitioned disk",
                          r->disk);
  if (end > (uint64_t) (r->end_sect + 1) * r->ss)
    return ferry_err_set (err, 0,
                          "resize: disk 0 (%s) is %s but its partitions end "
                          "at %s: ferry does not shrink a disk",
                          r->disk, human (r->bytes, a, sizeof a),
                          human (end, b, sizeof b));
  if (find_last (g, r, err) < 0)
    return -1;
  if ((r->fs_type = guestfs_vfs_type (g, r->part_dev)) == NULL)
    r->fs_type = strdup ("");
  if (strcmp (r->fs_type, "LVM2_member") == 0) {
    if (find_lvm (g, op->info, r, err) < 0)
      return -1;
    free (r->fs_type);
    r->fs_dev = strdup (r->lv);
    if ((r->fs_type = guestfs_vfs_type (g, r->fs_dev)) == NULL)
      r->fs_type = strdup ("");
    r->fs_new = r->lv_new;
  } else {
    r->fs_dev = strdup (r->part_dev);
    r->fs_new = r->part_new;
  }
  if (r->fs_dev == NULL || r->fs_type == NULL)
    return ferry_err_set (err, ENOMEM, "resize");
  if (fs_size (g, r, err) < 0)
    return -1;
  if (fs_known (r->fs_type))
    r->grow_fs = r->fs_new > r->fs_size + FS_SLACK;
  else if (r->grow_part || r->grow_lv) {
    if (strcmp (r->fs_type, "swap") == 0)
      return ferry_err_set (err, 0,
                            "resize: the last partition's content (%s) is "
                            "swap: ferry grows only a filesystem there "
                            "(keep size_gb at the source's size, or move "
                            "swap)",
                            r->fs_dev);
    return ferry_err_set (err, 0,
                          "resize: cannot grow '%s' on %s (ferry grows ext2, "
                          "ext3, ext4, xfs and ntfs, directly or in lvm)",
                          r->fs_type[0] ? r->fs_type : "unknown content",
                          r->fs_dev);
  }
  return 0;
}

/* Mount the guest again as ferry_gfs_mount does (clients/guestfs.c). */
static int
remount (struct ferry_guest_op *op, struct ferry_err *err)
{
  const struct ferry_guest_info *info = op->info;
  bool win = strcmp (info->type, "windows") == 0;
  size_t i;
  int r;

  for (i = 0; i < info->n_mounts; i++) {
    const struct ferry_guest_mount *m = &info->mounts[i];
    const char *mp = m->mountpoint;
    if (win) {
      if (strcmp (m->device, info->root) != 0)
        continue;
      mp = "/";
    }
    r = op->apply ? guestfs_mount (op->g, m->device, mp)
                  : guestfs_mount_ro (op->g, m->device, mp);
    if (r < 0)
      return ferry_err_set (err, 0, "resize: mounting %s on %s again: %s",
                            m->device, mp, ferry_gfs_last_error (op->g));
  }
  if (win && info->n_mounts == 0) {
    r = op->apply ? guestfs_mount (op->g, info->root, "/")
                  : guestfs_mount_ro (op->g, info->root, "/");
    if (r < 0)
      return ferry_err_set (err, 0, "resize: mounting %s again: %s", info->root,
                            ferry_gfs_last_error (op->g));
  }
  return 0;
}

/* MBR: give partition N of DISK its type byte ID back when parted changed
 * it (ID -1 or N 0: nothing to do). */
static int
restore_id (guestfs_h *g, const char *disk, int n, int id,
            struct ferry_err *err)
{
  int now;

  if (n <= 0 || id < 0)
    return 0;
  if ((now = guestfs_part_get_mbr_id (g, disk, n)) == id)
    return 0;
  if (now < 0 || guestfs_part_set_mbr_id (g, disk, n, id) < 0)
    return ferry_err_set (err, 0,
                          "resize: restoring the type 0x%02x of %s%d: %s",
                          (unsigned) id, disk, n, ferry_gfs_last_error (g));
  return 0;
}

/* Make the changes survey found, the guest unmounted. */
static int
converge (struct ferry_guest_op *op, struct rz *r, struct ferry_err *err)
{
  guestfs_h *g = op->g;
  char *vgs[2] = {r->vg, NULL};
  const char *t = r->fs_type;

  if (r->vg && (r->gpt_move || r->grow_ext || r->grow_part) &&
      guestfs_vg_activate (g, 0, vgs) < 0)
    return ferry_err_set (err, 0, "resize: deactivating lvm vg '%s': %s", r->vg,
                          ferry_gfs_last_error (g));
  if (r->gpt && r->gpt_move && guestfs_part_expand_gpt (g, r->disk) < 0)
    return ferry_err_set (err, 0, "resize: moving the gpt backup of %s: %s",
                          r->disk, ferry_gfs_last_error (g));
  if (r->grow_ext && guestfs_part_resize (g, r->disk, r->ext, r->end_sect) < 0)
    return ferry_err_set (err, 0,
                          "resize: growing the extended partition %s%d: %s",
                          r->disk, r->ext, ferry_gfs_last_error (g));
  if (r->grow_part &&
      guestfs_part_resize (g, r->disk, r->part, r->end_sect) < 0)
    return ferry_err_set (err, 0, "resize: growing partition %s: %s",
                          r->part_dev, ferry_gfs_last_error (g));
  if (restore_id (g, r->disk, r->ext, r->ext_id, err) < 0 ||
      restore_id (g, r->disk, r->part, r->part_id, err) < 0)
    return -1;
  if (r->vg && (r->gpt_move || r->grow_ext || r->grow_part) &&
      guestfs_vg_activate (g, 1, vgs) < 0)
    return ferry_err_set (err, 0, "resize: activating lvm vg '%s': %s", r->vg,
                          ferry_gfs_last_error (g));
  if (r->grow_pv && guestfs_pvresize (g, r->part_dev) < 0)
    return ferry_err_set (err, 0, "resize: pvresize %s: %s", r->part_dev,
                          ferry_gfs_last_error (g));
  if (r->grow_lv && guestfs_lvresize_free (g, r->lv, 100) < 0)
    return ferry_err_set (err, 0, "resize: lvresize %s: %s", r->lv,
                          ferry_gfs_last_error (g));
  if (!r->grow_fs)
    return 0;
  if (strcmp (t, "xfs") == 0) {
    struct guestfs_xfs_growfs_argv o = {
        .bitmask = GUESTFS_XFS_GROWFS_DATASEC_BITMASK, .datasec = 1};
    if (guestfs_mount (g, r->fs_dev, "/") < 0 ||
        guestfs_xfs_growfs_argv (g, "/", &o) < 0 || guestfs_umount_all (g) < 0)
      return ferry_err_set (err, 0, "resize: xfs_growfs %s: %s", r->fs_dev,
                            ferry_gfs_last_error (g));
  } else if (strcmp (t, "ntfs") == 0) {
    const struct guestfs_ntfsresize_opts_argv no_opts = {.bitmask = 0};
    if (guestfs_ntfsresize_opts_argv (g, r->fs_dev, &no_opts) < 0)
      return ferry_err_set (err, 0, "resize: ntfsresize %s: %s", r->fs_dev,
                            ferry_gfs_last_error (g));
  } else {
    /* resize2fs wants a freshly checked filesystem */
    const struct guestfs_e2fsck_argv correct = {
        .bitmask = GUESTFS_E2FSCK_CORRECT_BITMASK, .correct = 1};
    if (guestfs_e2fsck_argv (g, r->fs_dev, &correct) < 0)
      return ferry_err_set (err, 0, "resize: e2fsck -f %s: %s", r->fs_dev,
                            ferry_gfs_last_error (g));
    if (guestfs_resize2fs (g, r->fs_dev) < 0)
      return ferry_err_set (err, 0, "resize: resize2fs %s: %s", r->fs_dev,
                            ferry_gfs_last_error (g));
  }
  return 0;
}

int
ferry_guest_resize (struct ferry_guest_op *op, struct ferry_changes *ch,
                    struct ferry_err *err)
{
  struct rz r = {0};
  char a[32], b[32];
  int rc = -1;

  if (survey (op, &r, err) < 0)
    goto out;
  if (r.gpt_move)
    ferry_changes_add (ch, "gpt backup header of %s: move to the disk's end",
                       r.disk);
  if (r.grow_ext) {
    ferry_changes_add (ch, "extended partition %s%d: grow to the disk's end",
                       r.disk, r.ext);
  }
  if (r.grow_part)
    ferry_changes_add (ch, "partition %s: %s → %s", r.part_dev,
                       human (r.part_size, a, sizeof a),
                       human (r.part_new, b, sizeof b));
  if (r.grow_pv)
    ferry_changes_add (ch, "lvm pv %s: %s → %s", r.part_dev,
                       human (r.pv_size, a, sizeof a),
                       human (r.pv_new, b, sizeof b));
  if (r.grow_lv)
    ferry_changes_add (ch, "lvm lv %s: %s → %s", r.lv,
                       human (r.lv_size, a, sizeof a),
                       human (r.lv_new, b, sizeof b));
  if (r.grow_fs)
    ferry_changes_add (ch, "%s on %s: %s → %s", r.fs_type, r.fs_dev,
                       human (r.fs_size, a, sizeof a),
                       human (r.fs_new, b, sizeof b));
  if (!op->apply || !(r.gpt_move || r.grow_ext || r.grow_part || r.grow_pv ||
                      r.grow_lv || r.grow_fs)) {
    rc = 0;
    goto out;
  }
  if (guestfs_umount_all (op->g) < 0) {
    ferry_err_set (err, 0, "resize: unmounting the guest: %s",
                   ferry_gfs_last_error (op->g));
    goto out;
  }
  rc = converge (op, &r, err);
  /* mount again even after a failure, so the error is the first one */
  guestfs_umount_all (op->g);
  if (remount (op, err) < 0)
    rc = -1;
out:
  rz_clear (&r);
  return rc;
}
