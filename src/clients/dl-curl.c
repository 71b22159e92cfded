/* libcurl.so.4 loaded on first use: stubs for the functions ferry calls
 * (see util/dl.h).  ferry_os_new () loads it with a clear error first; a
 * stub without the library returns CURLE_FAILED_INIT or NULL.
 *
 * curl_easy_setopt, curl_easy_getinfo and curl_share_setopt are variadic
 * with exactly one argument after the option, whose type the option number
 * says (curl.h's CURLOPTTYPE_* ranges, CURLINFO_* always a pointer): the
 * stubs read that one argument with its type and pass it on, as libcurl
 * itself reads it. */
/* the stubs define curl_easy_setopt itself: no type-checking macro */
#define CURL_DISABLE_TYPECHECK 1

#include <curl/curl.h>
#include <stdarg.h>
#include <stddef.h>

#include "util/dl.h"

struct ferry_dl ferry_dl_curl = FERRY_DL_INIT ("libcurl.so.4");

/* Any function pointer, as carried through "..." (callbacks). */
typedef void (*dl_curl_fn) (void);

/* LONG options take a long, OBJECTPOINT ones a pointer (strings, lists,
 * callback data), FUNCTIONPOINT ones a callback, OFF_T a curl_off_t, BLOB
 * a struct curl_blob pointer. */
CURLcode
curl_easy_setopt (CURL *curl, CURLoption option, ...)
{
  static void *sym;
  __typeof__ (curl_easy_setopt) *fn =
      (__typeof__ (curl_easy_setopt) *) ferry_dl_sym (&ferry_dl_curl,
                                                      "curl_easy_setopt", &sym);
  CURLcode rc;
  va_list ap;

  if (fn == NULL)
    return CURLE_FAILED_INIT;
  va_start (ap, option);
  if (option < CURLOPTTYPE_OBJECTPOINT)
    rc = fn (curl, option, va_arg (ap, long));
  else if (option < CURLOPTTYPE_FUNCTIONPOINT)
    rc = fn (curl, option, va_arg (ap, void *));
  else if (option < CURLOPTTYPE_OFF_T)
    rc = fn (curl, option, va_arg (ap, dl_curl_fn));
  else if (option < CURLOPTTYPE_BLOB)
    rc = fn (curl, option, va_arg (ap, curl_off_t));
  else
    rc = fn (curl, option, va_arg (ap, struct curl_blob *));
  va_end (ap);
  return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo (CURL *curl, CURLINFO info, ...)
{
  static void *sym;
  __typeof__ (curl_easy_getinfo) *fn =
      (__typeof__ (curl_easy_getinfo) *) ferry_dl_sym (
          &ferry_dl_curl, "curl_easy_getinfo", &sym);
  CURLcode rc;
  va_list ap;

  if (fn == NULL)
    return CURLE_FAILED_INIT;
  va_start (ap, info);
  rc = fn (curl, info, va_arg (ap, void *));
  va_end (ap);
  return rc;
}

/* SHARE/UNSHARE take an int (curl_lock_data), LOCKFUNC/UNLOCKFUNC a
 * function, USERDATA a pointer. */
CURLSHcode
curl_share_setopt (CURLSH *share, CURLSHoption option, ...)
{
  static void *sym;
  __typeof__ (curl_share_setopt) *fn =
      (__typeof__ (curl_share_setopt) *) ferry_dl_sym (
          &ferry_dl_curl, "curl_share_setopt", &sym);
  CURLSHcode rc;
  va_list ap;

  if (fn == NULL)
    return CURLSHE_NOT_BUILT_IN;
  va_start (ap, option);
  switch (option) {
  case CURLSHOPT_SHARE:
  case CURLSHOPT_UNSHARE:
    rc = fn (share, option, va_arg (ap, int));
    break;
  case CURLSHOPT_LOCKFUNC:
  case CURLSHOPT_UNLOCKFUNC:
    rc = fn (share, option, va_arg (ap, dl_curl_fn));
    break;
  default:
    rc = fn (share, option, va_arg (ap, void *));
    break;
  }
  va_end (ap);
  return rc;
}

/* Never NULL: callers print it. */
const char *
curl_easy_strerror (CURLcode code)
{
  static void *sym;
  __typeof__ (curl_easy_strerror) *fn =
      (__typeof__ (curl_easy_strerror) *) ferry_dl_sym (
          &ferry_dl_curl, "curl_easy_strerror", &sym);

  return fn ? fn (code) : "libcurl.so.4 cannot be loaded";
}

FERRY_DL_VOID (ferry_dl_curl, curl_easy_cleanup, (CURL * curl), (curl))
FERRY_DL_FN (ferry_dl_curl, CURL *, curl_easy_init, NULL, (void), ())
FERRY_DL_FN (ferry_dl_curl, CURLcode, curl_easy_perform, CURLE_FAILED_INIT,
             (CURL * curl), (curl))
FERRY_DL_FN (ferry_dl_curl, CURLcode, curl_global_init, CURLE_FAILED_INIT,
             (long flags), (flags))
FERRY_DL_FN (ferry_dl_curl, CURLSHcode, curl_share_cleanup,
             CURLSHE_NOT_BUILT_IN, (CURLSH * share), (share))
FERRY_DL_FN (ferry_dl_curl, CURLSH *, curl_share_init, NULL, (void), ())
FERRY_DL_FN (ferry_dl_curl, struct curl_slist *, curl_slist_append, NULL,
             (struct curl_slist * list, const char *data), (list, data))
FERRY_DL_VOID (ferry_dl_curl, curl_slist_free_all, (struct curl_slist * list),
               (list))
