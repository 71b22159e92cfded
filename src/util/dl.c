/* Loading a shared library on first use: see dl.h for why and how.
 *
 * Thread safety: LIB->state is read with acquire loads; the first caller
 * takes load_lock, loads and publishes the state with a release store, so a
 * thread that sees state 1 also sees the handle.  A function's address is
 * cached the same way (a benign race: every thread stores the same value). */
#include "util/dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* Serialises first loads (dlopen is thread-safe; this makes each library's
 * load happen once and its error be written once). */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* Load LIB once; its state afterwards (1 or -1). */
static int
dl_ensure (struct ferry_dl *lib)
{
  int state = __atomic_load_n (&lib->state, __ATOMIC_ACQUIRE);

  if (state != 0)
    return state;
  pthread_mutex_lock (&load_lock);
  state = __atomic_load_n (&lib->state, __ATOMIC_ACQUIRE);
  if (state == 0) {
    lib->handle = dlopen (lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (lib->handle == NULL) {
      const char *e = dlerror ();
      snprintf (lib->error, sizeof lib->error, "%s", e ? e : "unknown error");
      state = -1;
    } else
      state = 1;
    __atomic_store_n (&lib->state, state, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock (&load_lock);
  return state;
}

/* See dl.h: the seams call this before their first API call. */
int
ferry_dl_load (struct ferry_dl *lib, struct ferry_err *err)
{
  if (dl_ensure (lib) > 0)
    return 0;
  return ferry_err_set (err, 0, "%s cannot be loaded: %s", lib->soname,
                        lib->error);
}

/* See dl.h: what every stub calls. */
void *
ferry_dl_sym (struct ferry_dl *lib, const char *name, void **cache)
{
  void *p = __atomic_load_n (cache, __ATOMIC_ACQUIRE);

  if (p != NULL)
    return p;
  if (dl_ensure (lib) < 0)
    return NULL;
  p = dlsym (lib->handle, name);
  if (p != NULL)
    __atomic_store_n (cache, p, __ATOMIC_RELEASE);
  return p;
}
