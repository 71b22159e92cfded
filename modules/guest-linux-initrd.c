/* modules/guest-linux-initrd.c: the file names inside an initramfs, read
 * on the host (ferry_lx_initrd_list).
 *
 * Why on the host: the guest's own lsinitramfs / lsinitrd would have to
 * run inside the appliance with the guest's libraries and decompressors
 * (and a broken or exotic guest makes that fail); an initramfs is a simple
 * format.  It is one or more newc cpio archives back to back, zero-padded:
 * uncompressed ones first (early CPU microcode, sometimes ACPI tables),
 * then one compressed part holding the real archive.  The compressed part
 * is piped through the host's decompressor (gzip, zstd, xz, lz4, bzip2 -
 * every format the kernel can unpack that Debian, RHEL and SUSE use).
 * The initramfs is the guest's, so every header is checked: a bad one
 * is an error, not a crash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modules/guest-linux-util.h"
#include "util/cleanup.h"

#define CPIO_HDR 110
#define CPIO_MAX_NAME 4096

struct names {
  char **v;
  size_t n;
};

/* Append a copy of S to NM (kept NULL-terminated). */
static int
names_add (struct names *nm, const char *s)
{
  char **v = realloc (nm->v, (nm->n + 2) * sizeof *v);

  if (v == NULL)
    return -1;
  nm->v = v;
  v[nm->n] = strdup (s);
  if (v[nm->n] == NULL)
    return -1;
  v[++nm->n] = NULL;
  return 0;
}

/* The 8 hex digits at P (a newc header field), or -1. */
static int
hex8 (const char *p, unsigned long *ret)
{
  unsigned long v = 0;
  int i;

  for (i = 0; i < 8; i++) {
    int c = p[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * 16 + (unsigned long) d;
  }
  *ret = v;
  return 0;
}

/* Discard N bytes of F (a pipe cannot seek). */
static int
skip (FILE *f, unsigned long n)
{
  char buf[8192];

  while (n > 0) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    if (fread (buf, 1, k, f) != k)
      return -1;
    n -= k;
  }
  return 0;
}

/* One cpio archive from F's current position up to and including its
 * TRAILER!!! entry.  0, or -1 with WHY set. */
static int
one_archive (FILE *f, struct names *nm, const char **why)
{
  unsigned long pos = 0;

  for (;;) {
    char hdr[CPIO_HDR], name[CPIO_MAX_NAME + 1];
    unsigned long namesize, filesize;

    if (fread (hdr, 1, CPIO_HDR, f) != CPIO_HDR) {
      *why = "truncated cpio header";
      return -1;
    }
    if (memcmp (hdr, "070701", 6) != 0 && memcmp (hdr, "070702", 6) != 0) {
      *why = "not a newc cpio archive";
      return -1;
    }
    if (hex8 (hdr + 6 + 6 * 8, &filesize) < 0 ||
        hex8 (hdr + 6 + 11 * 8, &namesize) < 0 || namesize == 0 ||
        namesize > CPIO_MAX_NAME) {
      *why = "bad cpio header";
      return -1;
    }
    if (fread (name, 1, namesize, f) != namesize) {
      *why = "truncated cpio name";
      return -1;
    }
    name[namesize] = '\0';
    pos += CPIO_HDR + namesize;
    if (skip (f, (4 - pos % 4) % 4) < 0) {
      *why = "truncated cpio archive";
      return -1;
    }
    pos += (4 - pos % 4) % 4;
    if (strcmp (name, "TRAILER!!!") == 0)
      return 0;
    if (names_add (nm, name[0] == '.' && name[1] == '/' ? name + 2 : name) <
        0) {
      *why = "out of memory";
      return -1;
    }
    if (skip (f, filesize) < 0 || skip (f, (4 - filesize % 4) % 4) < 0) {
      *why = "truncated cpio data";
      return -1;
    }
    pos += filesize + (4 - filesize % 4) % 4;
  }
}

/* Skip zero padding; the first non-zero byte is left unread.  0 at EOF. */
static int
skip_zeros (FILE *f)
{
  int c;

  do
    c = getc (f);
  while (c == 0);
  if (c == EOF)
    return 0;
  ungetc (c, f);
  return 1;
}

