#!/usr/bin/python3
"""Test images for the VMDK reader (never checked in: made on the fly).

  vmdk-images.py pattern OUT SIZE_BYTES
      a raw image with random data, zero runs, holes, data across grain
      boundaries and data in the last (partial) grain
  vmdk-images.py stream RAW OUT
      a VMware-style streamOptimized VMDK: compressed grains with markers,
      grain tables and directory at the end, footer (header gdOffset is
      GD_AT_END), end-of-stream marker
"""
import os
import random
import struct
import sys
import zlib

SECTOR = 512
GRAIN = 128  # sectors
GTES = 512


def pattern(out, size):
    rnd = random.Random(20240601)
    with open(out, "wb") as f:
        f.truncate(size)
        def put(off, data):
            if off >= size:
                return
            f.seek(off)
            f.write(data[: size - off])
        mib = 1 << 20
        put(0, rnd.randbytes(3 * mib + 12345))          # start, odd end
        put(4 * mib - 700, rnd.randbytes(1400))          # across 64K grain
        put(5 * mib, bytes(2 * mib))                     # explicit zeroes
        put(7 * mib + 65536 - 1, b"\x01\x02")            # grain boundary
        for i in range(20):                              # scattered grains
            put(9 * mib + i * 3 * 65536 + 4096 * (i % 7), rnd.randbytes(5000))
        put(16 * mib, bytes(100) + rnd.randbytes(65536 * 3) + bytes(100))
        put(size - 3000, rnd.randbytes(3000))            # last partial grain


def marker(lba, size, mtype):
    m = struct.pack("<QII", lba, size, mtype)
    return m + bytes(SECTOR - len(m))


def header(capacity, gd_offset, desc_size, overhead):
    h = struct.pack(
        "<IIIQQQQIQQQBccccH",
        0x564D444B, 3, 0x30001, capacity, GRAIN, 1, desc_size, GTES,
        0, gd_offset, overhead, 0, b"\n", b" ", b"\r", b"\n", 1)
    return h + bytes(SECTOR - len(h))


def stream(raw, out):
    data = open(raw, "rb").read()
    capacity = (len(data) + SECTOR - 1) // SECTOR
    name = os.path.basename(out)
    desc = ('# Disk DescriptorFile\nversion=1\nCID=1234abcd\n'
            'parentCID=ffffffff\ncreateType="streamOptimized"\n\n'
            'RW %d SPARSE "%s"\n\nddb.adapterType = "lsilogic"\n'
            % (capacity, name)).encode()
    desc_size = 20
    overhead = 1 + desc_size + 107  # 128 sectors like VMware
    gb = GRAIN * SECTOR
    ngrains = (capacity + GRAIN - 1) // GRAIN
    ngts = (ngrains + GTES - 1) // GTES
    gt = [0] * (ngts * GTES)
    with open(out, "wb") as f:
        f.write(header(capacity, 0xFFFFFFFFFFFFFFFF, desc_size, overhead))
        f.write(desc + bytes(desc_size * SECTOR - len(desc)))
        f.write(bytes((overhead - 1 - desc_size) * SECTOR))
        # grains in reverse order of a few, to show GT order is what counts
        order = list(range(ngrains))
        for g in order:
            chunk = data[g * gb:(g + 1) * gb]
            if not chunk.strip(b"\0"):
                continue
            if len(chunk) < gb:
                chunk += bytes(gb - len(chunk))
            c = zlib.compress(chunk, 6)
            gt[g] = f.tell() // SECTOR
            rec = struct.pack("<QI", g * GRAIN, len(c)) + c
            rec += bytes(-len(rec) % SECTOR)
            f.write(rec)
        gd = []
        for t in range(ngts):
            entries = gt[t * GTES:(t + 1) * GTES]
            if not any(entries):
                gd.append(0)
                continue
            f.write(marker(4, 0, 1))
            gd.append(f.tell() // SECTOR)
            f.write(struct.pack("<%dI" % GTES, *entries))
        f.write(marker((ngts * 4 + SECTOR - 1) // SECTOR, 0, 2))
        gd_offset = f.tell() // SECTOR
        blob = struct.pack("<%dI" % ngts, *gd)
        f.write(blob + bytes(-len(blob) % SECTOR))
        f.write(marker(1, 0, 3))
        f.write(header(capacity, gd_offset, desc_size, overhead))
        f.write(marker(0, 0, 0))


if __name__ == "__main__":
    if sys.argv[1] == "pattern":
        pattern(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "stream":
        stream(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: vmdk-images.py pattern OUT SIZE | stream RAW OUT")
