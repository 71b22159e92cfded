/* libFuzzer target: the VHDX reader (headers, region table, metadata,
 * parent locator, BAT, sector bitmaps). */
#include "vhd-fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_reader (&ferry_format_vhdx, data, size);
  return 0;
}
