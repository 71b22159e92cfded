/* Shared libraries loaded on first use (dlopen) instead of at start-up.
 *
 * Why: ferry is one binary for every command.  Linked directly, librbd,
 * librados (libceph-common, boost, ICU), libvirt, libcurl, libguestfs and
 * libxml2 cost every command 72 more shared objects and 22k more symbol
 * relocations (`ferry --version`: 85 ms of CPU against 10 ms without them,
 * qemu-img --version 18 ms, measured together on a loaded 2-core machine),
 * while `ferry convert` between files and `ferry validate` use none of
 * them.  qemu loads its rbd driver as a module and nbdkit its
 * plugins the same way.
 *
 * How: for each such library a file src/clients/dl-LIB.c defines the
 * library's functions that ferry calls, with the same names and prototypes
 * (it includes the library's header, so the compiler checks every stub
 * against the real declaration), via FERRY_DL_FN / FERRY_DL_VOID below.
 * The rest of ferry calls the API as before and the link line no longer
 * names the library.  A stub resolves the real function on its first call:
 * dlopen (SONAME, RTLD_NOW | RTLD_LOCAL) once per library (thread-safe),
 * then dlsym once per function, cached.  When the library cannot be loaded
 * (or lacks the function) a stub returns the API's own failure value (a
 * negative errno, -1, NULL, CURLE_FAILED_INIT): never a crash.  Each seam
 * calls ferry_dl_load () before its first API call, so the user sees
 * "librbd.so.1 cannot be loaded: ..." rather than the API's errno text.
 *
 * Variadic APIs cannot be forwarded in C: ferry calls libguestfs' *_argv
 * variants (only those have stubs, so a variadic call fails to link), and
 * dl-curl.c unpacks curl's one argument by the option's type. */
#ifndef FERRY_DL_H
#define FERRY_DL_H

#include "util/err.h"

/* One library loaded on first use. */
struct ferry_dl {
  const char *soname; /* what dlopen is given, e.g. "librbd.so.1" */
  int state;          /* 0 not tried, 1 loaded, -1 failed (atomic) */
  void *handle;       /* dlopen's handle once loaded */
  char error[512];    /* dlerror () of the failed load */
};

#define FERRY_DL_INIT(name)                                                    \
  {                                                                            \
    .soname = (name)                                                           \
  }

/* Load LIB unless done: 0, or -1 with "SONAME cannot be loaded: ..." in ERR
 * (a failed load is not retried: the answer stays the same). */
int ferry_dl_load (struct ferry_dl *lib, struct ferry_err *err);

/* The address of NAME in LIB, loading LIB first; *CACHE holds it for the
 * next call.  NULL when LIB cannot be loaded or lacks NAME. */
void *ferry_dl_sym (struct ferry_dl *lib, const char *name, void **cache);

/* The libraries ferry loads on first use (src/clients/dl-*.c). */
extern struct ferry_dl ferry_dl_rados;   /* librados.so.2 */
extern struct ferry_dl ferry_dl_rbd;     /* librbd.so.1 */
extern struct ferry_dl ferry_dl_curl;    /* libcurl.so.4 */
extern struct ferry_dl ferry_dl_virt;    /* libvirt.so.0 */
extern struct ferry_dl ferry_dl_guestfs; /* libguestfs.so.0 */
extern struct ferry_dl ferry_dl_xml2;    /* libxml2.so.2 */

/* A stub for NAME, a function of LIB returning RET: PARAMS is the
 * prototype's parameter list, ARGS the same names in a call; FAIL is
 * returned when the real function cannot be had. */
#define FERRY_DL_FN(lib, ret, name, fail, params, args)                        \
  ret name params                                                              \
  {                                                                            \
    static void *sym_;                                                         \
    __typeof__ (name) *fn_ =                                                   \
        (__typeof__ (name) *) ferry_dl_sym (&(lib), #name, &sym_);             \
    if (fn_ == NULL)                                                           \
      return fail;                                                             \
    return fn_ args;                                                           \
  }

/* The same for a function returning void (nothing happens without it). */
#define FERRY_DL_VOID(lib, name, params, args)                                 \
  void name params                                                             \
  {                                                                            \
    static void *sym_;                                                         \
    __typeof__ (name) *fn_ =                                                   \
        (__typeof__ (name) *) ferry_dl_sym (&(lib), #name, &sym_);             \
    if (fn_ != NULL)                                                           \
      fn_ args;                                                                \
  }

#endif