/* The decompressor for the magic at the start of BUF (N bytes), or NULL. */
static const char *const *
decompressor (const unsigned char *b, size_t n)
{
  static const char *const gz[] = {"gzip", "-dc", NULL};
  static const char *const zst[] = {"zstd", "-dcq", NULL};
  static const char *const xz[] = {"xz", "-dc", NULL};
  static const char *const lzma[] = {"xz", "-dc", "--format=lzma", NULL};
  static const char *const lz4[] = {"lz4", "-dc", NULL};
  static const char *const bz2[] = {"bzip2", "-dc", NULL};

  if (n >= 2 && b[0] == 0x1f && (b[1] == 0x8b || b[1] == 0x9e))
    return gz;
  if (n >= 4 && memcmp (b, "\x28\xb5\x2f\xfd", 4) == 0)
    return zst;
  if (n >= 6 && memcmp (b,
                        "\xfd"
                        "7zXZ\0",
                        6) == 0)
    return xz;
  if (n >= 3 && memcmp (b, "\x5d\0\0", 3) == 0)
    return lzma;
  if (n >= 4 && memcmp (b, "\x02\x21\x4c\x18", 4) == 0)
    return lz4;
  if (n >= 3 && memcmp (b, "BZh", 3) == 0)
    return bz2;
  return NULL;
}

/* Run CMD with stdin = PATH from offset OFF; parse every archive of its
 * output. */
static int
compressed_part (const char *path, long off, const char *const *cmd,
                 struct names *nm, struct ferry_err *err)
{
  int pfd[2], status;
  pid_t pid;
  FILE *f;
  const char *why = NULL;
  int rc = 0;

  if (pipe (pfd) < 0)
    return ferry_err_set (err, errno, "cannot create a pipe");
  pid = fork ();
  if (pid < 0) {
    close (pfd[0]);
    close (pfd[1]);
    return ferry_err_set (err, errno, "cannot fork");
  }
  if (pid == 0) {
    int in = open (path, O_RDONLY | O_CLOEXEC);
    int nul = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in < 0 || nul < 0 || lseek (in, off, SEEK_SET) != off ||
        dup2 (in, 0) < 0 || dup2 (pfd[1], 1) < 0 || dup2 (nul, 2) < 0)
      _exit (127);
    close (pfd[0]);
    close (pfd[1]);
    execvp (cmd[0], (char *const *) cmd);
    _exit (127);
  }
  close (pfd[1]);
  f = fdopen (pfd[0], "r");
  if (f == NULL) {
    close (pfd[0]);
    rc = ferry_err_set (err, errno, "cannot read from '%s'", cmd[0]);
  } else {
    size_t before = nm->n;
    while (skip_zeros (f) > 0)
      if (one_archive (f, nm, &why) < 0)
        break;
    fclose (f);
    if (why == NULL && nm->n == before)
      why = "empty compressed part";
  }
  /* trailing garbage makes gzip exit 2: the archive decides, not the
   * status; the child may still be writing if we stopped early */
  kill (pid, SIGTERM);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (rc == 0 && why)
    rc = ferry_err_set (err, 0,
                        "cannot list the initramfs (%s part at offset %ld): %s",
                        cmd[0], off, why);
  return rc;
}

/* Walk the parts of the file: uncompressed archives in place, then
 * the compressed part through its decompressor (it is the last one). */
int
ferry_lx_initrd_list (const char *host_path, char ***ret, struct ferry_err *err)
{
  CLEANUP_FCLOSE FILE *f = fopen (host_path, "re");
  struct names nm = {0};
  const char *why = NULL;
  int rc = -1;

  if (f == NULL)
    return ferry_err_set (err, errno, "cannot open '%s'", host_path);
  for (;;) {
    unsigned char magic[6];
    size_t n;
    long off;
    const char *const *cmd;

    if (skip_zeros (f) == 0)
      break;
    off = ftell (f);
    n = fread (magic, 1, sizeof magic, f);
    if (off < 0 || fseek (f, off, SEEK_SET) < 0) {
      ferry_err_set (err, errno, "cannot seek in '%s'", host_path);
      goto out;
    }
    if (n == 6 && memcmp (magic, "07070", 5) == 0) {
      if (one_archive (f, &nm, &why) < 0) {
        ferry_err_set (err, 0, "cannot list the initramfs at offset %ld: %s",
                       off, why);
        goto out;
      }
      continue;
    }
    cmd = decompressor (magic, n);
    if (cmd == NULL) {
      ferry_err_set (
          err, 0, "cannot list the initramfs: unknown data at offset %ld", off);
      goto out;
    }
    if (compressed_part (host_path, off, cmd, &nm, err) < 0)
      goto out;
    break;
  }
  if (nm.v == NULL && (nm.v = calloc (1, sizeof *nm.v)) == NULL) {
    ferry_err_set (err, ENOMEM, "out of memory");
    goto out;
  }
  *ret = nm.v;
  nm.v = NULL;
  rc = 0;
out:
  ferry_lx_strv_free (nm.v);
  return rc;
}
