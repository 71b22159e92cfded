#!/usr/bin/python3
"""Images that name files outside their directory (tests/t/46-confine.t).

  confine-corpus.py ROOT

makes ROOT/src (the source directory: every image in it is hostile),
ROOT/host (host files an image must never reach: a 64 KiB secret, base
images), ROOT/src2 (a sibling whose name starts like src) and prints one
line per hostile image:

  IMAGE<TAB>NEEDLE<TAB>REASON

NEEDLE ("FIELD names 'NAME'") and REASON are fixed strings ferry's error
must contain.  VMDK descriptors and qcow2 headers are written here,
VHD/VHDX differencing disks by vhdtool.py, ESXi deltas by esx-delta.py.
"""
import os
import socket
import stat
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(sys.argv[1])
src, host, src2 = (os.path.join(root, d) for d in ("src", "host", "src2"))
for d in (src, host, src2, os.path.join(src, "subdir")):
    os.makedirs(d, exist_ok=True)
SECRET = os.path.join(host, "secret")
OUTSIDE = "outside the source directory"
cases = []


def run(*a):
    subprocess.run(a, check=True, stdout=subprocess.DEVNULL)


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)


# host files: a secret with a recognisable pattern, base images
put(SECRET, b"SECRET-host-file-" * 3855 + b"S" * 1)  # 65536 bytes
put(os.path.join(src2, "secret"), b"src2" * 16384)
run("qemu-img", "create", "-q", "-f", "raw", os.path.join(host, "base.raw"),
    "1M")
run("qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", SECRET,
    os.path.join(host, "base.vmdk"))
run("qemu-img", "convert", "-q", "-f", "raw", "-O", "vpc", "-o",
    "subformat=dynamic", SECRET, os.path.join(host, "base.vhd"))
run("qemu-img", "convert", "-q", "-f", "raw", "-O", "vhdx", SECRET,
    os.path.join(host, "base.vhdx"))

# things inside src that are not regular files, and links leading out
os.mkfifo(os.path.join(src, "fifo"))
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(os.path.join(src, "sock"))
sock.close()
os.symlink("../host/secret", os.path.join(src, "link-secret"))
os.symlink("../host", os.path.join(src, "linkdir"))
os.symlink("../host/base.vhd", os.path.join(src, "link-base.vhd"))
os.symlink("../host/base.vhdx", os.path.join(src, "link-base.vhdx"))

# names every format is tried with: (case, name, reason)
NAMES = [
    ("abs", SECRET, OUTSIDE),
    ("dotdot", "../host/secret", OUTSIDE),
    ("symlink", "link-secret", OUTSIDE),
    ("symdir", "linkdir/secret", OUTSIDE),
    ("prefix", os.path.join(src2, "secret"), OUTSIDE),
    ("devzero", "/dev/zero", OUTSIDE),
    ("proc", "/proc/self/environ", OUTSIDE),
    ("etc", "/etc/passwd", OUTSIDE),
    ("fifo", "fifo", "which is a FIFO"),
    ("socket", "sock", "which is a socket"),
    ("dir", "subdir", "which is a directory"),
    ("rbd", "rbd:pool/img:conf=/etc/ceph/ceph.conf:id=admin",
     "a protocol name"),
    ("nbd", "nbd:localhost:10809", "a protocol name"),
]


def vmdk_descriptor(path, extents, hint=None, parent_cid="ffffffff"):
    text = ('# Disk DescriptorFile\nversion=1\nCID=1234abcd\n'
            'parentCID=%s\ncreateType="monolithicFlat"\n' % parent_cid)
    if hint:
        text += 'parentFileNameHint="%s"\n' % hint
    text += "\n# Extent description\n"
    for e in extents:
        text += e + "\n"
    put(path, text.encode())


# VMDK: FLAT and SPARSE extents naming each thing
for case, name, reason in NAMES:
    img = os.path.join(src, "vmdk-flat-%s.vmdk" % case)
    vmdk_descriptor(img, ['RW 128 FLAT "%s" 0' % name])
    cases.append((img, "extent 1 'FLAT' names '%s'" % name, reason))
img = os.path.join(src, "vmdk-sparse-abs.vmdk")
vmdk_descriptor(img, ['RW 128 SPARSE "%s"' % os.path.join(host, "base.vmdk")])
cases.append((img, "extent 1 'SPARSE' names '%s'" %
              os.path.join(host, "base.vmdk"), OUTSIDE))
