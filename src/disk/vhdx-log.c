/* VHDX log replay, in memory (MS-VHDX 2.3).
 *
 * The log is a ring of 4 KiB sectors at LogOffset (LogLength bytes).  An
 * entry is a header sector ("loge": length, tail, sequence number,
 * descriptor count, LogGuid, FlushedFileOffset, LastFileOffset, CRC32C over
 * the whole entry), the rest of its descriptor sectors (32-byte "desc" data
 * descriptors and "zero" descriptors, each repeating the sequence number)
 * and one "data" sector per data descriptor (sequence number split high/
 * low around 4084 bytes; the first 8 and last 4 bytes of the update are in
 * the descriptor).  The active sequence is found as the specification's
 * scan describes: from each tail, the longest run of valid entries whose
 * sequence numbers follow each other; it is valid when its head entry's
 * tail is one of its entries; the valid run with the highest head sequence
 * number wins.  Its entries, from the head's tail to the head, are applied
 * to an overlay: a sorted list of non-overlapping file ranges that read as
 * data sectors kept in memory or as zeroes.  The file is never written.
 *
 * Everything in the log is hostile: every length, offset and count is
 * checked against the log, the entry and overflow before use, and the
 * overlay is bounded by the log's size (at most VHDX_LOG_MAX bytes). */
#include "disk/vhdx-log.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "disk/crc32c.h"
#include "disk/vhd-common.h"
#include "util/cleanup.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define SECTOR (4 * KiB)
#define VHDX_LOG_MAX (32 * MiB)      /* largest log we replay */
#define VHDX_HEADERS_END (192 * KiB) /* file identifier and both headers */
#define VHDX_FILE_MAX (1ull << 52)   /* no descriptor writes past this */
/* Checksummed bytes the scan may spend: a real log checksums each entry
 * once (about its own size); a hostile one with an entry header in every
 * sector could otherwise make us checksum the whole log per sector. */
#define VHDX_LOG_CRC_BUDGET (8 * VHDX_LOG_MAX)

/* One overlay range: DATA (LEN bytes, from a replayed data sector) or
 * zeroes when DATA is NULL. */
struct seg {
  uint64_t off;        /* file offset */
  uint64_t len;        /* bytes, a multiple of 4 KiB */
  const uint8_t *data; /* the bytes, or NULL for zeroes */
};

struct ferry_vhdx_log {
  uint64_t file_size; /* file size after the replay */
  uint64_t entries;   /* entries replayed */
  struct seg *segs;   /* sorted by off, not overlapping */
  size_t nsegs;       /* entries in segs */
  uint8_t *sectors;   /* the data sectors, reassembled */
};

/* A parsed, valid log entry. */
struct entry {
  uint32_t len;     /* EntryLength */
  uint32_t tail;    /* Tail */
  uint64_t seq;     /* SequenceNumber */
  uint32_t ndesc;   /* DescriptorCount */
  uint32_t ndata;   /* data descriptors among them */
  uint64_t flushed; /* FlushedFileOffset */
  uint64_t last;    /* LastFileOffset */
};

/* The log being scanned: its bytes, and what is known of each sector. */
struct scan {
  const uint8_t *buf;  /* the whole log */
  uint32_t len;        /* its length, a multiple of 1 MiB */
  const uint8_t *guid; /* the header's LogGuid */
  int8_t *state;       /* per sector: 0 unknown, 1 valid entry, -1 not */
  struct entry *info;  /* per sector: the entry when state is 1 */
  uint32_t *at;        /* scratch: log offsets of a run's entries */
  uint64_t crc_bytes;  /* bytes checksummed so far */
  bool over_budget;    /* VHDX_LOG_CRC_BUDGET was reached */
};

/* One update to apply, in log order. */
struct op {
  uint64_t off;        /* file offset */
  uint64_t len;        /* bytes */
  const uint8_t *data; /* 4 KiB, or NULL for zeroes */
};

#define rd32 ferry_vhd_le32
#define rd64 ferry_vhd_le64

/* The 4 KiB sector at log offset OFF (wrapping at the end of the ring). */
static const uint8_t *
sector (const struct scan *s, uint64_t off)
{
  return s->buf + off % s->len;
}

/* Byte I (< EntryLength) of the entry at log offset OFF; I's sector never
 * wraps inside itself, so the 32 bytes of a descriptor are contiguous. */
static const uint8_t *
entry_byte (const struct scan *s, uint64_t off, uint64_t i)
{
  return sector (s, off + i / SECTOR * SECTOR) + i % SECTOR;
}

