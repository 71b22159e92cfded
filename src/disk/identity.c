/* Identities of source chains, .part files and targets.
 *
 * The file system is named by statfs's f_fsid rather than st_dev where it
 * has one: st_dev of an NFS or btrfs mount changes across a remount (a
 * reboot), f_fsid comes from the file system itself, and a resume after a
 * reboot is exactly what the identity must survive. */
#include "disk/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"

#define HEAD_BYTES 4096              /* header bytes hashed per member */
#define PART_XATTR "user.ferry.part" /* the .part file's random token */

/* The file system id of the file open on FD (or at PATH when FD < 0). */
static uint64_t
fs_id (int fd, const char *path, const struct stat *st)
{
  struct statfs sfs;
  uint64_t id;
  int r = -1;

  if (fd >= 0)
    r = fstatfs (fd, &sfs);
  else if (path != NULL)
    r = statfs (path, &sfs);
  if (r == 0) {
    memcpy (&id, &sfs.f_fsid,
            sizeof id < sizeof sfs.f_fsid ? sizeof id : sizeof sfs.f_fsid);
    if (id != 0)
      return id;
  }
  return (uint64_t) st->st_dev;
}

/* Write the SHA-256 of CTX as hex into BUF. */
static int
digest_hex (EVP_MD_CTX *ctx, char *buf, size_t len, struct ferry_err *err)
{
  unsigned char md[32];
  unsigned int n = 0, i;

  if (len < FERRY_IDENT_HEX)
    return ferry_err_set (err, EINVAL, "identity buffer too small");
  if (EVP_DigestFinal_ex (ctx, md, &n) != 1 || n != sizeof md)
    return ferry_err_set (err, 0, "cannot compute SHA-256");
  for (i = 0; i < n; i++)
    snprintf (buf + 2 * i, 3, "%02x", md[i]);
  return 0;
}

/* Feed the files holding D's data (VMDK extents: a flat extent changes
 * while its descriptor does not) to the digest. */
