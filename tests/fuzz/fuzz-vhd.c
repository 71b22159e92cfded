/* libFuzzer target: the VHD reader (footer, dynamic header, BAT, sector
 * bitmaps, parent locators). */
#include "vhd-fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_reader (&ferry_format_vhd, data, size);
  return 0;
}