/* CRC32C of the LEN-byte entry at OFF, its checksum field taken as zero.
 * Fuzzing builds (-DFERRY_FUZZING) accept any, as vhdx.c does. */
static bool
entry_crc_ok (const struct scan *s, uint64_t off, uint32_t len)
{
  static const uint8_t zero[4];
  const uint8_t *first = sector (s, off);
  uint32_t c, i;
  bool ok;

  c = ferry_crc32c (0, first, 4);
  c = ferry_crc32c (c, zero, 4);
  c = ferry_crc32c (c, first + 8, SECTOR - 8);
  for (i = SECTOR; i < len; i += SECTOR)
    c = ferry_crc32c (c, sector (s, off + i), SECTOR);
  ok = c == rd32 (first + 4);
#ifdef FERRY_FUZZING
  ok = true;
#endif
  return ok;
}

/* Check every field of the entry at OFF (a multiple of 4 KiB below the log
 * length): header, descriptors, data sectors, checksum.  True (and *E)
 * when valid. */
static bool
entry_parse (struct scan *s, uint64_t off, struct entry *e)
{
  const uint8_t *h = sector (s, off), *d, *ds;
  uint64_t dsec, i, k = 0;

  if (memcmp (h, "loge", 4) != 0)
    return false;
  e->len = rd32 (h + 8);
  e->tail = rd32 (h + 12);
  e->seq = rd64 (h + 16);
  e->ndesc = rd32 (h + 24);
  e->flushed = rd64 (h + 48);
  e->last = rd64 (h + 56);
  if (e->len == 0 || e->len % SECTOR != 0 || e->len > s->len ||
      e->tail % SECTOR != 0 || e->tail >= s->len || e->seq == 0 ||
      memcmp (h + 32, s->guid, 16) != 0)
    return false;
  dsec = (64 + 32 * (uint64_t) e->ndesc + SECTOR - 1) / SECTOR;
  if (dsec > e->len / SECTOR)
    return false;
  for (i = 0; i < e->ndesc; i++) {
    d = entry_byte (s, off, 64 + 32 * i);
    if (rd64 (d + 24) != e->seq || rd64 (d + 16) % SECTOR != 0)
      return false;
    if (memcmp (d, "zero", 4) == 0) {
      if (rd64 (d + 8) % SECTOR != 0)
        return false;
      continue;
    }
    if (memcmp (d, "desc", 4) != 0)
      return false;
    /* the K-th data descriptor's sector follows the descriptor sectors */
    if (dsec + k >= e->len / SECTOR)
      return false;
    ds = sector (s, off + (dsec + k) * SECTOR);
    if (memcmp (ds, "data", 4) != 0 || rd32 (ds + 4) != (e->seq >> 32) ||
        rd32 (ds + SECTOR - 4) != (uint32_t) e->seq)
      return false;
    k++;
  }
  e->ndata = (uint32_t) k;
  if (e->len > VHDX_LOG_CRC_BUDGET - s->crc_bytes) {
    s->over_budget = true;
    return false;
  }
  s->crc_bytes += e->len;
  return entry_crc_ok (s, off, e->len);
}

/* The entry at log offset OFF, parsed once and remembered. */
static const struct entry *
entry_at (struct scan *s, uint64_t off)
{
  uint64_t i = off / SECTOR;

  if (s->state[i] == 0)
    s->state[i] = entry_parse (s, off, &s->info[i]) ? 1 : -1;
  return s->state[i] > 0 ? &s->info[i] : NULL;
}

/* The active sequence (MS-VHDX 2.3.3): *RET_TAIL is the log offset of its
 * tail entry, *RET_COUNT the entries from there to the head, *RET_HEAD the
 * head entry.  False when there is no valid sequence. */
static bool
find_active (struct scan *s, uint32_t *ret_tail, uint64_t *ret_count,
             struct entry *ret_head)
{
  uint64_t cur_tail = 0, old_tail = 0, pos, total, count, best_seq = 0;
  uint64_t tail_idx, i;
  const struct entry *e, *head;
  bool found = false, valid;
  uint32_t *at = s->at;