static int
hash_data_files (EVP_MD_CTX *ctx, struct ferry_disk *d, struct ferry_err *err)
{
  char line[PATH_MAX + 256];
  const char *f;
  struct stat st;
  size_t i;
  int len;

  for (i = 0; d->format->data_file && (f = d->format->data_file (d, i)); i++) {
    if (stat (f, &st) < 0)
      return ferry_err_set (err, errno, "cannot stat '%s'", f);
    len = snprintf (line, sizeof line,
                    "data %s fs %llx ino %llu size %llu mtime %lld.%09ld\n", f,
                    (unsigned long long) fs_id (-1, f, &st),
                    (unsigned long long) st.st_ino,
                    (unsigned long long) st.st_size,
                    (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (len < 0 || (size_t) len >= sizeof line)
      return ferry_err_set (err, ENAMETOOLONG, "'%s': name too long", f);
    if (EVP_DigestUpdate (ctx, line, (size_t) len) != 1)
      return ferry_err_set (err, 0, "cannot compute SHA-256");
  }
  return 0;
}

/* Feed one chain member to the digest. */
static int
hash_member (EVP_MD_CTX *ctx, struct ferry_disk *d, struct ferry_err *err)
{
  char real[PATH_MAX], line[PATH_MAX + 512];
  unsigned char head[HEAD_BYTES];
  struct stat st;
  ssize_t n = 0;
  int len;

  if (d->fd >= 0) {
    if (fstat (d->fd, &st) < 0)
      return ferry_err_set (err, errno, "cannot stat '%s'", d->path);
    if (realpath (d->path, real) == NULL)
      snprintf (real, sizeof real, "%s", d->path);
    do
      n = pread (d->fd, head, sizeof head, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return ferry_err_set (err, errno, "cannot read '%s'", d->path);
    len = snprintf (line, sizeof line,
                    "member %s\nfs %llx ino %llu size %llu mtime %lld.%09ld\n",
                    real, (unsigned long long) fs_id (d->fd, NULL, &st),
                    (unsigned long long) st.st_ino,
                    (unsigned long long) d->file_size,
                    (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  } else {
    /* rbd: the name and size are all there is without a round trip */
    len = snprintf (line, sizeof line, "member %s\nsize %llu\n", d->path,
                    (unsigned long long) d->virtual_size);
  }
  if (len < 0 || (size_t) len >= sizeof line)
    return ferry_err_set (err, ENAMETOOLONG, "'%s': name too long", d->path);
  if (EVP_DigestUpdate (ctx, line, (size_t) len) != 1)
    return ferry_err_set (err, 0, "cannot compute SHA-256");
  len = snprintf (line, sizeof line, "format %s %s virtual %llu id %s\n",
                  d->format->name, d->subformat,
                  (unsigned long long) d->virtual_size, d->format_id);
  if (EVP_DigestUpdate (ctx, line, (size_t) len) != 1 ||
      (n > 0 && EVP_DigestUpdate (ctx, head, (size_t) n) != 1))
    return ferry_err_set (err, 0, "cannot compute SHA-256");
  return hash_data_files (ctx, d, err);
}

/* See identity.h. */
int
ferry_disk_identity (struct ferry_disk *disk, char *buf, size_t len,
                     struct ferry_err *err)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  struct ferry_disk *d;
  int r = -1;

  if (ctx == NULL || EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) != 1) {
    ferry_err_set (err, 0, "cannot initialise SHA-256");
    goto out;
  }
  EVP_DigestUpdate (ctx, "ferry-source-v1\n", 16);
  for (d = disk; d; d = d->parent)
    if (hash_member (ctx, d, err) < 0)
      goto out;
  r = digest_hex (ctx, buf, len, err);
out:
  EVP_MD_CTX_free (ctx);
  return r;
}

/* See identity.h. */
int
ferry_file_ident_get (const char *path, struct ferry_file_ident *ret)
{
  struct stat st;

  if (stat (path, &st) < 0)
    return -1;
  ret->fsid = fs_id (-1, path, &st);
  ret->ino = (uint64_t) st.st_ino;
  ret->size = (uint64_t) st.st_size;
  ret->mtime = (int64_t) st.st_mtim.tv_sec;
  ret->mtime_ns = st.st_mtim.tv_nsec;
  return 0;
}

/* See identity.h. */
int
ferry_part_identity (const char *path, char *buf, size_t len,
                     struct ferry_err *err)
{
  EVP_MD_CTX *ctx = NULL;
  struct statx stx;
  struct stat st;
  char line[256], token[64] = "";
  ssize_t n;
  int r = -1, k;

  if (stat (path, &st) < 0)
    return ferry_err_set (err, errno, "cannot stat '%s'", path);
  memset (&stx, 0, sizeof stx);
  if (statx (AT_FDCWD, path, 0, STATX_BTIME, &stx) < 0)
    stx.stx_mask = 0;
  n = getxattr (path, PART_XATTR, token, sizeof token - 1);
  if (n < 0)
    n = 0;
  token[n] = '\0';
  k = snprintf (
      line, sizeof line,
      "ferry-part-v1\nfs %llx ino %llu btime %lld.%09u token %s\n",
      (unsigned long long) fs_id (-1, path, &st),
      (unsigned long long) st.st_ino,
      (stx.stx_mask & STATX_BTIME) ? (long long) stx.stx_btime.tv_sec : 0LL,
      (stx.stx_mask & STATX_BTIME) ? stx.stx_btime.tv_nsec : 0u, token);
  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL || EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) != 1 ||
      EVP_DigestUpdate (ctx, line, (size_t) k) != 1) {
    ferry_err_set (err, 0, "cannot compute SHA-256");
    goto out;
  }
  r = digest_hex (ctx, buf, len, err);
out:
  EVP_MD_CTX_free (ctx);
  return r;
}

/* See identity.h. */
void
ferry_part_stamp (const char *path)
{
  unsigned char rnd[16];
  char hex[33];
  size_t i;

  if (RAND_bytes (rnd, sizeof rnd) != 1)
    return;
  for (i = 0; i < sizeof rnd; i++)
    snprintf (hex + 2 * i, 3, "%02x", rnd[i]);
  (void) setxattr (path, PART_XATTR, hex, 32, 0);
}

/* See identity.h. */
int
ferry_disk_check_not_source (struct ferry_disk *src, const char *path,
                             struct ferry_err *err)
{
  struct ferry_disk *d;
  struct stat t, s;
  const char *f;
  size_t i;

  if (stat (path, &t) < 0)
    return 0;
  for (d = src; d; d = d->parent) {
    if (d->fd >= 0 && fstat (d->fd, &s) == 0 && s.st_dev == t.st_dev &&
        s.st_ino == t.st_ino)
      return ferry_err_set (err, 0,
                            "target '%s' is the same file as source '%s': "
                            "writing it would destroy the source",
                            path, d->path);
    for (i = 0; d->format->data_file && (f = d->format->data_file (d, i)); i++)
      if (stat (f, &s) == 0 && s.st_dev == t.st_dev && s.st_ino == t.st_ino)
        return ferry_err_set (err, 0,
                              "target '%s' is the same file as '%s', an "
                              "extent of source '%s': writing it would "
                              "destroy the source",
                              path, f, d->path);
  }
  return 0;
}