# a second extent escaping after a good first one
put(os.path.join(src, "good-flat.bin"), b"\0" * 65536)
img = os.path.join(src, "vmdk-flat-second.vmdk")
vmdk_descriptor(img, ['RW 128 FLAT "good-flat.bin" 0',
                      'RW 128 FLAT "../host/secret" 0'])
cases.append((img, "extent 2 'FLAT' names '../host/secret'", OUTSIDE))
# a delta (hosted sparse, embedded descriptor) whose parent is outside
img = os.path.join(src, "vmdk-parent-abs.vmdk")
run("qemu-img", "create", "-q", "-f", "vmdk", "-b",
    os.path.join(host, "base.vmdk"), "-F", "vmdk", img)
cases.append((img, "parentFileNameHint names '%s'" %
              os.path.join(host, "base.vmdk"), OUTSIDE))
# a descriptor delta naming each thing as its parent
for case, name, reason in NAMES:
    if case in ("symdir",):
        continue
    img = os.path.join(src, "vmdk-hint-%s.vmdk" % case)
    vmdk_descriptor(img, ['RW 128 FLAT "good-flat.bin" 0'], hint=name,
                    parent_cid="1234abcd")
    cases.append((img, "parentFileNameHint names '%s'" % name, reason))
# an ESXi vmfsSparse delta whose parent is outside (hint ../host/...)
esxbase = os.path.join(host, "esxbase.vmdk")
put(os.path.join(host, "esxbase-flat.vmdk"), open(SECRET, "rb").read())
vmdk_descriptor(esxbase, ['RW 128 VMFS "esxbase-flat.vmdk"'])
img = os.path.join(src, "vmdk-esx-delta.vmdk")
run(sys.executable, os.path.join(HERE, "esx-delta.py"), "cowd", esxbase,
    SECRET, img, "0:512:ab")
cases.append((img, "parentFileNameHint names '../host/esxbase.vmdk'",
              OUTSIDE))

# qcow2: the backing file name written into the header
cluster = 65536


def qcow2_backing(path, name):
    run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "placeholder",
        "-F", "raw", path, "64K")
    b = bytearray(open(path, "rb").read())
    off = struct.unpack_from(">Q", b, 8)[0]
    raw = name.encode()
    assert 0 < off and off + len(raw) <= cluster
    b[off:off + len(raw)] = raw
    struct.pack_into(">I", b, 16, len(raw))
    put(path, b)


QNAMES = NAMES + [
    ("json", 'json:{"file":{"driver":"file","filename":"/etc/passwd"}}',
     "a protocol name"),
]
for case, name, reason in QNAMES:
    img = os.path.join(src, "qcow2-%s.qcow2" % case)
    qcow2_backing(img, name)
    cases.append((img, "backing file names '%s'" % name, reason))

# VHD and VHDX differencing disks: parent locators naming each thing
VHD_NAMES = [
    ("dotdot", "..\\host\\base.X", "../host/base.X", OUTSIDE),
    ("abs", os.path.join(host, "base.X"), os.path.join(host, "base.X"),
     OUTSIDE),
    ("symlink", ".\\link-base.X", "link-base.X", OUTSIDE),
    ("devzero", "/dev/zero", "/dev/zero", OUTSIDE),
    ("proc", "/proc/self/environ", "/proc/self/environ", OUTSIDE),
    ("fifo", ".\\fifo", "fifo", "which is a FIFO"),
    ("dir", ".\\subdir", "subdir", "which is a directory"),
    ("rbd", "rbd:pool/img:conf=/etc/ceph/ceph.conf",
     "rbd:pool/img:conf=/etc/ceph/ceph.conf", "a protocol name"),
]
for ext, cmd in (("vhd", "diff-vhd"), ("vhdx", "diff-vhdx")):
    for case, loc, shown, reason in VHD_NAMES:
        loc = loc.replace(".X", "." + ext)
        shown = shown.replace(".X", "." + ext)
        img = os.path.join(src, "%s-%s.%s" % (ext, case, ext))
        run(sys.executable, os.path.join(HERE, "vhdtool.py"), cmd,
            os.path.join(host, "base." + ext), img, "--rel", loc,
            "--abs", "C:\\nowhere\\gone." + ext)
        cases.append((img, "parent locator names '%s'" % shown, reason))

for img, needle, reason in cases:
    print("%s\t%s\t%s" % (img, needle, reason))
