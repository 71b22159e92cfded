#!/usr/bin/python3
"""Test image writer for VHD and VHDX differencing disks (qemu-img cannot
create them).  Written from the published format specifications, not from
ferry's reader.

  vhdtool.py diff-vhd  PARENT CHILD [options]    differencing VHD
  vhdtool.py diff-vhdx PARENT CHILD [options]    differencing VHDX (AVHDX)
  vhdtool.py set-dirty VHDX                      give the VHDX a log GUID only
  vhdtool.py dirty-vhdx VHDX [log options]       write updates into the log
                                                 only (a crash before they
                                                 reached their place)
  vhdtool.py vhdx-fix VHDX                       recompute header/region CRCs

options for diff-*:
  --write OFFSET:FILE    put FILE's bytes at virtual OFFSET (sector aligned)
  --zero OFFSET:LENGTH   (vhdx) mark whole blocks as ZERO
  --block-size N         block size in bytes (vhd default 2 MiB, vhdx 1 MiB)
  --wrong-parent-id      record a parent id that does not match PARENT
  --rel NAME / --abs NAME   parent locator paths (default .\\BASENAME and
                         C:\\VMs\\BASENAME)

log options for dirty-vhdx (each --data/--zero-block is one log entry, in
order, consecutive sequence numbers; every entry's tail is the first one):
  --data OFFSET:FILE     FILE's bytes (4 KiB multiple, inside one block) at
                         virtual OFFSET: data sectors in place if the block
                         is present, else a new block past the end of the
                         file plus the BAT sector that points at it
  --zero-block OFFSET    the BAT sector with OFFSET's block set to ZERO, and
                         a zero descriptor over the block's old first 64 KiB
  --zero-data OFFSET:LENGTH  a zero descriptor over payload bytes in place
                         (4 KiB aligned, inside one present block)
  --wrap                 end the first entry at the end of the log ring,
                         so that the sequence wraps between entries
  --wrap-inside          start the sequence 8 KiB before the end of the
                         ring, so that the first entry itself wraps
  --stale                also write an older valid sequence (lower numbers)
                         that would write garbage if it were replayed
  --bad-crc K            corrupt entry K's checksum (0-based)
  --gap K                entry K skips a sequence number
  --flood                instead: an entry header as long as the log in
                         every sector (hostile: costly to scan)
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


def vhdx_layout(img):
    """Where a VHDX's structures are (IMG: its bytes)."""
    hoff = vhdx_current_header(img)
    h = img[hoff:hoff + 4 * KiB]
    log_len, log_off = struct.unpack_from('<IQ', h, 68)
    rt = img[192 * KiB:256 * KiB]
    out = {'hoff': hoff, 'log_off': log_off, 'log_len': log_len}
    for i in range(struct.unpack_from('<I', rt, 8)[0]):
        e = rt[16 + 32 * i:48 + 32 * i]
        if e[:16] == GUID_BAT:
            out['bat_off'] = struct.unpack_from('<Q', e, 16)[0]
        if e[:16] == GUID_META:
            out['meta_off'] = struct.unpack_from('<Q', e, 16)[0]
    meta = img[out['meta_off']:out['meta_off'] + MiB]
    for i in range(struct.unpack_from('<H', meta, 10)[0]):
        e = meta[32 + 32 * i:64 + 32 * i]
        ioff = struct.unpack_from('<I', e, 16)[0]
        if e[:16] == GUID_PARAMS:
            out['bs'] = struct.unpack_from('<I', meta, ioff)[0]
        if e[:16] == GUID_LSS:
            out['lss'] = struct.unpack_from('<I', meta, ioff)[0]
    out['cr'] = (1 << 23) * out['lss'] // out['bs']
    return out


def log_entry(seq, tail, guid, descs, flushed, last):
    """One log entry: DESCS is a list of ('data', off, 4 KiB bytes) and
    ('zero', off, length)."""
    n = len(descs)
    dsec = (64 + 32 * n + 4 * KiB - 1) // (4 * KiB)
    datas = [d for d in descs if d[0] == 'data']
    length = (dsec + len(datas)) * 4 * KiB
    e = bytearray(length)
    struct.pack_into('<4sIIIQII16sQQ', e, 0, b'loge', 0, length, tail, seq,
                     n, 0, guid, flushed, last)
    k = 0
    for i, d in enumerate(descs):
        p = 64 + 32 * i
        if d[0] == 'zero':
            struct.pack_into('<4sIQQQ', e, p, b'zero', 0, d[2], d[1], seq)
        else:
            buf = d[2]
            struct.pack_into('<4s4s8sQQ', e, p, b'desc', buf[4092:4096],
                             buf[0:8], d[1], seq)
            q = (dsec + k) * 4 * KiB
            e[q:q + 4 * KiB] = (b'data' + struct.pack('<I', seq >> 32) +
                                buf[8:4092] +
                                struct.pack('<I', seq & 0xFFFFFFFF))
            k += 1
    struct.pack_into('<I', e, 4, crc32c(e))
    return e


