/* Helpers every command shares: signals, error printing, getopt over a
 * command's option table, size/count option parsers, --target. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/cleanup.h"
#include "util/log.h"

volatile sig_atomic_t ferry_arg_stop;

/* SIGINT/SIGTERM: ask running work to stop at the next chunk. */
static void
on_signal (int sig)
{
  (void) sig;
  ferry_arg_stop = 1;
}

/* Install the stop handler for the commands that do long work. */
void
ferry_install_signals (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

/* The one reporting path: what the user reads on the terminal, the log
 * file (--log-file) reads too. */
void
ferry_say (FILE *out, enum ferry_log_level level, const char *fmt, ...)
{
  char line[4096];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  fprintf (out, "%s\n", line);
  ferry_log_file_only (level, "%s", line);
}

/* "ferry: error: MSG" on stderr, and in the log file. */
void
ferry_error (const char *fmt, ...)
{
  char line[4096];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  fprintf (stderr, "ferry: error: %s\n", line);
  ferry_log_file_only (FERRY_LOG_ERROR, "%s", line);
}

/* The one way an error object reaches the user. */
int
ferry_die_err (const struct ferry_err *err)
{
  ferry_error ("%s", err->msg);
  return FERRY_EXIT_ERROR;
}

/* Build getopt's tables from CMD's option rows (plus --help) and return
 * the next option.  The tables are rebuilt on each call: one command runs
 * per process and the rows are few. */
int
ferry_cmd_getopt (const struct ferry_command *cmd, int argc, char **argv)
{
  static struct option longopts[64];
  static char shortopts[2 * 64 + 2];
  const struct ferry_option *o;
  size_t n = 0, s = 0;

  for (o = cmd->options; o && o->name; o++) {
    if (n + 2 >= FERRY_ARRAY_SIZE (longopts))
      break;
    longopts[n].name = o->name;
    longopts[n].has_arg = o->arg ? required_argument : no_argument;
    longopts[n].flag = NULL;
    longopts[n].val = o->key;
    n++;
    if (o->key > 0 && o->key < FERRY_OPT_LONG) {
      shortopts[s++] = (char) o->key;
      if (o->arg)
        shortopts[s++] = ':';
    }
  }
  longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
  longopts[n] = (struct option){NULL, 0, NULL, 0};
  shortopts[s++] = 'h';
  shortopts[s] = '\0';
  return getopt_long (argc, argv, shortopts, longopts, NULL);
}

/* Wrong number of arguments. */
int
ferry_cmd_usage_error (const struct ferry_command *cmd)
{
  fprintf (stderr, "usage: ferry %s %s%s (see --help)\n", cmd->name, cmd->usage,
           ferry_command_has_options (cmd) ? " [options]" : "");
  return FERRY_EXIT_ERROR;
}

/* Parse a decimal size into *RET: an optional K, M, G or T (either case)
 * multiplies by 1024 per step, and "i", "B" or "iB" may follow ("4M",
 * "4MiB", "4MB"); a "B" without a multiplier, a sign, trailing bytes
 * ("10KBB") and a size past 2^64 - 1 are refused.  0, or -1 for anything
 * else; *RET is untouched then. */
int
ferry_parse_size (const char *s, uint64_t *ret)
{
  char *end;
  unsigned long long v;
  unsigned shift = 0;

  /* strtoull takes "-1" and wraps it: only digits may start a size */
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 'T':
  case 't':
    shift = 40;
    break;
  case 'G':
  case 'g':
    shift = 30;
    break;
  case 'M':
  case 'm':
    shift = 20;
    break;
  case 'K':
  case 'k':
    shift = 10;
    break;
  case '\0':
    break;
  default:
    return -1;
  }
  if (shift) {
    if (v > (UINT64_MAX >> shift))
      return -1; /* would wrap */
    v <<= shift;
    end++;
    /* K, KB, KiB (and the same for M, G, T) */
    if (*end == 'i')
      end++;
    if (*end == 'B')
      end++;
  }
  if (*end)
    return -1;
  *ret = v;
  return 0;
}

/* Parse a size option (see ferry_parse_size) of at least MIN. */
int
ferry_opt_size (const char *name, const char *arg, uint64_t min, uint64_t *ret)
{
  if (ferry_parse_size (arg, ret) < 0 || *ret < min) {
    ferry_error ("--%s: bad size '%s'", name, arg);
    return -1;
  }
  return 0;
}

/* Parse a count option in 1..MAX. */
int
ferry_opt_count (const char *name, const char *arg, unsigned max, unsigned *ret)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul (arg, &end, 10);
  if (errno || *end || end == arg || v == 0 || v > max) {
    ferry_error ("--%s: expected 1..%u", name, max);
    return -1;
  }
  *ret = (unsigned) v;
  return 0;
}

/* Remember one --target VM (the run helper resolves them). */
int
ferry_targets_add (struct ferry_targets *t, char *vm)
{
  if (t->n == FERRY_ARRAY_SIZE (t->v)) {
    ferry_error ("too many --target options");
    return -1;
  }
  t->v[t->n++] = vm;
  return 0;
}

/* --phase NAME: see cmd.h. */
int
ferry_targets_phase (struct ferry_targets *t, const char *name)
{
  int p = ferry_phase_from_name (name);

  if (p < 0) {
    ferry_error ("--phase '%s': expected 'precopy', 'cutover' or 'default'",
                 name);
    return -1;
  }
  t->phase = (enum ferry_phase) p;
  return 0;
}

/* A test hook: see cmd.h. */
void
ferry_test_gate (const char *var)
{
  const char *gate = getenv (var);
  const struct timespec ten_ms = {0, 10 * 1000 * 1000};
  char mark[4096];
  FILE *f;
  int i;

  if (gate == NULL || *gate == '\0')
    return;
  snprintf (mark, sizeof mark, "%s.%d", gate, (int) getpid ());
  f = fopen (mark, "w");
  if (f)
    fclose (f);
  for (i = 0; i < 6000 && access (gate, F_OK) < 0; i++)
    nanosleep (&ten_ms, NULL);
}
