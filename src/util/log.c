#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* Parsed-option style globals: set once by main before threads start. */
static enum ferry_log_level arg_level = FERRY_LOG_INFO;
static FILE *arg_log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warning", "error"};
_Static_assert(sizeof level_names / sizeof level_names[0] == FERRY_LOG_LAST,
               "level_names out of date");

/* Set the lowest level shown on stderr. Not locked: main calls it before any
 * thread starts. */
void
ferry_log_set_level (enum ferry_log_level level)
{
  arg_level = level;
}

/* Open PATH for appending (close-on-exec, line buffered) as the log file.
 * From now on it gets every message at info and above, debug too when the
 * level is debug, whatever is shown on the console. Like the level, set
 * before threads start. Return 0, or -1 with errno set. */
int
ferry_log_open_file (const char *path)
{
  arg_log_file = fopen (path, "ae");
  if (arg_log_file == NULL)
    return -1;
  setvbuf (arg_log_file, NULL, _IOLBF, 0);
  return 0;
}

/* Close the log file, if one is open; later messages go to stderr only. */
void
ferry_log_close_file (void)
{
  if (arg_log_file)
    fclose (arg_log_file);
  arg_log_file = NULL;
}

/* Write one line to stderr (if CONSOLE and at or above the level) and to
 * the log file with an ISO-8601 UTC timestamp. */
static void
vlog (enum ferry_log_level level, bool console, const char *fmt, va_list ap)
{
  char line[2048];
  char stamp[32];
  struct timespec ts;
  struct tm tm;

  vsnprintf (line, sizeof line, fmt, ap);
  pthread_mutex_lock (&log_lock);
  if (console && level >= arg_level)
    fprintf (stderr, "ferry: %s%s%s\n",
             level >= FERRY_LOG_WARN ? level_names[level] : "",
             level >= FERRY_LOG_WARN ? ": " : "", line);
  if (arg_log_file &&
      (level >= FERRY_LOG_INFO || arg_level == FERRY_LOG_DEBUG)) {
    clock_gettime (CLOCK_REALTIME, &ts);
    gmtime_r (&ts.tv_sec, &tm);
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf (arg_log_file, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000,
             level_names[level], line);
  }
  pthread_mutex_unlock (&log_lock);
}

/* Log a printf-style message at LEVEL: to stderr when at or above the set
 * level (prefixed with the level name from warnings up), and to the log
 * file, if any, with a timestamp (see ferry_log_open_file for which levels).
 * Lines are written whole under a lock, so workers' messages do not
 * interleave. */
void
ferry_log (enum ferry_log_level level, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vlog (level, true, fmt, ap);
  va_end (ap);
}

/* For lines the CLI prints itself (step results, the final error): the
 * log file gets them too, so it tells the same story as the terminal. */
void
ferry_log_file_only (enum ferry_log_level level, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vlog (level, false, fmt, ap);
  va_end (ap);
}
