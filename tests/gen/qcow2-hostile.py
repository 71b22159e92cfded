#!/usr/bin/python3
# qcow2-hostile.py OUTDIR [BLOCKS] — a corpus of hostile qcow2 images made from small
# valid ones (qemu-img): bad-*.qcow2 must be refused (ferry exits 1),
# good-*.qcow2 are odd but valid and must read as qemu reads them.
# Truncations, every header field at 0 / max / past EOF, L1/L2 entries
# pointing at metadata or past EOF, corrupt and oversized compressed
# clusters, backing loops.
import os
import struct
import subprocess
import sys

out = sys.argv[1]
blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 48  # 64 KiB each
os.makedirs(out, exist_ok=True)
os.chdir(out)


def run(*a):
    subprocess.run(a, check=True, stdout=subprocess.DEVNULL)


def make(name, *opts, compress=False):
    raw = name + ".src"
    with open(raw, "wb") as f:
        for i in range(blocks):           # 16 KiB data every 64 KiB
            f.write(bytes([(i * 7 + 1) & 0xff]) * 16384 + b"\0" * 49152)
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
        *(["-c"] if compress else []), *opts, raw, name)
    os.unlink(raw)
    return bytearray(open(name, "rb").read())


def hdr(b):
    (magic, version, bfoff, bfsize, cbits, size, crypt, l1size, l1off,
     rcoff, rcclusters, nsnap, snapoff) = struct.unpack_from(">IIQIIQIIQQIIQ", b, 0)
    return dict(version=version, cbits=cbits, l1size=l1size, l1off=l1off,
                rcoff=rcoff, size=size)


def put(name, b):
    with open(name, "wb") as f:
        f.write(b)


def patch(b, off, fmt, val):
    c = bytearray(b)
    struct.pack_into(fmt, c, off, val)
    return c


v3 = make("base-v3.qcow2", "-o", "compat=1.1,cluster_size=65536")
v2 = make("base-v2.qcow2", "-o", "compat=0.10,cluster_size=4096")
cz = make("base-z.qcow2", "-o", "cluster_size=65536", compress=True)
h = hdr(v3)
cs = 1 << h["cbits"]
l1 = h["l1off"]
l2 = struct.unpack_from(">Q", v3, l1)[0] & 0x00fffffffffffe00
d0 = struct.unpack_from(">Q", v3, l2)[0] & 0x00fffffffffffe00
size = len(v3)
U32, U64 = 0xffffffff, 0xffffffffffffffff

# Truncations (the magic stays, so the file is still taken for qcow2).
for n in (4, 50, 71, 100, l1 + 4, l2 + 100, d0):
    put("bad-trunc-%d.qcow2" % n, v3[:n])
put("bad-trunc-v2-80.qcow2", v2[:80])

# Header fields at 0 / max / past EOF.
fields = [  # name, offset, format, bad values
    ("version", 4, ">I", (0, 1, 4, U32)),
    ("cluster_bits", 20, ">I", (0, 8, 22, U32)),
    ("size", 24, ">Q", (U64, 1 << 62 | 1, 1 << 40)),
    ("crypt", 32, ">I", (1, 2, U32)),
    ("l1_size", 36, ">I", (0, U32, 0x400001)),
    ("l1_offset", 40, ">Q", (0, 512, size, U64 & ~0xffff, U64)),
    ("rc_offset", 48, ">Q", (size, 4096 + 1, U64 & ~0xffff)),
    ("rc_clusters", 56, ">I", (U32, 0x10000)),
    ("nb_snapshots", 60, ">I", (1, U32)),
    ("backing_offset", 8, ">Q", (size, cs, U64)),
    ("backing_size", 16, ">I", (1024, U32)),
    ("incompat", 72, ">Q", (1, 2, 4, 1 << 5, U64)),
    ("refcount_order", 96, ">I", (7, U32)),
    ("header_length", 100, ">I", (0, 100, 105, U32)),
]
for name, off, fmt, vals in fields:
    for v in vals:
        b = patch(v3, off, fmt, v)
        if name == "backing_size":
            b = patch(b, 8, ">Q", 512)
        if name == "nb_snapshots":
            b = patch(b, 64, ">Q", size + 65536)
        put("bad-hdr-%s-%x.qcow2" % (name, v), b)
put("bad-hdr-ctype.qcow2", patch(patch(patch(v3, 100, ">I", 112), 72, ">Q", 8), 104, ">B", 1))
put("bad-hdr-backing-nul.qcow2",
    patch(patch(patch(v3, 8, ">Q", 512), 16, ">I", 4), 512, ">I", 0x61006200))

# L1 entries: at the header, at the L1 table itself, past EOF, unaligned,
# reserved bits.
for tag, val in (("header", 1 << 63 | 512), ("self", l1), ("eof", size + cs),
                 ("unaligned", l2 + 4096), ("reserved", l2 | 1 << 60),
                 ("huge", 0x00fffffffffffe00)):
    put("bad-l1-%s.qcow2" % tag, patch(v3, l1, ">Q", val))
# L2 entries: at the header cluster, the L1 table, the L2 table itself,
# past EOF, unaligned, reserved bits.
for tag, val in (("header", 1 << 63 | 512), ("l1", 1 << 63 | l1),
                 ("self", 1 << 63 | l2), ("eof", 1 << 63 | (size + 2 * cs)),
                 ("unaligned", 1 << 63 | (d0 + 4096)),
                 ("reserved", 1 << 63 | d0 | 1 << 4)):
    put("bad-l2-%s.qcow2" % tag, patch(v3, l2, ">Q", val))

# Compressed clusters: garbage stream, offset past EOF, in the header;
# an oversized sector count is legal (the size is an upper bound).
hz = hdr(cz)
zl2 = struct.unpack_from(">Q", cz, hz["l1off"])[0] & 0x00fffffffffffe00
ze = struct.unpack_from(">Q", cz, zl2)[0]
x = 62 - (hz["cbits"] - 8)
zoff = ze & ((1 << x) - 1)
b = bytearray(cz)
b[zoff:zoff + 64] = b"\xff" * 64
put("bad-z-garbage.qcow2", b)
put("bad-z-eof.qcow2", patch(cz, zl2, ">Q", (1 << 62) | (len(cz) + 512)))
put("bad-z-header.qcow2", patch(cz, zl2, ">Q", (1 << 62) | 100))
nsec_max = (1 << (hz["cbits"] - 8)) - 1
put("good-z-oversized.qcow2",
    patch(cz, zl2, ">Q", (1 << 62) | (nsec_max << x) | zoff))
put("good-z.qcow2", cz)

# Backing loops: self, and a <-> b.
def with_backing(b, name):
    nb = name.encode()
    c = patch(patch(b, 8, ">Q", 1024), 16, ">I", len(nb))
    c[1024:1024 + len(nb)] = nb
    return c

put("bad-loop-self.qcow2", with_backing(v3, "bad-loop-self.qcow2"))
put("bad-loop-a.qcow2", with_backing(v3, "loop-b.qcow2"))
put("loop-b.qcow2", with_backing(v3, "bad-loop-a.qcow2"))
put("bad-backing-missing.qcow2", with_backing(v3, "no-such-file.qcow2"))
os.unlink("base-z.qcow2")
