/* CRC32C (Castagnoli), as VHDX uses for its headers, region table and log:
 * reflected polynomial 0x82F63B78, initial value and final xor 0xffffffff. */
#ifndef FERRY_CRC32C_H
#define FERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C over LEN bytes of BUF.  Start with CRC = 0; the result of
 * one call may be passed as CRC to the next to checksum pieces in order. */
uint32_t ferry_crc32c (uint32_t crc, const void *buf, size_t len);

#endif
