/* Scope-bound cleanup (GCC/clang __attribute__((cleanup))). */
#ifndef FERRY_CLEANUP_H
#define FERRY_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
ferry_cleanup_free (void *p)
{
  free (*(void **) p);
}

static inline void
ferry_cleanup_fclose (FILE **f)
{
  if (*f)
    fclose (*f);
}

static inline void
ferry_cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}

#define CLEANUP_FREE __attribute__ ((cleanup (ferry_cleanup_free)))
#define CLEANUP_FCLOSE __attribute__ ((cleanup (ferry_cleanup_fclose)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (ferry_cleanup_close)))

/* Hand ownership out of a CLEANUP_ scope. */
#define TAKE_PTR(p)                                                            \
  ({                                                                           \
    __typeof__ (p) take_ptr_tmp_ = (p);                                        \
    (p) = NULL;                                                                \
    take_ptr_tmp_;                                                             \
  })

#define FERRY_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#endif
