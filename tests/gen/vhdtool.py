#!/usr/bin/python3
"""Test image writer for VHD and VHDX differencing disks (qemu-img cannot
create them).  Written from the published format specifications, not from
ferry's reader.

  vhdtool.py diff-vhd  PARENT CHILD [options]    differencing VHD
  vhdtool.py diff-vhdx PARENT CHILD [options]    differencing VHDX (AVHDX)
  vhdtool.py set-dirty VHDX                      give the VHDX a dirty log
  vhdtool.py vhdx-fix VHDX                       recompute header/region CRCs

options for diff-*:
  --write OFFSET:FILE    put FILE's bytes at virtual OFFSET (sector aligned)
  --zero OFFSET:LENGTH   (vhdx) mark whole blocks as ZERO
  --block-size N         block size in bytes (vhd default 2 MiB, vhdx 1 MiB)
  --wrong-parent-id      record a parent id that does not match PARENT
  --rel NAME / --abs NAME   parent locator paths (default .\\BASENAME and
                         C:\\VMs\\BASENAME)
"""
import os
import struct
import sys
import uuid

MiB = 1 << 20
KiB = 1 << 10

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = (c >> 8) ^ t[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def vhd_checksum(buf, off):
    s = sum(buf[:off]) + sum(buf[off + 4:])
    return (~s) & 0xFFFFFFFF


def parse_writes(args):
    writes, zeros = [], []
    for kind, val in args:
        if kind == 'write':
            off, path = val.split(':', 1)
            with open(path, 'rb') as f:
                writes.append((int(off, 0), f.read()))
        else:
            off, length = val.split(':', 1)
            zeros.append((int(off, 0), int(length, 0)))
    return writes, zeros


# ---------------------------------------------------------------- VHD

def vhd_vsize(footer):
    cur = struct.unpack('>Q', footer[48:56])[0] // 512
    c, h, s = struct.unpack('>HBB', footer[56:60])
    chs = c * h * s
    app = footer[28:32]
    use_chs = app not in (b'win ', b'qem2', b'd2v ', b'CTXS', b'tap\0')
    if not use_chs or chs == 65535 * 16 * 255:
        return cur * 512
    return chs * 512


def diff_vhd(parent, child, opts, writes):
    with open(parent, 'rb') as f:
        f.seek(-512, 2)
        pfoot = f.read(512)
    assert pfoot[:8] == b'conectix', 'parent is not a VHD'
    vsize = vhd_vsize(pfoot)
    bs = opts.get('block_size', 2 * MiB)
    nblocks = (vsize + bs - 1) // bs
    bitmap_size = ((bs // 512 + 7) // 8 + 511) & ~511
    parent_id = pfoot[68:84]
    if opts.get('wrong_parent_id'):
        parent_id = uuid.uuid4().bytes
    base = os.path.basename(parent)
    rel = opts.get('rel', '.\\' + base).encode('utf-16-le')
    absn = opts.get('abs', 'C:\\VMs\\' + base).encode('utf-16-le')

    # layout: footer copy, dynamic header, BAT, two locators, blocks
    dyn_off = 512
    bat_off = dyn_off + 1024
    bat_len = (nblocks * 4 + 511) & ~511
    loc_off = bat_off + bat_len
    loc_space = 512 * ((max(len(rel), len(absn)) + 511) // 512)
    data_off = loc_off + 2 * loc_space

    blocks = {}  # index -> [bitmap bytearray, data bytearray]
    for off, data in writes:
        assert off % 512 == 0 and len(data) % 512 == 0, 'unaligned write'
        assert off + len(data) <= vsize, 'write past the virtual size'
        pos = 0
        while pos < len(data):
            v = off + pos
            b, boff = divmod(v, bs)
            n = min(bs - boff, len(data) - pos)
            blk = blocks.setdefault(b, [bytearray(bitmap_size),
                                        bytearray(bs)])
            blk[1][boff:boff + n] = data[pos:pos + n]
            for s in range(boff // 512, (boff + n) // 512):
                blk[0][s // 8] |= 0x80 >> (s % 8)
            pos += n

    bat = [0xFFFFFFFF] * nblocks
    out = bytearray()
    cur = data_off
    order = sorted(blocks)
    for b in order:
        bat[b] = cur // 512
        cur += bitmap_size + bs

    footer = bytearray(512)
    footer[0:8] = b'conectix'
    struct.pack_into('>I', footer, 8, 2)
    struct.pack_into('>I', footer, 12, 0x00010000)
    struct.pack_into('>Q', footer, 16, dyn_off)
    footer[24:68] = pfoot[24:68]          # timestamp, creator, sizes, CHS
    struct.pack_into('>I', footer, 60, 4)  # differencing
    footer[68:84] = uuid.uuid4().bytes
    struct.pack_into('>I', footer, 64, vhd_checksum(footer, 64))

    dyn = bytearray(1024)
    dyn[0:8] = b'cxsparse'
    struct.pack_into('>Q', dyn, 8, 0xFFFFFFFFFFFFFFFF)
    struct.pack_into('>Q', dyn, 16, bat_off)
    struct.pack_into('>III', dyn, 24, 0x00010000, nblocks, bs)
    dyn[40:56] = parent_id
    name = base.encode('utf-16-be')[:510]
    dyn[64:64 + len(name)] = name
    struct.pack_into('>4sIIIQ', dyn, 576, b'W2ru', loc_space, len(rel), 0,
                     loc_off)
    struct.pack_into('>4sIIIQ', dyn, 600, b'W2ku', loc_space, len(absn), 0,
                     loc_off + loc_space)
    struct.pack_into('>I', dyn, 36, vhd_checksum(dyn, 36))

    with open(child, 'wb') as f:
        f.write(footer)
        f.write(dyn)
        f.write(struct.pack('>%dI' % nblocks, *bat))
        f.seek(loc_off)
        f.write(rel)
        f.seek(loc_off + loc_space)
        f.write(absn)
        f.seek(data_off)
        for b in order:
            f.write(blocks[b][0])
            f.write(blocks[b][1])
        f.seek(cur)
        f.write(footer)


# ---------------------------------------------------------------- VHDX

GUID_BAT = uuid.UUID('2DC27766-F623-4200-9D64-115E9BFD4A08').bytes_le
GUID_META = uuid.UUID('8B7CA206-4790-4B9A-B8FE-575F050F886E').bytes_le
GUID_PARAMS = uuid.UUID('CAA16737-FA36-4D43-B3B6-33F0AA44E76B').bytes_le
GUID_VSIZE = uuid.UUID('2FA54224-CD1B-4876-B211-5DBED83BF4B8').bytes_le
GUID_VDISKID = uuid.UUID('BECA12AB-B2E6-4523-93EF-C309E000C746').bytes_le
GUID_LSS = uuid.UUID('8141BF1D-A96F-4709-BA47-F233A8FAAB5F').bytes_le
GUID_PSS = uuid.UUID('CDA348C7-445D-4471-9CC9-E9885251C556').bytes_le
GUID_PLOC = uuid.UUID('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C').bytes_le
GUID_PLOC_TYPE = uuid.UUID('B04AEFB7-D19E-4A81-B789-25B8E9445913').bytes_le


def vhdx_current_header(img):
    best = None
    for off in (64 * KiB, 128 * KiB):
        h = bytearray(img[off:off + 4 * KiB])
        if h[:4] != b'head':
            continue
        stored = struct.unpack_from('<I', h, 4)[0]
        h[4:8] = b'\0\0\0\0'
        if crc32c(h) != stored:
            continue
        seq = struct.unpack_from('<Q', h, 8)[0]
        if best is None or seq > best[0]:
            best = (seq, off)
    assert best is not None, 'no valid header'
    return best[1]


def vhdx_info(path):
    with open(path, 'rb') as f:
        img = f.read(320 * KiB)
        hoff = vhdx_current_header(img)
        dwg = img[hoff + 32:hoff + 48]
        rt = img[192 * KiB:256 * KiB]
        n = struct.unpack_from('<I', rt, 8)[0]
        meta_off = None
        for i in range(n):
            e = rt[16 + 32 * i:48 + 32 * i]
            if e[:16] == GUID_META:
                meta_off = struct.unpack_from('<Q', e, 16)[0]
        f.seek(meta_off)
        meta = f.read(MiB)
    n = struct.unpack_from('<H', meta, 10)[0]
    items = {}
    for i in range(n):
        e = meta[32 + 32 * i:64 + 32 * i]
        ioff, ilen = struct.unpack_from('<II', e, 16)
        items[e[:16]] = meta[ioff:ioff + ilen]
    vsize = struct.unpack('<Q', items[GUID_VSIZE])[0]
    lss = struct.unpack('<I', items[GUID_LSS])[0]
    return dwg, vsize, lss


def diff_vhdx(parent, child, opts, writes, zeros):
    dwg, vsize, lss = vhdx_info(parent)
    if opts.get('wrong_parent_id'):
        dwg = uuid.uuid4().bytes_le
    bs = opts.get('block_size', MiB)
    cr = (1 << 23) * lss // bs
    nblocks = (vsize + bs - 1) // bs
    nchunks = (nblocks + cr - 1) // cr
    nentries = nchunks * (cr + 1)
    base = os.path.basename(parent)

    present = {}  # block -> (bytearray data, bytearray of per-sector flags)
    for off, data in writes:
        assert off % lss == 0 and len(data) % lss == 0, 'unaligned write'
        assert off + len(data) <= vsize, 'write past the virtual size'
        pos = 0
        while pos < len(data):
            b, boff = divmod(off + pos, bs)
            n = min(bs - boff, len(data) - pos)
            blk = present.setdefault(b, (bytearray(bs), bytearray(bs // lss)))
            blk[0][boff:boff + n] = data[pos:pos + n]
            for s in range(boff // lss, (boff + n) // lss):
                blk[1][s] = 1
            pos += n
    zero_blocks = set()
    for off, length in zeros:
        assert off % bs == 0 and (length % bs == 0 or off + length == vsize)
        for b in range(off // bs, (off + length + bs - 1) // bs):
            zero_blocks.add(b)
            present.pop(b, None)

    meta_off, bat_off = 2 * MiB, 3 * MiB
    bat_len = (nentries * 8 + MiB - 1) // MiB * MiB
    cur = bat_off + bat_len
    bat = [0] * nentries
    chunk_bitmaps = {}
    layout = []
    for b in sorted(present):
        data, flags = present[b]
        nsec = min(bs, vsize - b * bs) // lss
        full = all(flags[:nsec])
        idx = b + b // cr
        bat[idx] = (cur // MiB) << 20 | (6 if full else 7)
        layout.append((cur, bytes(data)))
        cur += bs
        if not full:
            c = b // cr
            bm = chunk_bitmaps.setdefault(c, bytearray(MiB))
            first = (b % cr) * (bs // lss)
            for s in range(nsec):
                if flags[s]:
                    bm[(first + s) // 8] |= 1 << ((first + s) % 8)
    for b in zero_blocks:
        bat[b + b // cr] = 2
    for c in sorted(chunk_bitmaps):
        bat[c * (cr + 1) + cr] = (cur // MiB) << 20 | 6
        layout.append((cur, bytes(chunk_bitmaps[c])))
        cur += MiB

    # parent locator
    kv = [('parent_linkage', '{%s}' % uuid.UUID(bytes_le=dwg)),
          ('relative_path', opts.get('rel', '.\\' + base)),
          ('absolute_win32_path', opts.get('abs', 'C:\\VMs\\' + base))]
    loc = bytearray(GUID_PLOC_TYPE + struct.pack('<HH', 0, len(kv)))
    strings = bytearray()
    strbase = 20 + 12 * len(kv)
    for k, v in kv:
        kb, vb = k.encode('utf-16-le'), v.encode('utf-16-le')
        ko = strbase + len(strings)
        strings += kb
        vo = strbase + len(strings)
        strings += vb
        loc += struct.pack('<IIHH', ko, vo, len(kb), len(vb))
    loc += strings

    meta = bytearray(MiB)
    meta[0:8] = b'metadata'
    items = [(GUID_PARAMS, struct.pack('<II', bs, 2), 4),
             (GUID_VSIZE, struct.pack('<Q', vsize), 6),
             (GUID_LSS, struct.pack('<I', lss), 6),
             (GUID_PSS, struct.pack('<I', 4096), 6),
             (GUID_VDISKID, uuid.uuid4().bytes_le, 6),
             (GUID_PLOC, bytes(loc), 6)]
    struct.pack_into('<H', meta, 10, len(items))
    ioff = 64 * KiB
    for i, (g, val, flags) in enumerate(items):
        struct.pack_into('<16sIII', meta, 32 + 32 * i, g, ioff, len(val),
                         flags)
        meta[ioff:ioff + len(val)] = val
        ioff += (len(val) + 7) & ~7

    hdr = bytearray(4 * KiB)
    hdr[0:4] = b'head'
    struct.pack_into('<Q16s16s16sHHIQ', hdr, 8, 1, uuid.uuid4().bytes,
                     uuid.uuid4().bytes, bytes(16), 0, 1, MiB, MiB)
    rt = bytearray(64 * KiB)
    rt[0:4] = b'regi'
    struct.pack_into('<I', rt, 8, 2)
    struct.pack_into('<16sQII', rt, 16, GUID_BAT, bat_off, bat_len, 1)
    struct.pack_into('<16sQII', rt, 48, GUID_META, meta_off, MiB, 1)
    struct.pack_into('<I', rt, 4, crc32c(rt))

    with open(child, 'wb') as f:
        f.write(b'vhdxfile' + 'ferry vhdtool'.encode('utf-16-le'))
        for i, off in enumerate((64 * KiB, 128 * KiB)):
            h = bytearray(hdr)
            struct.pack_into('<Q', h, 8, i + 1)
            struct.pack_into('<I', h, 4, crc32c(h))
            f.seek(off)
            f.write(h)
        for off in (192 * KiB, 256 * KiB):
            f.seek(off)
            f.write(rt)
        f.seek(meta_off)
        f.write(meta)
        f.seek(bat_off)
        f.write(struct.pack('<%dQ' % nentries, *bat))
        for off, data in layout:
            f.seek(off)
            f.write(data)
        f.truncate(max(cur, bat_off + bat_len))


def vhdx_fix(path, dirty=False):
    """Recompute the CRCs of both headers and region tables (after a test
    edited them); with DIRTY, also give both headers a log GUID."""
    with open(path, 'r+b') as f:
        for off in (64 * KiB, 128 * KiB):
            f.seek(off)
            h = bytearray(f.read(4 * KiB))
            if dirty:
                h[48:64] = uuid.uuid4().bytes
            h[4:8] = bytes(4)
            struct.pack_into('<I', h, 4, crc32c(h))
            f.seek(off)
            f.write(h)
        if not dirty:
            for off in (192 * KiB, 256 * KiB):
                f.seek(off)
                rt = bytearray(f.read(64 * KiB))
                rt[4:8] = bytes(4)
                struct.pack_into('<I', rt, 4, crc32c(rt))
                f.seek(off)
                f.write(rt)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == 'set-dirty':
        vhdx_fix(argv[2], dirty=True)
        return
    if cmd == 'vhdx-fix':
        vhdx_fix(argv[2])
        return
    if cmd not in ('diff-vhd', 'diff-vhdx') or len(argv) < 4:
        sys.exit(__doc__)
    parent, child = argv[2], argv[3]
    opts, wz = {}, []
    args = argv[4:]
    i = 0
    while i < len(args):
        a = args[i]
        if a == '--write':
            wz.append(('write', args[i + 1]))
            i += 2
        elif a == '--zero':
            wz.append(('zero', args[i + 1]))
            i += 2
        elif a == '--block-size':
            opts['block_size'] = int(args[i + 1], 0)
            i += 2
        elif a in ('--rel', '--abs'):
            opts[a[2:]] = args[i + 1]
            i += 2
        elif a == '--wrong-parent-id':
            opts['wrong_parent_id'] = True
            i += 1
        else:
            sys.exit('vhdtool: unknown option ' + a)
    writes, zeros = parse_writes(wz)
    if cmd == 'diff-vhd':
        assert not zeros, '--zero is for vhdx'
        diff_vhd(parent, child, opts, writes)
    else:
        diff_vhdx(parent, child, opts, writes, zeros)


if __name__ == '__main__':
    main(sys.argv)
