#!/usr/bin/python3
"""Hostile VMDK images: every one must make `ferry convert` fail cleanly.

  hostile-vmdk.py OUTDIR

Writes OUTDIR/case-NAME.vmdk (plus the extent files they reference).  The
seeds are made with qemu-img from 1 MiB of random data, so every grain is
allocated and full: any truncation or bad pointer must be an error.
"""
import os
import random
import re
import struct
import subprocess
import sys
import zlib

S = 512
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rnd = random.Random(7)
raw = os.path.join(out, "seed.raw")
with open(raw, "wb") as f:
    f.write(rnd.randbytes(1 << 20))
seeds = {}
for sub in ("monolithicSparse", "streamOptimized"):
    p = os.path.join(out, "seed-%s.bin" % sub)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=" + sub, raw, p], check=True)
    seeds[sub] = bytearray(open(p, "rb").read())
    os.unlink(p)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importlib.util
spec = importlib.util.spec_from_file_location(
    "vmdk_images", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "vmdk-images.py"))
vi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vi)
vmw = os.path.join(out, "seed-vmware.bin")
vi.stream(raw, vmw)
seeds["vmware"] = bytearray(open(vmw, "rb").read())
os.unlink(vmw)

ncases = 0


def case(name, data):
    global ncases
    with open(os.path.join(out, "case-%s.vmdk" % name), "wb") as f:
        f.write(data)
    ncases += 1


def text(name, body):
    case(name, body.encode())


def hdr(seed):
    """Field offsets of the sparse header."""
    return dict(version=4, flags=8, capacity=12, grain=20, desc_off=28,
                desc_size=36, gtes=44, rgd=48, gd=56, overhead=64)


FIELDS = {"version": "I", "flags": "I", "capacity": "Q", "grain": "Q",
          "desc_off": "Q", "desc_size": "Q", "gtes": "I", "gd": "Q",
          "overhead": "Q"}


def with_field(seed, field, value, at=0):
    b = bytearray(seed)
    struct.pack_into("<" + FIELDS[field], b, at + hdr(seed)[field], value)
    return b


def field(seed, name, at=0):
    return struct.unpack_from("<" + FIELDS[name], seed, at + hdr(seed)[name])[0]


ms = seeds["monolithicSparse"]
size_sectors = len(ms) // S + 10

# header fields: 0, max, past EOF
bad = {
    "version": [0, 4, 0xFFFFFFFF],
    "flags": [0xFFFFFFFF, 1 << 16],
    "capacity": [0, 0xFFFFFFFFFFFFFFFF, 1 << 40],
    "grain": [0, 0xFFFFFFFFFFFFFFFF, 1 << 20],
    "desc_off": [0xFFFFFFFFFFFFFFFF, size_sectors],
    "desc_size": [0xFFFFFFFFFFFFFFFF, size_sectors, 1 << 20],
    "gtes": [0, 0xFFFFFFFF, 1 << 20],
    "gd": [0, 0xFFFFFFFFFFFFFFFE, 0xFFFFFFFFFFFFFFFF, size_sectors, 1 << 40],
    "overhead": [0xFFFFFFFFFFFFFFFF, size_sectors],
}
for fname, values in bad.items():
    for i, v in enumerate(values):
        case("hdr-%s-%d" % (fname, i), with_field(ms, fname, v))

# truncations
cuts = sorted(set([4, 11, 100, 511, 512, 513, 1024, 4096, 10000, 11264,
                   13000, 16384, 65536, 65537, len(ms) // 2, len(ms) - 513,
                   len(ms) - 1] + [rnd.randrange(1, len(ms)) for _ in range(16)]))
for c in cuts:
    if c < len(ms):
        case("trunc-sparse-%d" % c, ms[:c])
for name in ("streamOptimized", "vmware"):
    sd = seeds[name]
    # (qemu pads its last compressed grain: cutting the padding is fine)
    for c in sorted(set([100, 512, 1024, 70000, len(sd) // 2, len(sd) - 700,
                         len(sd) - 512] +
                        [rnd.randrange(1, len(sd)) for _ in range(8)])):
        case("trunc-%s-%d" % (name, c), sd[:c])