def dirty_vhdx(path, ops, opts):
    """Write OPS into PATH's log only (the file keeps its old contents) and
    give the headers the log's GUID."""
    with open(path, 'rb') as f:
        img = bytearray(f.read())
    lay = vhdx_layout(img)
    bs, cr, bat_off = lay['bs'], lay['cr'], lay['bat_off']
    size = len(img)
    end = (size + MiB - 1) // MiB * MiB
    guid = uuid.uuid4().bytes
    bat = {}  # BAT sector file offset -> bytearray, as the log leaves it

    def bat_sector(idx):
        so = bat_off + idx * 8 // (4 * KiB) * (4 * KiB)
        if so not in bat:
            bat[so] = bytearray(img[so:so + 4 * KiB])
        return so, bat[so]

    entries = []
    for kind, val in ops:
        descs = []
        if kind == 'data':
            voff, data = val
            assert voff % (4 * KiB) == 0 and len(data) % (4 * KiB) == 0
            b, boff = divmod(voff, bs)
            assert boff + len(data) <= bs, 'a --data write crosses a block'
            idx = b + b // cr
            so, sec = bat_sector(idx)
            ent = struct.unpack_from('<Q', sec, idx * 8 - (so - bat_off))[0]
            if ent & 7 == 6:
                foff = (ent >> 20) * MiB
            else:
                foff = end
                end += bs
                struct.pack_into('<Q', sec, idx * 8 - (so - bat_off),
                                 (foff // MiB) << 20 | 6)
                descs.append(('data', so, bytes(sec)))
            for i in range(0, len(data), 4 * KiB):
                descs.append(('data', foff + boff + i,
                              data[i:i + 4 * KiB]))
        elif kind == 'zdata':
            voff, length = val
            b, boff = divmod(voff, bs)
            assert voff % (4 * KiB) == 0 and length % (4 * KiB) == 0
            idx = b + b // cr
            so, sec = bat_sector(idx)
            ent = struct.unpack_from('<Q', sec, idx * 8 - (so - bat_off))[0]
            assert ent & 7 == 6, '--zero-data needs a present block'
            descs.append(('zero', (ent >> 20) * MiB + boff, length))
        else:
            b = val // bs
            idx = b + b // cr
            so, sec = bat_sector(idx)
            ent = struct.unpack_from('<Q', sec, idx * 8 - (so - bat_off))[0]
            struct.pack_into('<Q', sec, idx * 8 - (so - bat_off), 2)
            descs.append(('data', so, bytes(sec)))
            if ent & 7 == 6:
                descs.append(('zero', (ent >> 20) * MiB, 64 * KiB))
        entries.append(descs)

    log_len, log_off = lay['log_len'], lay['log_off']
    ring = bytearray(log_len)
    flushed = size // MiB * MiB
    base_seq = 1000

    def put(pos, e):
        for i in range(0, len(e), 4 * KiB):
            p = (pos + i) % log_len
            ring[p:p + 4 * KiB] = e[i:i + 4 * KiB]
        return (pos + len(e)) % log_len

    if opts.get('stale'):
        # an older sequence (numbers 10, 11) that would zero the BAT
        pos = 64 * KiB
        for j in range(2):
            e = log_entry(10 + j, 64 * KiB, guid,
                          [('zero', bat_off, 4 * KiB)], flushed, end)
            pos = put(pos, e)
    start = 256 * KiB
    if opts.get('wrap'):
        start = log_len - len(log_entry(1, 0, guid, entries[0], 0, 0))
    if opts.get('wrap_inside'):
        start = log_len - 8 * KiB
    pos, seq = start, base_seq
    for k, descs in enumerate(entries):
        if opts.get('gap') == k:
            seq += 1
        e = log_entry(seq, start, guid, descs, flushed, end)
        if opts.get('bad_crc') == k:
            e[4] ^= 0xFF
        pos = put(pos, e)
        seq += 1
    if opts.get('flood'):
        for p in range(0, log_len, 4 * KiB):
            struct.pack_into('<4sIIIQII16sQQ', ring, p, b'loge', 0, log_len,
                             0, 1, 0, 0, guid, flushed, end)
    img[log_off:log_off + log_len] = ring
    for off in (64 * KiB, 128 * KiB):
        h = bytearray(img[off:off + 4 * KiB])
        h[48:64] = guid
        h[4:8] = bytes(4)
        struct.pack_into('<I', h, 4, crc32c(h))
        img[off:off + 4 * KiB] = h
    with open(path, 'r+b') as f:
        f.seek(0)
        f.write(img)


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
    if cmd == 'dirty-vhdx':
        ops, opts, args, i = [], {}, argv[3:], 0
        while i < len(args):
            a = args[i]
            if a == '--data':
                off, fn = args[i + 1].split(':', 1)
                with open(fn, 'rb') as f:
                    ops.append(('data', (int(off, 0), f.read())))
                i += 2
            elif a == '--zero-data':
                off, length = args[i + 1].split(':', 1)
                ops.append(('zdata', (int(off, 0), int(length, 0))))
                i += 2
            elif a == '--zero-block':
                ops.append(('zero', int(args[i + 1], 0)))
                i += 2
            elif a in ('--wrap', '--wrap-inside', '--stale', '--flood'):
                opts[a[2:].replace('-', '_')] = True
                i += 1
            elif a in ('--bad-crc', '--gap'):
                opts[a[2:].replace('-', '_')] = int(args[i + 1])
                i += 2
            else:
                sys.exit('vhdtool: unknown option ' + a)
        dirty_vhdx(argv[2], ops, opts)
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
