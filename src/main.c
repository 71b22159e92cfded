/* ferry command line: the only place that prints errors and picks exit
 * codes. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/convert.h"
#include "disk/disk.h"
#include "util/err.h"
#include "util/log.h"

static volatile sig_atomic_t arg_stop;

static void
on_signal (int sig)
{
  (void) sig;
  arg_stop = 1;
}

static void
install_signals (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

static int
die_err (const struct ferry_err *err)
{
  fprintf (stderr, "ferry: error: %s\n", err->msg);
  return 1;
}

/* Parse a size with optional K/M/G/T suffix (powers of 1024). */
static int
parse_size (const char *s, uint64_t *ret)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 'T': case 't': v <<= 10; /* fallthrough */
  case 'G': case 'g': v <<= 10; /* fallthrough */
  case 'M': case 'm': v <<= 10; /* fallthrough */
  case 'K': case 'k': v <<= 10; end++; break;
  case '\0': break;
  default: return -1;
  }
  if (*end == 'i' || *end == 'B')
    end++;
  if (*end == 'B')
    end++;
  if (*end)
    return -1;
  *ret = v;
  return 0;
}

struct progress_state {
  bool tty;       /* live line on a TTY */
  double last;    /* last plain-line time */
};

static void
print_progress (void *opaque, const struct ferry_convert_progress *p)
{
  struct progress_state *ps = opaque;
  double pct = p->total ? 100.0 * (double) p->done / (double) p->total : 100;
  double rate = p->elapsed > 0 ? (double) p->done / p->elapsed : 0;
  double eta = rate > 0 ? (double) (p->total - p->done) / rate : 0;

  if (!ps->tty && !p->final && p->elapsed - ps->last < 10)
    return;
  ps->last = p->elapsed;
  fprintf (stderr,
           "%s%5.1f%%  %llu/%llu MiB  read %llu MiB  %.0f MiB/s  ETA %.0fs%s",
           ps->tty ? "\r" : "", pct,
           (unsigned long long) (p->done >> 20),
           (unsigned long long) (p->total >> 20),
           (unsigned long long) (p->data_read >> 20), rate / 1048576.0, eta,
           ps->tty && !p->final ? "  " : "\n");
}

