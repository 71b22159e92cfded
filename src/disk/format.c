/* The table of image formats, and detection by content. */
#include "disk/disk.h"

#include "util/cleanup.h"

/* Probe order matters: specific magics first, raw (accepts anything) last. */
static const struct ferry_disk_format *const formats[] = {
    &ferry_format_qcow2, &ferry_format_vhdx, &ferry_format_vmdk,
    &ferry_format_vhd,   &ferry_format_raw,
};

/* Return the format whose probe accepts the bytes (raw at worst). */
const struct ferry_disk_format *
ferry_disk_detect (const uint8_t *head, size_t len, const uint8_t *tail,
                   size_t tail_len)
{
  size_t i;

  for (i = 0; i < FERRY_ARRAY_SIZE (formats); i++)
    if (formats[i]->probe && formats[i]->probe (head, len, tail, tail_len))
      return formats[i];
  return &ferry_format_raw;
}