# grain directory and grain tables
gd = field(ms, "gd")
gt = struct.unpack_from("<I", ms, gd * S)[0]
for n, v in (("eof", size_sectors), ("gd", gd), ("max", 0xFFFFFFFF),
             ("last", len(ms) // S - 1)):
    b = bytearray(ms)
    struct.pack_into("<I", b, gd * S, v)
    case("gd-entry-%s" % n, b)
for n, v in (("header", 2), ("gd", gd), ("gt", gt), ("eof", size_sectors),
             ("max", 0xFFFFFFFF), ("partial", len(ms) // S - 1)):
    b = bytearray(ms)
    struct.pack_into("<I", b, gt * S + 4 * 3, v)
    case("gt-entry-%s" % n, b)

# compressed grains (qemu streamOptimized: GD at the start)
so = seeds["streamOptimized"]
sgd = field(so, "gd")
sgt = struct.unpack_from("<I", so, sgd * S)[0]
g0 = struct.unpack_from("<I", so, sgt * S)[0]
csize = struct.unpack_from("<I", so, g0 * S + 8)[0]
for n, v in (("zero", 0), ("max", 0xFFFFFFFF), ("eof", len(so))):
    b = bytearray(so)
    struct.pack_into("<I", b, g0 * S + 8, v)
    case("marker-size-%s" % n, b)
b = bytearray(so)
b[g0 * S + 12 + 100:g0 * S + 12 + 400] = b"\xff" * 300
case("deflate-garbage", b)
b = bytearray(so)
b[g0 * S + 12 + csize - 4:g0 * S + 12 + csize] = b"\0\0\0\0"
case("deflate-bad-checksum", b)
for n, plain in (("big", bytes(256 * 1024)), ("small", bytes(1000)),
                 ("empty", b"")):
    b = bytearray(so)
    c = zlib.compress(plain)
    assert len(c) <= csize
    b[g0 * S + 12:g0 * S + 12 + len(c)] = c
    struct.pack_into("<I", b, g0 * S + 8, len(c))
    case("inflate-%s" % n, b)
b = with_field(so, "flags", field(so, "flags") | 0)  # compress algorithm
struct.pack_into("<H", b, 77, 2)
case("compress-algorithm", b)

# VMware streamOptimized: footer fields
vm = seeds["vmware"]
foot = len(vm) - 2 * S
for fname, v in (("gd", 0xFFFFFFFFFFFFFFFF), ("gd", 0), ("grain", 0),
                 ("capacity", 1 << 40), ("gd", size_sectors * 4)):
    case("footer-%s-%x" % (fname, v), with_field(vm, fname, v, at=foot))
b = bytearray(vm)
b[foot:foot + 4] = b"XXXX"
case("footer-magic", b)

# embedded descriptor garbage
for n, repl in (("cid", b"CID=zzzzzzzz"), ("line", b"hello world!")):
    b = bytearray(ms)
    m = re.search(rb"CID=[0-9a-f]{8}", bytes(b))
    b[m.start():m.start() + len(repl)] = repl
    case("embedded-%s" % n, b)

# text descriptors
H = '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
with open(os.path.join(out, "flat.bin"), "wb") as f:
    f.write(rnd.randbytes(64 * 1024))
with open(os.path.join(out, "seed-sparse.bin"), "wb") as f:
    f.write(ms)
os.mkdir(os.path.join(out, "adir"))
os.mkfifo(os.path.join(out, "fifo"))
descs = {
    "no-extents": H + 'createType="monolithicFlat"\n',
    "size-zero": H + 'RW 0 FLAT "flat.bin" 0\n',
    "size-text": H + 'RW abc FLAT "flat.bin" 0\n',
    "size-huge": H + 'RW 99999999999999999999999 FLAT "flat.bin" 0\n',
    "size-sum": H + 'RW 2199023255552 ZERO\n' * 3,
    "type": H + 'RW 128 BOGUS "flat.bin" 0\n',
    "unquoted": H + 'RW 128 FLAT flat.bin 0\n',
    "unterminated": H + 'RW 128 FLAT "flat.bin 0\n',
    "empty-name": H + 'RW 128 FLAT "" 0\n',
    "missing": H + 'RW 128 FLAT "nonexistent.bin" 0\n',
    "directory": H + 'RW 128 FLAT "adir" 0\n',
    "fifo": H + 'RW 128 FLAT "fifo" 0\n',
    "chardev": H + 'RW 128 FLAT "/dev/zero" 0\n',
    "flat-too-big": H + 'RW 129 FLAT "flat.bin" 0\n',
    "flat-offset": H + 'RW 128 FLAT "flat.bin" 1\n',
    "flat-offset-huge": H + 'RW 128 FLAT "flat.bin" 18446744073709551615\n',
    "flat-offset-text": H + 'RW 128 FLAT "flat.bin" x\n',
    "sparse-on-flat": H + 'RW 128 SPARSE "flat.bin"\n',
    "sparse-too-big": H + 'RW 4096 SPARSE "seed-sparse.bin"\n',
    "sparse-offset": H + 'RW 128 SPARSE "seed-sparse.bin" 5\n',
    "zero-with-file": H + 'RW 128 ZERO "flat.bin"\n',
    "cid": H.replace("fffffffe", "xyz") + 'RW 128 FLAT "flat.bin" 0\n',
    "cid-long": H.replace("fffffffe", "123456789") + 'RW 128 FLAT "flat.bin" 0\n',
    "create-type": H + 'createType="a b"\nRW 128 FLAT "flat.bin" 0\n',
    "garbage-line": H + 'this is not a descriptor line\nRW 128 FLAT "flat.bin" 0\n',
    "sesparse": H + 'createType="seSparse"\nRW 128 SESPARSE "flat.bin"\n',
    "vmfssparse": H + 'RW 128 VMFSSPARSE "flat.bin"\n',
    "self-parent": H.replace("parentCID=ffffffff", "parentCID=fffffffe") +
    'parentFileNameHint="case-desc-self-parent.vmdk"\nRW 128 FLAT "flat.bin" 0\n',
    "missing-parent": H.replace("parentCID=ffffffff", "parentCID=12345678") +
    'parentFileNameHint="no-such-parent.vmdk"\nRW 128 FLAT "flat.bin" 0\n',
    "many-extents": H + 'RW 1 ZERO\n' * 65537,
    "self-extent": H + 'RW 128 SPARSE "case-desc-self-extent.vmdk"\n',
}
for n, body in descs.items():
    text("desc-" + n, body)
case("desc-too-large", (H + "#" * (2 << 20) + "\n").encode())
case("cowd", b"COWD" + bytes(2044))
os.unlink(raw)
print(ncases)