/* ferry convert SRC DST */
static int
cmd_convert (int argc, char **argv)
{
  static const struct option opts[] = {
      {"progress", no_argument, 0, 'p'},
      {"parallel", required_argument, 0, 'j'},
      {"checksum", no_argument, 0, 'c'},
      {"resume-from", required_argument, 0, 'r'},
      {"chunk-size", required_argument, 0, 'C'},
      {"checkpoint-interval", required_argument, 0, 'I'},
      {"direct", no_argument, 0, 'D'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  struct ferry_convert_opts co = {0};
  struct ferry_convert_stats st;
  struct progress_state ps = {0};
  struct ferry_err err = {0};
  bool progress = false;
  char *end;
  unsigned i;
  int c;

  while ((c = getopt_long (argc, argv, "pj:ch", opts, NULL)) != -1) {
    switch (c) {
    case 'p': progress = true; break;
    case 'j':
      co.threads = (unsigned) strtoul (optarg, &end, 10);
      if (*end || co.threads == 0 || co.threads > 64) {
        fprintf (stderr, "ferry: error: --parallel: expected 1..64\n");
        return 1;
      }
      break;
    case 'c': co.checksum = true; break;
    case 'r':
      if (parse_size (optarg, &co.resume_from) < 0) {
        fprintf (stderr, "ferry: error: --resume-from: bad size '%s'\n", optarg);
        return 1;
      }
      break;
    case 'C':
      if (parse_size (optarg, &co.chunk_size) < 0) {
        fprintf (stderr, "ferry: error: --chunk-size: bad size '%s'\n", optarg);
        return 1;
      }
      break;
    case 'I':
      if (parse_size (optarg, &co.checkpoint_interval) < 0) {
        fprintf (stderr, "ferry: error: --checkpoint-interval: bad size '%s'\n",
                 optarg);
        return 1;
      }
      break;
    case 'D': co.direct = true; break;
    case 'h':
      printf ("usage: ferry convert SRC DST [--progress] [--parallel N] "
              "[--checksum]\n"
              "                     [--resume-from OFFSET] [--chunk-size SIZE]"
              " [--checkpoint-interval SIZE] [--direct]\n"
              "Convert SRC (vmdk, vhd, vhdx, qcow2, raw, rbd:POOL/IMAGE@SNAP)"
              " into raw DST (a file or rbd:POOL/IMAGE).\n");
      return 0;
    default: return 1;
    }
  }
  if (argc - optind != 2) {
    fprintf (stderr, "usage: ferry convert SRC DST [options] (see --help)\n");
    return 1;
  }
  if (progress) {
    ps.tty = isatty (2);
    co.progress = print_progress;
    co.opaque = &ps;
  }
  co.stop = &arg_stop;
  install_signals ();
  if (ferry_convert (argv[optind], argv[optind + 1], &co, &st, &err) < 0)
    return die_err (&err);
  if (co.checksum) {
    printf ("sha256 ");
    for (i = 0; i < 32; i++)
      printf ("%02x", st.sha256[i]);
    printf ("  %s\n", argv[optind]);
  }
  ferry_info ("converted %llu bytes (%llu read, %llu written) in %.2fs",
              (unsigned long long) st.virtual_size,
              (unsigned long long) st.data_read,
              (unsigned long long) st.written, st.seconds);
  return 0;
}

/* ferry inspect DISK [--json] */
static int
cmd_inspect (int argc, char **argv)
{
  static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  struct ferry_err err = {0};
  struct ferry_disk *disk, *l;
  struct ferry_map m;
  uint64_t off = 0, alloc = 0;
  bool json = false;
  int c, depth = 0;

  while ((c = getopt_long (argc, argv, "jh", opts, NULL)) != -1) {
    if (c == 'j')
      json = true;
    else if (c == 'h') {
      printf ("usage: ferry inspect DISK [--json]\n");
      return 0;
    } else
      return 1;
  }
  if (argc - optind != 1) {
    fprintf (stderr, "usage: ferry inspect DISK [--json]\n");
    return 1;
  }
  if (ferry_disk_open (argv[optind], &disk, &err) < 0)
    return die_err (&err);
  while (off < disk->virtual_size) {
    if (ferry_disk_map (disk, off, disk->virtual_size - off, &m, &err) < 0) {
      ferry_disk_close (disk);
      return die_err (&err);
    }
    if (!m.zero)
      alloc += m.length;
    off += m.length;
  }
  if (json) {
    printf ("{\"file\": \"%s\", \"format\": \"%s\", \"subformat\": \"%s\", "
            "\"virtual_size\": %llu, \"allocated\": %llu, \"chain\": [",
            disk->path, disk->format->name, disk->subformat,
            (unsigned long long) disk->virtual_size,
            (unsigned long long) alloc);
    for (l = disk; l; l = l->parent)
      printf ("%s{\"file\": \"%s\", \"format\": \"%s\", \"subformat\": "
              "\"%s\", \"virtual_size\": %llu}",
              l == disk ? "" : ", ", l->path, l->format->name, l->subformat,
              (unsigned long long) l->virtual_size);
    printf ("], \"problems\": []}\n");
  } else {
    printf ("file:         %s\nformat:       %s\nsubformat:    %s\n"
            "virtual size: %llu bytes\nallocated:    %llu bytes\n",
            disk->path, disk->format->name, disk->subformat,
            (unsigned long long) disk->virtual_size,
            (unsigned long long) alloc);
    for (l = disk->parent; l; l = l->parent)
      printf ("parent[%d]:    %s (%s %s, %llu bytes)\n", depth++, l->path,
              l->format->name, l->subformat,
              (unsigned long long) l->virtual_size);
  }
  ferry_disk_close (disk);
  return 0;
}

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: ferry [--version] [-v] [--log-file PATH] COMMAND ...\n"
           "commands:\n"
           "  convert SRC DST     convert one disk to raw (file or rbd:)\n"
           "  inspect DISK        show format, size, allocation, chain\n");
}

int
main (int argc, char **argv)
{
  const char *cmd;

  if (argc < 2) {
    usage (stderr);
    return 1;
  }
  cmd = argv[1];
  if (strcmp (cmd, "--version") == 0 || strcmp (cmd, "version") == 0) {
    printf ("ferry %s\n", FERRY_VERSION);
    return 0;
  }
  if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 ||
      strcmp (cmd, "help") == 0) {
    usage (stdout);
    return 0;
  }
  if (strcmp (cmd, "convert") == 0)
    return cmd_convert (argc - 1, argv + 1);
  if (strcmp (cmd, "inspect") == 0)
    return cmd_inspect (argc - 1, argv + 1);
  fprintf (stderr, "ferry: error: unknown command '%s'\n", cmd);
  usage (stderr);
  return 1;
}
