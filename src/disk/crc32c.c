/* CRC32C by slicing-by-8: eight 256-entry tables, built once. */
#include "disk/crc32c.h"

#include <pthread.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t crc_table[8][256]; /* written once under crc_once */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Build the slicing tables: table[0] is the classic byte table, table[k]
 * advances a byte through k more zero bytes. */
static void
crc32c_init (void)
{
  uint32_t c;
  unsigned i, j, k;

  for (i = 0; i < 256; i++) {
    c = i;
    for (j = 0; j < 8; j++)
      c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
    crc_table[0][i] = c;
  }
  for (i = 0; i < 256; i++)
    for (k = 1; k < 8; k++)
      crc_table[k][i] =
          (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
}

/* CRC32C of BUF continued from CRC (0 for a fresh checksum). */
uint32_t
ferry_crc32c (uint32_t crc, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  uint32_t c, lo, hi;

  pthread_once (&crc_once, crc32c_init);
  c = ~crc;
  while (len > 0 && ((uintptr_t) p & 7) != 0) {
    c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    len--;
  }
  while (len >= 8) {
    lo = c ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
              (uint32_t) p[3] << 24);
    hi = (uint32_t) p[4] | (uint32_t) p[5] << 8 | (uint32_t) p[6] << 16 |
         (uint32_t) p[7] << 24;
    c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
        crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
        crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
        crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len > 0) {
    c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    len--;
  }
  return ~c;
}
