/* Logging: stderr and an optional --log-file with timestamps.  Never pass a
 * secret to these functions. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>

enum ferry_log_level {
  FERRY_LOG_DEBUG,
  FERRY_LOG_INFO,
  FERRY_LOG_WARN,
  FERRY_LOG_ERROR,
  FERRY_LOG_LAST
};

/* Set the threshold for stderr (file always gets INFO and up, DEBUG with -v).
 */
void ferry_log_set_level (enum ferry_log_level level);
/* Open PATH for appending; returns -1 with errno set on failure. */
int ferry_log_open_file (const char *path);
void ferry_log_close_file (void);
void ferry_log (enum ferry_log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* The same line to the log file only (the caller printed it already). */
void ferry_log_file_only (enum ferry_log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define ferry_debug(...) ferry_log (FERRY_LOG_DEBUG, __VA_ARGS__)
#define ferry_info(...) ferry_log (FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_warn(...) ferry_log (FERRY_LOG_WARN, __VA_ARGS__)

#endif
