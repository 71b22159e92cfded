/*
 * tests/guest/mkhive.c - write a minimal, valid, empty Windows registry hive
 * ("regf").
 *
 * hivex can edit hives but cannot create one from nothing; this writes the
 * smallest file hivex (and Windows) accept: a 4 KiB base block + one 4 KiB
 * hbin holding the root key (nk), its security descriptor (sk) and one free
 * cell.  Fill it afterwards with `hivexregedit --merge --prefix ...`.
 *
 * Build:  cc -O2 -Wall -o mkhive mkhive.c
 * Usage:  mkhive OUTFILE [ROOTNAME]      (ROOTNAME defaults to "ROOT")
 *
 * Format notes (all integers little endian; "offset" = relative to 0x1000,
 * i.e. the start of the first hbin, pointing at a cell's 4-byte size):
 *   base block 0x000 "regf", 0x004/0x008 sequence numbers (equal = clean),
 *     0x00c FILETIME, 0x014 major=1, 0x018 minor=5, 0x01c type=0 (primary),
 *     0x020 format=1, 0x024 root nk offset, 0x028 total hbin bytes,
 *     0x02c cluster=1, 0x030 file name (UTF-16LE, 64 bytes),
 *     0x1fc checksum = XOR of the 127 dwords before it.
 *   hbin: "hbin", offset of this hbin, size (multiple of 4096), FILETIME.
 *   cells: int32 size (negative = allocated, multiple of 8) + payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BASE 0x1000 /* size of the base block */
#define HBIN 0x1000 /* size of our single hbin */
#define NK_OFF 0x20 /* first cell follows the 32-byte hbin header */

static uint8_t f[BASE + HBIN];

static void
put16 (size_t o, uint16_t v)
{
  f[o] = v;
  f[o + 1] = v >> 8;
}
static void
put32 (size_t o, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    f[o + i] = v >> (8 * i);
}
static void
put64 (size_t o, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    f[o + i] = v >> (8 * i);
}
static size_t
align8 (size_t n)
{
  return (n + 7) & ~(size_t) 7;
}

/* Append a SID (revision 1, 48-bit authority, n sub-authorities) at o. */
static size_t
put_sid (size_t o, uint8_t auth, int n, const uint32_t *sub)
{
  f[o] = 1;
  f[o + 1] = n;
  memset (&f[o + 2], 0, 6);
  f[o + 7] = auth; /* authority is big endian; ours fit one byte */
  for (int i = 0; i < n; i++)
    put32 (o + 8 + 4 * i, sub[i]);
  return 8 + 4 * n;
}

/* Append an ACCESS_ALLOWED_ACE (inherited by subkeys) at o. */
static size_t
put_ace (size_t o, uint32_t mask, uint8_t auth, int n, const uint32_t *sub)
{
  size_t len = 8 + put_sid (o + 8, auth, n, sub);
  f[o] = 0;        /* ACCESS_ALLOWED_ACE_TYPE */
  f[o + 1] = 0x02; /* CONTAINER_INHERIT_ACE */
  put16 (o + 2, len);
  put32 (o + 4, mask);
  return len;
}

/* Self-relative security descriptor at o: owner Administrators, group
 * SYSTEM, DACL {Administrators: full, SYSTEM: full, Everyone: read}. */
static size_t
put_sd (size_t o)
{
  static const uint32_t admins[] = {32, 544}, system_[] = {18}, world[] = {0};
  size_t acl = o + 20, p = acl + 8;
  p += put_ace (p, 0xF003F, 5, 2, admins); /* KEY_ALL_ACCESS */
  p += put_ace (p, 0xF003F, 5, 1, system_);
  p += put_ace (p, 0x20019, 1, 1, world); /* KEY_READ */
  f[acl] = 2;                             /* ACL_REVISION */
  put16 (acl + 2, p - acl);
  put16 (acl + 4, 3); /* ACE count */
  size_t owner = p;
  p += put_sid (p, 5, 2, admins);
  size_t group = p;
  p += put_sid (p, 5, 1, system_);
  f[o] = 1;              /* revision */
  put16 (o + 2, 0x8004); /* SE_SELF_RELATIVE|SE_DACL_PRESENT */
  put32 (o + 4, owner - o);
  put32 (o + 8, group - o);
  put32 (o + 12, 0); /* no SACL */
  put32 (o + 16, acl - o);
  return p - o;
}

