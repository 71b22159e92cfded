/* Data and holes of an image file (SEEK_DATA / SEEK_HOLE), cached.
 *
 * Workers ask about increasing offsets in a few places at once, and on
 * tmpfs SEEK_HOLE costs time proportional to the data that follows the
 * offset, so the last few extents found are remembered. */
#include "disk/hostmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define HOSTMAP_SLOTS 16 /* extents remembered */

struct hostmap_slot {
  uint64_t start; /* file range [start, end) */
  uint64_t end;
  bool data; /* data (true) or hole */
};

struct ferry_hostmap {
  int fd;                                   /* the file (not owned) */
  pthread_mutex_t lock;                     /* guards the fields below */
  struct hostmap_slot slots[HOSTMAP_SLOTS]; /* extents found so far */
  unsigned next;                            /* slot to replace next */
  bool unsupported;                         /* no SEEK_DATA: all data */
};

/* Make an empty extent cache for the open file FD, which the caller keeps
 * owning and must keep open while the map is used. Return the map (free with
 * ferry_hostmap_free), or NULL when out of memory. */
struct ferry_hostmap *
ferry_hostmap_new (int fd)
{
  struct ferry_hostmap *m = calloc (1, sizeof *m);

  if (m == NULL)
    return NULL;
  m->fd = fd;
  pthread_mutex_init (&m->lock, NULL);
  return m;
}

/* Free a map made by ferry_hostmap_new; NULL is allowed. The file descriptor
 * is not closed. */
void
ferry_hostmap_free (struct ferry_hostmap *m)
{
  if (m == NULL)
    return;
  pthread_mutex_destroy (&m->lock);
  free (m);
}

/* Remember [START, END) (lock held). */
static void
hostmap_remember (struct ferry_hostmap *m, uint64_t start, uint64_t end,
                  bool data)
{
  m->slots[m->next].start = start;
  m->slots[m->next].end = end;
  m->slots[m->next].data = data;
  m->next = (m->next + 1) % HOSTMAP_SLOTS;
}

/* Is the file at OFF data or a hole? Set *RET_DATA and return how many bytes
 * from OFF (at most LEN) are the same kind. Remembered extents answer first;
 * otherwise SEEK_DATA then SEEK_HOLE ask the file system, and the answer is
 * remembered. The lock is not held across lseek, so workers do not queue
 * behind a slow SEEK_HOLE; two of them may then remember the same extent,
 * which is harmless. A file system without SEEK_DATA makes every later
 * answer "data", and a hole up to the end of the file is reported as a hole
 * for all of LEN (reading past the end fails elsewhere). Never fails. */
uint64_t
ferry_hostmap_query (struct ferry_hostmap *m, uint64_t off, uint64_t len,
                     bool *ret_data)
{
  off_t data, hole;
  uint64_t n;
  unsigned i;

  pthread_mutex_lock (&m->lock);
  if (m->unsupported) {
    pthread_mutex_unlock (&m->lock);
    *ret_data = true;
    return len;
  }
  for (i = 0; i < HOSTMAP_SLOTS; i++) {
    const struct hostmap_slot *s = &m->slots[i];
    if (off >= s->start && off < s->end) {
      n = s->end - off;
      *ret_data = s->data;
      pthread_mutex_unlock (&m->lock);
      return n < len ? n : len;
    }
  }
  pthread_mutex_unlock (&m->lock);

  data = lseek (m->fd, (off_t) off, SEEK_DATA);
  if (data < 0 && errno == ENXIO) {
    /* a hole up to the end of the file: reads past it fail elsewhere */
    *ret_data = false;
    return len;
  }
  if (data < 0) {
    pthread_mutex_lock (&m->lock);
    m->unsupported = true;
    pthread_mutex_unlock (&m->lock);
    *ret_data = true;
    return len;
  }
  pthread_mutex_lock (&m->lock);
  if ((uint64_t) data > off) {
    hostmap_remember (m, off, (uint64_t) data, false);
    pthread_mutex_unlock (&m->lock);
    n = (uint64_t) data - off;
    *ret_data = false;
    return n < len ? n : len;
  }
  pthread_mutex_unlock (&m->lock);
  hole = lseek (m->fd, (off_t) off, SEEK_HOLE);
  *ret_data = true;
  if (hole <= (off_t) off)
    return len;
  pthread_mutex_lock (&m->lock);
  hostmap_remember (m, off, (uint64_t) hole, true);
  pthread_mutex_unlock (&m->lock);
  n = (uint64_t) hole - off;
  return n < len ? n : len;
}