  for (;;) {
    /* the longest run of valid, consecutive entries from CUR_TAIL */
    pos = cur_tail;
    total = count = 0;
    head = NULL;
    while ((e = entry_at (s, pos)) != NULL &&
           (head == NULL || e->seq == head->seq + 1) &&
           e->len <= s->len - total) {
      at[count++] = (uint32_t) pos;
      head = e;
      total += e->len;
      pos = (pos + e->len) % s->len;
      if (total == s->len)
        break;
    }
    valid = false;
    tail_idx = 0;
    for (i = 0; head != NULL && i < count; i++)
      if (at[i] == head->tail) {
        valid = true;
        tail_idx = i;
        break;
      }
    if (valid && head->seq > best_seq) {
      best_seq = head->seq;
      *ret_tail = at[tail_idx];
      *ret_count = count - tail_idx;
      *ret_head = *head;
      found = true;
    }
    if (!valid)
      cur_tail = (cur_tail + SECTOR) % s->len;
    else
      cur_tail = pos;
    if (cur_tail <= old_tail)
      break;
    old_tail = cur_tail;
  }
  return found;
}

/* Index of the first of the N sorted values of PTS that is >= V. */
static size_t
lower_bound (const uint64_t *pts, size_t n, uint64_t v)
{
  size_t lo = 0, hi = n, mid;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (pts[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* qsort comparator for file offsets. */
static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

/* Root of I in the "next range not yet owned" forest (path halving). */
static size_t
next_free (size_t *next, size_t i)
{
  while (next[i] != i) {
    next[i] = next[next[i]];
    i = next[i];
  }
  return i;
}

/* Turn the N updates of OPS (in log order) into LOG's sorted, disjoint
 * segments: the elementary ranges between all op boundaries, each owned by
 * the last op that covers it (the ops are visited newest first and each
 * range is given once). */
static int
build_segments (struct ferry_vhdx_log *log, const struct op *ops, size_t n,
                struct ferry_err *err)
{
  CLEANUP_FREE uint64_t *pts = malloc ((2 * n + 1) * sizeof *pts);
  CLEANUP_FREE size_t *next = malloc ((2 * n + 1) * sizeof *next);
  CLEANUP_FREE size_t *owner = malloc ((2 * n + 1) * sizeof *owner);
  size_t m = 0, i, j, k, o;
  struct seg *sg;

  if (pts == NULL || next == NULL || owner == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (i = 0; i < n; i++) {
    pts[m++] = ops[i].off;
    pts[m++] = ops[i].off + ops[i].len;
  }
  qsort (pts, m, sizeof *pts, cmp_u64);
  for (i = j = 0; i < m; i++)
    if (j == 0 || pts[j - 1] != pts[i])
      pts[j++] = pts[i];
  m = j;
  for (i = 0; i < m; i++) {
    next[i] = i;
    owner[i] = SIZE_MAX;
  }
  for (o = n; o-- > 0;) {
    i = lower_bound (pts, m, ops[o].off);
    j = lower_bound (pts, m, ops[o].off + ops[o].len);
    for (k = next_free (next, i); k < j; k = next_free (next, k)) {
      owner[k] = o;
      next[k] = k + 1;
    }
  }
  log->segs = calloc (m ? m : 1, sizeof *log->segs);
  if (log->segs == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (k = 0; k + 1 < m; k++) {
    const struct op *op;

    if (owner[k] == SIZE_MAX)
      continue;
    op = &ops[owner[k]];
    sg = log->nsegs ? &log->segs[log->nsegs - 1] : NULL;
    /* zero ranges that touch merge; a data sector is one op: merge too */
    if (sg && sg->off + sg->len == pts[k] &&
        ((sg->data == NULL && op->data == NULL) ||
         (sg->data != NULL && op->data != NULL &&
          sg->data + sg->len == op->data + (pts[k] - op->off)))) {
      sg->len += pts[k + 1] - pts[k];
      continue;
    }
    sg = &log->segs[log->nsegs++];
    sg->off = pts[k];
    sg->len = pts[k + 1] - pts[k];
    sg->data = op->data ? op->data + (pts[k] - op->off) : NULL;
  }
  return 0;
}

/* Apply the COUNT entries from log offset TAIL (the active sequence) to
 * LOG: collect every descriptor as an op (data sectors reassembled into
 * LOG->sectors), check where it writes, and build the segments. */
static int
replay (struct ferry_disk *disk, struct scan *s, uint64_t log_off,
        uint32_t tail, uint64_t count, struct ferry_vhdx_log *log,
        struct ferry_err *err)
{
  uint64_t pos = tail, c, i, nops = 0, ndata = 0, nsec = 0, dsec, k, end;
  const struct entry *e;
  const uint8_t *d, *ds;
  CLEANUP_FREE struct op *ops = NULL;
  uint8_t *out;

  for (c = 0; c < count; c++) {
    e = entry_at (s, pos);
    nops += e->ndesc;
    ndata += e->ndata;
    pos = (pos + e->len) % s->len;
  }
  ops = calloc (nops ? nops : 1, sizeof *ops);
  log->sectors = malloc (ndata ? ndata * SECTOR : 1);
  if (ops == NULL || log->sectors == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  pos = tail;
  nops = 0;
  for (c = 0; c < count; c++) {
    e = entry_at (s, pos);
    dsec = (64 + 32 * (uint64_t) e->ndesc + SECTOR - 1) / SECTOR;
    for (i = k = 0; i < e->ndesc; i++) {
      d = entry_byte (s, pos, 64 + 32 * i);
      ops[nops].off = rd64 (d + 16);
      if (memcmp (d, "zero", 4) == 0) {
        ops[nops].len = rd64 (d + 8);
        ops[nops].data = NULL;
      } else {
        ds = sector (s, pos + (dsec + k++) * SECTOR);
        out = log->sectors + nsec++ * SECTOR;
        memcpy (out, d + 8, 8);                /* LeadingBytes */
        memcpy (out + 8, ds + 8, SECTOR - 12); /* the data */
        memcpy (out + SECTOR - 4, d + 4, 4);   /* TrailingBytes */
        ops[nops].len = SECTOR;
        ops[nops].data = out;
      }
      end = ops[nops].off + ops[nops].len;
      if (ops[nops].len > VHDX_FILE_MAX || ops[nops].off > VHDX_FILE_MAX ||
          end > VHDX_FILE_MAX)
        return ferry_err_set (err, 0,
                              "'%s': VHDX log entry %llu, descriptor %llu: "
                              "file offset %llu length %llu is beyond any "
                              "VHDX file",
                              disk->path, (unsigned long long) e->seq,
                              (unsigned long long) i,
                              (unsigned long long) ops[nops].off,
                              (unsigned long long) ops[nops].len);
      if (ops[nops].off < VHDX_HEADERS_END ||
          (ops[nops].off < log_off + s->len && log_off < end))
        return ferry_err_set (err, 0,
                              "'%s': VHDX log entry %llu, descriptor %llu "
                              "writes to file offset %llu, inside the "
                              "headers or the log itself",
                              disk->path, (unsigned long long) e->seq,
                              (unsigned long long) i,
                              (unsigned long long) ops[nops].off);
      if (end > log->file_size)
        log->file_size = end;
      if (ops[nops].len > 0)
        nops++;
    }
    pos = (pos + e->len) % s->len;
  }
  log->entries = count;
  return build_segments (log, ops, nops, err);
}

/* Check the header's log fields, read the whole log, find the active
 * sequence and replay it into a new overlay (see vhdx-log.h). */
int
ferry_vhdx_log_replay (struct ferry_disk *disk, const uint8_t *hdr,
                       struct ferry_vhdx_log **ret, struct ferry_err *err)
{
  static const uint8_t zero[16];
  uint16_t version = (uint16_t) (hdr[64] | hdr[65] << 8);
  uint32_t len = rd32 (hdr + 68), tail = 0;
  uint64_t off = rd64 (hdr + 72), count = 0;
  struct entry head;
  struct scan s = {0};
  CLEANUP_FREE uint8_t *buf = NULL;
  CLEANUP_FREE int8_t *state = NULL;
  CLEANUP_FREE struct entry *info = NULL;
  CLEANUP_FREE uint32_t *at = NULL;
  struct ferry_vhdx_log *log;
  bool found;

  *ret = NULL;
  if (memcmp (hdr + 48, zero, 16) == 0 || len == 0)
    return 0;
  if (version != 0)
    return ferry_err_set (err, 0,
                          "'%s': the VHDX log needs replaying but its "
                          "version %u is unknown",
                          disk->path, version);
  if (off < MiB || off % MiB != 0 || len % MiB != 0 || len > VHDX_LOG_MAX ||
      off > disk->file_size || len > disk->file_size - off)
    return ferry_err_set (err, 0,
                          "'%s': the VHDX log needs replaying but its area "
                          "(offset %llu, length %u) is misaligned, larger "
                          "than %llu MiB or outside the file",
                          disk->path, (unsigned long long) off, len,
                          VHDX_LOG_MAX / MiB);
  buf = malloc (len);
  state = calloc (len / SECTOR, sizeof *state);
  info = calloc (len / SECTOR, sizeof *info);
  at = calloc (len / SECTOR, sizeof *at);
  if (buf == NULL || state == NULL || info == NULL || at == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (ferry_disk_pread_exact (disk, buf, len, off, "VHDX log", err) < 0)
    return -1;
  s.buf = buf;
  s.len = len;
  s.guid = hdr + 48;
  s.state = state;
  s.info = info;
  s.at = at;
  found = find_active (&s, &tail, &count, &head);
  if (s.over_budget)
    return ferry_err_set (err, 0,
                          "'%s': the VHDX log needs replaying but scanning "
                          "it would checksum more than %llu MiB (an entry "
                          "header in every sector?)",
                          disk->path, VHDX_LOG_CRC_BUDGET / MiB);
  if (!found)
    return ferry_err_set (err, 0,
                          "'%s': the VHDX header says the log needs "
                          "replaying but the log holds no valid sequence of "
                          "entries (corrupt log)",
                          disk->path);
  if (disk->file_size < head.flushed)
    return ferry_err_set (err, 0,
                          "'%s': the file is truncated: its VHDX log says it "
                          "held at least %llu bytes, it has %llu",
                          disk->path, (unsigned long long) head.flushed,
                          (unsigned long long) disk->file_size);
  if (head.last > VHDX_FILE_MAX)
    return ferry_err_set (err, 0,
                          "'%s': VHDX log entry %llu: LastFileOffset %llu is "
                          "beyond any VHDX file",
                          disk->path, (unsigned long long) head.seq,
                          (unsigned long long) head.last);
  log = calloc (1, sizeof *log);
  if (log == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  log->file_size = disk->file_size;
  if (head.last > log->file_size)
    log->file_size = head.last;
  if (replay (disk, &s, off, tail, count, log, err) < 0) {
    ferry_vhdx_log_free (log);
    return -1;
  }
  *ret = log;
  return 0;
}

/* The file's bytes (zeroes past its end), then the overlay's segments
 * that meet the range on top. */
int
ferry_vhdx_log_pread (struct ferry_disk *disk, const struct ferry_vhdx_log *log,
                      void *buf, size_t length, uint64_t offset,
                      const char *what, struct ferry_err *err)
{
  uint8_t *out = buf;
  uint64_t end = offset + length, from, to, real;
  size_t lo, hi, mid;
  const struct seg *sg;

  if (log == NULL)
    return ferry_disk_pread_exact (disk, buf, length, offset, what, err);
  if (offset > log->file_size || length > log->file_size - offset)
    return ferry_err_set (err, 0,
                          "'%s': %s at offset %llu (%zu bytes) is past the "
                          "end of the file (%llu bytes after the log replay)",
                          disk->path, what, (unsigned long long) offset, length,
                          (unsigned long long) log->file_size);
  /* the file's own bytes, zeroes where the replay extended it */
  real = offset < disk->file_size ? disk->file_size - offset : 0;
  if (real > length)
    real = length;
  if (real > 0 &&
      ferry_disk_pread_exact (disk, out, real, offset, what, err) < 0)
    return -1;
  memset (out + real, 0, length - real);
  /* the first segment ending after OFFSET, then every one overlapping */
  lo = 0;
  hi = log->nsegs;
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (log->segs[mid].off + log->segs[mid].len <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (sg = log->segs + lo; sg < log->segs + log->nsegs && sg->off < end;
       sg++) {
    from = sg->off > offset ? sg->off : offset;
    to = sg->off + sg->len < end ? sg->off + sg->len : end;
    if (sg->data)
      memcpy (out + (from - offset), sg->data + (from - sg->off), to - from);
    else
      memset (out + (from - offset), 0, to - from);
  }
  return 0;
}

/* The size the replay gave the file. */
uint64_t
ferry_vhdx_log_file_size (const struct ferry_disk *disk,
                          const struct ferry_vhdx_log *log)
{
  return log ? log->file_size : disk->file_size;
}

/* Entries of the active sequence. */
uint64_t
ferry_vhdx_log_entries (const struct ferry_vhdx_log *log)
{
  return log ? log->entries : 0;
}

/* Free the segments, the data sectors and the overlay. */
void
ferry_vhdx_log_free (struct ferry_vhdx_log *log)
{
  if (log == NULL)
    return;
  free (log->segs);
  free (log->sectors);
  free (log);
}