int
main (int argc, char **argv)
{
  if (argc < 2 || argc > 3) {
    fprintf (stderr, "usage: %s OUTFILE [ROOTNAME]\n", argv[0]);
    return 2;
  }
  const char *root = argc == 3 ? argv[2] : "ROOT";
  size_t rlen = strlen (root);
  if (rlen == 0 || rlen > 255) {
    fprintf (stderr, "mkhive: bad root name\n");
    return 2;
  }
  /* FILETIME: 100 ns ticks since 1601-01-01. */
  uint64_t ft = ((uint64_t) time (NULL) + 11644473600ULL) * 10000000ULL;

  /* --- hbin header --- */
  size_t h = BASE;
  memcpy (&f[h], "hbin", 4);
  put32 (h + 4, 0); /* offset of this hbin */
  put32 (h + 8, HBIN);
  put64 (h + 0x14, ft);

  /* --- root nk cell --- */
  size_t nk_len = align8 (4 + 0x4c + rlen);
  size_t sk_off = NK_OFF + nk_len;
  size_t n = h + NK_OFF;
  put32 (n, -(int32_t) nk_len);
  memcpy (&f[n + 4], "nk", 2);
  put16 (n + 6, 0x2c); /* COMP_NAME | HIVE_ENTRY (root) | NO_DELETE */
  put64 (n + 8, ft);
  put32 (n + 0x14, 0xffffffff); /* parent: none */
  put32 (n + 0x18, 0);          /* subkeys */
  put32 (n + 0x1c, 0);          /* volatile subkeys */
  put32 (n + 0x20, 0xffffffff); /* subkey list */
  put32 (n + 0x24, 0xffffffff); /* volatile subkey list */
  put32 (n + 0x28, 0);          /* values */
  put32 (n + 0x2c, 0xffffffff); /* value list */
  put32 (n + 0x30, sk_off);     /* security */
  put32 (n + 0x34, 0xffffffff); /* class name */
  put16 (n + 0x4c, rlen);       /* name length (ASCII because COMP_NAME) */
  memcpy (&f[n + 0x50], root, rlen);

  /* --- sk cell: a one-element circular list with refcount 1 --- */
  size_t s = h + sk_off;
  size_t sd_len = put_sd (s + 24);
  size_t sk_len = align8 (24 + sd_len);
  put32 (s, -(int32_t) sk_len);
  memcpy (&f[s + 4], "sk", 2);
  put32 (s + 8, sk_off);  /* next */
  put32 (s + 12, sk_off); /* prev */
  put32 (s + 16, 1);      /* refcount */
  put32 (s + 20, sd_len);

  /* --- the rest of the hbin is one free cell (positive size) --- */
  size_t free_off = sk_off + sk_len;
  put32 (h + free_off, HBIN - free_off);

  /* --- base block --- */
  memcpy (&f[0], "regf", 4);
  put32 (4, 1);
  put32 (8, 1);
  put64 (0x0c, ft);
  put32 (0x14, 1);      /* major */
  put32 (0x18, 5);      /* minor (XP and later) */
  put32 (0x1c, 0);      /* primary file */
  put32 (0x20, 1);      /* direct memory load */
  put32 (0x24, NK_OFF); /* root key */
  put32 (0x28, HBIN);   /* bytes of hbins */
  put32 (0x2c, 1);
  const char *base =
      strrchr (argv[1], '/') ? strrchr (argv[1], '/') + 1 : argv[1];
  for (size_t i = 0; i < 31 && base[i]; i++)
    put16 (0x30 + 2 * i, (uint8_t) base[i]);
  uint32_t sum = 0;
  for (size_t o = 0; o < 0x1fc; o += 4)
    sum ^= f[o] | f[o + 1] << 8 | f[o + 2] << 16 | (uint32_t) f[o + 3] << 24;
  put32 (0x1fc, sum);

  FILE *out = fopen (argv[1], "wb");
  if (!out || fwrite (f, 1, sizeof f, out) != sizeof f || fclose (out) != 0) {
    perror (argv[1]);
    return 1;
  }
  return 0;
}
