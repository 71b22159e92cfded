#!/usr/bin/python3
"""Hostile VHD/VHDX corpus for tests/t/26-vhd-hostile.t.

  vhd-hostile.py DIR

DIR holds the valid images the cases are made from: dyn.vhd (qemu-img,
dynamic), fixed.vhd, diff.vhd (differencing, parent dyn.vhd), dyn.vhdx
(qemu-img, dynamic, 1 MiB blocks), diff.avhdx (differencing, parent
dyn.vhdx, with a partially present block).  Writes DIR/cases/NAME files and
prints one line per case: NAME<TAB>regex the error must match.  Checksums
are recomputed after an edit unless the case is about the checksum, so
that the reader reaches the field under test.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vhdtool  # noqa: E402

KiB, MiB = 1 << 10, 1 << 20
D = sys.argv[1]
OUT = os.path.join(D, 'cases')
os.makedirs(OUT, exist_ok=True)
cases = []


def load(name):
    with open(os.path.join(D, name), 'rb') as f:
        return bytearray(f.read())


def emit(name, data, regex, ext):
    with open(os.path.join(OUT, name + ext), 'wb') as f:
        f.write(data)
    cases.append((name + ext, regex))


# ------------------------------------------------------------------ VHD

def vhd_fix(img, footer=True, dyn=True):
    """Recompute footer (both copies) and dynamic header checksums."""
    if footer:
        for off in (0, len(img) - 512):
            if img[off:off + 8] == b'conectix':
                struct.pack_into('>I', img, off + 64, 0)
                struct.pack_into('>I', img, off + 64,
                                 vhdtool.vhd_checksum(img[off:off + 512], 64))
    if dyn:
        doff = struct.unpack_from('>Q', img, len(img) - 512 + 16)[0]
        if doff + 1024 <= len(img) and img[doff:doff + 8] == b'cxsparse':
            struct.pack_into('>I', img, doff + 36,
                             vhdtool.vhd_checksum(img[doff:doff + 1024], 36))


def vhd_footer_edit(img, off, fmt, val):
    """Edit a footer field in both copies."""
    for base in (0, len(img) - 512):
        if img[base:base + 8] == b'conectix':
            struct.pack_into(fmt, img, base + off, val)


def vhd_cases():
    src = load('dyn.vhd')
    size = len(src)
    doff = struct.unpack_from('>Q', src, 16)[0]
    bat_off = struct.unpack_from('>Q', src, doff + 16)[0]
    bat0 = struct.unpack_from('>I', src, bat_off)[0]

    for cut in (8, 300, 512, 700, 1536, 1600, bat0 * 512 + 100,
                size - 4096, size - 513, size - 512, size - 1):
        emit('vhd-trunc-%d' % cut, src[:cut],
             r'footer|too short|truncated|past the end', '.vhd')

    img = bytearray(src)
    img[-100] ^= 0xFF
    emit('vhd-footer-csum', img, r'footer checksum', '.vhd')
    img = bytearray(src)
    vhd_footer_edit(img, 12, '>I', 0x00020000)
    vhd_fix(img)
    emit('vhd-footer-version', img, r'file format version', '.vhd')
    for name, val in (('zero', 0), ('max', 0xFFFFFFFF), ('bad', 7)):
        img = bytearray(src)
        vhd_footer_edit(img, 60, '>I', val)
        vhd_fix(img, dyn=False)
        emit('vhd-footer-type-' + name, img, r'disk type', '.vhd')
    for name, val in (('zero', 0), ('max', 0xFFFFFFFFFFFFFFFF),
                      ('eof', size), ('tail', size - 600)):
        img = bytearray(src)
        vhd_footer_edit(img, 16, '>Q', val)
        vhd_fix(img, dyn=False)
        emit('vhd-footer-dataoff-' + name, img, r'data offset', '.vhd')
    img = bytearray(src)
    vhd_footer_edit(img, 28, '4s', b'win ')
    vhd_footer_edit(img, 48, '>Q', 0xFFFFFFFFFFFFFE00)
    vhd_fix(img)
    emit('vhd-footer-size-max', img, r'virtual size .* larger', '.vhd')
    img = bytearray(src)
    vhd_footer_edit(img, 28, '4s', b'win ')
    vhd_footer_edit(img, 48, '>Q', 1 << 40)
    vhd_fix(img)
    emit('vhd-footer-size-big', img, r'max table entries', '.vhd')

    img = bytearray(src)
    img[doff:doff + 8] = bytes(8)
    emit('vhd-dyn-cookie', img, r'dynamic header .* bad cookie', '.vhd')
    img = bytearray(src)
    img[doff + 700] ^= 0xFF
    emit('vhd-dyn-csum', img, r'dynamic header checksum', '.vhd')
    for name, val in (('zero', 0), ('odd', 3 * 512), ('max', 0xFFFFFFFF),
                      ('huge', 1 << 31)):
        img = bytearray(src)
        struct.pack_into('>I', img, doff + 32, val)
        vhd_fix(img)
        emit('vhd-dyn-blocksize-' + name, img, r'block size', '.vhd')
    img = bytearray(src)
    struct.pack_into('>I', img, doff + 28, 0)
    vhd_fix(img)
    emit('vhd-dyn-maxentries-zero', img, r'max table entries', '.vhd')
    for name, val in (('eof', size), ('max', 0xFFFFFFFFFFFFFFFF),
                      ('zero', 0), ('tail', size - 512)):
        img = bytearray(src)
        struct.pack_into('>Q', img, doff + 16, val)
        vhd_fix(img)
        emit('vhd-dyn-tableoff-' + name, img, r'table offset', '.vhd')
    img = bytearray(src)
    struct.pack_into('>Q', img, doff + 16, doff)
    vhd_fix(img)
    emit('vhd-dyn-table-on-header', img, r'BAT .* overlaps the dynamic header',
         '.vhd')
    for name, val in (('footer', 0), ('dynhdr', doff // 512),
                      ('bat', bat_off // 512)):
        img = bytearray(src)
        struct.pack_into('>I', img, bat_off, val)
        emit('vhd-bat-on-' + name, img, r'BAT entry 0 .* points at', '.vhd')
    for name, val in (('eof', size // 512), ('max', 0xFFFFFFFE),
                      ('last', size // 512 - 2)):
        img = bytearray(src)
        struct.pack_into('>I', img, bat_off, val)
        emit('vhd-bat-past-' + name, img, r'BAT entry 0 .* past the end',
             '.vhd')

    fx = load('fixed.vhd')
    img = bytearray(fx)
    struct.pack_into('>Q', img, len(img) - 512 + 48, len(img) * 4)
    struct.pack_into('>4s', img, len(img) - 512 + 28, b'win ')
    vhd_fix(img, dyn=False)
    emit('vhd-fixed-size-past-eof', img, r'current size .* past the end',
         '.vhd')

    df = load('diff.vhd')
    doff = struct.unpack_from('>Q', df, 16)[0]
    for name, off, fmt, val, rx in (
            ('len-max', 8, '>I', 0xFFFFFFFF, r'parent locator 0.*too large'),
            ('off-eof', 16, '>Q', len(df), r'parent locator 0.*past the end'),
            ('off-max', 16, '>Q', 0xFFFFFFFFFFFFFFF0,
             r'parent locator 0.*past the end')):
        img = bytearray(df)
        struct.pack_into(fmt, img, doff + 576 + off, val)
        vhd_fix(img)
        emit('vhd-diff-locator-' + name, img, rx, '.vhd')
    img = bytearray(df)
    img[doff + 64:doff + 768] = bytes(704)
    vhd_fix(img)
    emit('vhd-diff-no-parent-name', img, r'no usable parent file name', '.vhd')


# ----------------------------------------------------------------- VHDX

def vhdx_layout(img):
    rt = img[192 * KiB:256 * KiB]
    n = struct.unpack_from('<I', rt, 8)[0]
    regions = {}
    for i in range(n):
        e = rt[16 + 32 * i:48 + 32 * i]
        regions[bytes(e[:16])] = (16 + 32 * i,) + struct.unpack_from('<QI', e, 16)
    meta_off = regions[vhdtool.GUID_META][1]
    meta = img[meta_off:meta_off + 64 * KiB]
    items = {}
    for i in range(struct.unpack_from('<H', meta, 10)[0]):
        e = meta[32 + 32 * i:64 + 32 * i]
        items[bytes(e[:16])] = (meta_off + 32 + 32 * i,
                                meta_off + struct.unpack_from('<I', e, 16)[0])
    return regions, items


def vhdx_fixcrc(img, headers=True, regions=True):
    if headers:
        for off in (64 * KiB, 128 * KiB):
            struct.pack_into('<I', img, off + 4, 0)
            struct.pack_into('<I', img, off + 4,
                             vhdtool.crc32c(img[off:off + 4 * KiB]))
    if regions:
        for off in (192 * KiB, 256 * KiB):
            struct.pack_into('<I', img, off + 4, 0)
            struct.pack_into('<I', img, off + 4,
                             vhdtool.crc32c(img[off:off + 64 * KiB]))


def region_edit(img, entry_off, fmt, field, val):
    for base in (192 * KiB, 256 * KiB):
        struct.pack_into(fmt, img, base + entry_off + field, val)
    vhdx_fixcrc(img, headers=False)


def vhdx_cases():
    src = load('dyn.vhdx')
    size = len(src)
    regions, items = vhdx_layout(src)
    bat_ent, bat_off, bat_len = regions[vhdtool.GUID_BAT]
    meta_ent, meta_off, meta_len = regions[vhdtool.GUID_META]
    bat0 = struct.unpack_from('<Q', src, bat_off)[0]
    first_block = (bat0 >> 20) * MiB

    for cut in (100, 64 * KiB + 10, 200 * KiB, MiB - 1, bat_off + 8,
                meta_off + 100, first_block + 4096, size - 4096, size - 1):
        emit('vhdx-trunc-%d' % cut, src[:cut],
             r'too short|past the end|unexpected end|outside the file', '.vhdx')

    img = bytearray(src)
    img[64 * KiB:64 * KiB + 4] = bytes(4)
    img[128 * KiB:128 * KiB + 4] = bytes(4)
    emit('vhdx-headers-signature', img, r'no valid VHDX header.*signature',
         '.vhdx')
    img = bytearray(src)
    img[64 * KiB + 100] ^= 1
    img[128 * KiB + 100] ^= 1
    emit('vhdx-headers-crc', img, r'no valid VHDX header.*CRC32C', '.vhdx')
    img = bytearray(src)
    struct.pack_into('<H', img, 64 * KiB + 66, 2)
    struct.pack_into('<H', img, 128 * KiB + 66, 0)
    vhdx_fixcrc(img, regions=False)
    emit('vhdx-headers-version', img, r'no valid VHDX header.*version',
         '.vhdx')
    img = bytearray(src)
    vhdtool_dirty = bytearray(16)
    vhdtool_dirty[0] = 1
    for off in (64 * KiB, 128 * KiB):
        img[off + 48:off + 64] = vhdtool_dirty
    vhdx_fixcrc(img, regions=False)
    emit('vhdx-log-dirty', img,
         r'the VHDX header says the log needs replaying but the log holds '
         r'no valid sequence', '.vhdx')
    lay = vhdtool.vhdx_layout(src)

    def with_log(descs, log_off=None, last=None):
        # one valid entry (tail: itself) at the start of the log ring
        img = bytearray(src)
        guid = bytes(range(1, 17))
        e = vhdtool.log_entry(7, 0, guid, descs, len(img) // MiB * MiB,
                              len(img) if last is None else last)
        img[lay['log_off']:lay['log_off'] + len(e)] = e
        for off in (64 * KiB, 128 * KiB):
            img[off + 48:off + 64] = guid
            if log_off is not None:
                struct.pack_into('<Q', img, off + 72, log_off)
        vhdx_fixcrc(img, regions=False)
        return img

    sec = bytes(4 * KiB)
    emit('vhdx-log-area', with_log([], log_off=size + MiB),
         r'VHDX log needs replaying but its area .* outside the file',
         '.vhdx')
    emit('vhdx-log-writes-header', with_log([('data', 64 * KiB, sec)]),
         r'VHDX log entry 7, descriptor 0 writes to file offset 65536, '
         r'inside the headers or the log itself', '.vhdx')
    emit('vhdx-log-writes-log', with_log([('zero', lay['log_off'], MiB)]),
         r'inside the headers or the log itself', '.vhdx')
    emit('vhdx-log-huge-zero', with_log([('zero', 2 * MiB, 1 << 62)]),
         r'VHDX log entry 7, descriptor 0: file offset .* is beyond any '
         r'VHDX file', '.vhdx')
    emit('vhdx-log-huge-last', with_log([], last=1 << 60),
         r'LastFileOffset .* is beyond any VHDX file', '.vhdx')
    emit('vhdx-log-bat-past-end',
         with_log([('data', bat_off, struct.pack('<Q', (size // MiB + 5) << 20
                                                  | 6) + bytes(4088))]),
         r'VHDX BAT entry 0 .* points past the end of the file', '.vhdx')

    img = bytearray(src)
    img[192 * KiB + 1000] ^= 1
    img[256 * KiB + 1000] ^= 1
    emit('vhdx-region-crc', img, r'no valid VHDX region table.*CRC32C',
         '.vhdx')
    img = bytearray(src)
    img[192 * KiB:192 * KiB + 4] = bytes(4)
    img[256 * KiB:256 * KiB + 4] = bytes(4)
    emit('vhdx-region-signature', img, r'no valid VHDX region table',
         '.vhdx')
    img = bytearray(src)
    for base in (192 * KiB, 256 * KiB):
        struct.pack_into('<I', img, base + 8, 0xFFFFFFFF)
    vhdx_fixcrc(img, headers=False)
    emit('vhdx-region-count-max', img, r'region table.*too many entries',
         '.vhdx')
    img = bytearray(src)
    for base in (192 * KiB, 256 * KiB):
        struct.pack_into('<I', img, base + 8, 0)
    vhdx_fixcrc(img, headers=False)
    emit('vhdx-region-count-zero', img, r'region table has no BAT', '.vhdx')
    for name, field, fmt, val, rx in (
            ('bat-off-zero', 16, '<Q', 0, r'entry [0-9]+ \(BAT\)'),
            ('bat-off-eof', 16, '<Q', (size + MiB) // MiB * MiB,
             r'entry [0-9]+ \(BAT\).*outside'),
            ('bat-off-max', 16, '<Q', 0xFFFFFFFFFFF00000,
             r'entry [0-9]+ \(BAT\).*outside'),
            ('bat-off-odd', 16, '<Q', bat_off + 512, r'\(BAT\).*misaligned'),
            ('bat-len-zero', 24, '<I', 0, r'\(BAT\)'),
            ('bat-len-max', 24, '<I', 0xFFF00000, r'\(BAT\).*outside'),
            ('bat-on-meta', 16, '<Q', meta_off, r'regions overlap'),
            ('bat-unknown-required', 0, '16s', b'\x01' * 16,
             r'unknown required region')):
        img = bytearray(src)
        region_edit(img, bat_ent, fmt, field, val)
        if name == 'bat-unknown-required':
            region_edit(img, bat_ent, '<I', 28, 1)
        emit('vhdx-region-' + name, img, rx, '.vhdx')
    img = bytearray(src)
    region_edit(img, meta_ent, '<Q', 16, (size + MiB) // MiB * MiB)
    emit('vhdx-region-meta-off-eof', img, r'\(metadata\).*outside', '.vhdx')

    img = bytearray(src)
    img[meta_off:meta_off + 8] = bytes(8)
    emit('vhdx-meta-signature', img, r'metadata table has a bad signature',
         '.vhdx')
    img = bytearray(src)
    struct.pack_into('<H', img, meta_off + 10, 0xFFFF)
    emit('vhdx-meta-count-max', img, r'metadata table entry count', '.vhdx')
    img = bytearray(src)
    struct.pack_into('<H', img, meta_off + 10, 0)
    emit('vhdx-meta-count-zero', img, r'metadata has no', '.vhdx')
    ent, _ = items[vhdtool.GUID_PARAMS]
    for name, field, val, rx in (
            ('offset-max', 16, 0xFFFFFFF0, r'outside the metadata region'),
            ('offset-zero', 16, 0, r'outside the metadata region'),
            ('length-max', 20, 0xFFFFFFFF, r'outside the metadata region'),
            ('length-wrong', 20, 4, r'file parameters item has length 4')):
        img = bytearray(src)
        struct.pack_into('<I', img, ent + field, val)
        emit('vhdx-meta-params-' + name, img, rx, '.vhdx')
    img = bytearray(src)
    img[ent:ent + 16] = b'\x02' * 16
    struct.pack_into('<I', img, ent + 24, 4)
    emit('vhdx-meta-unknown-required', img, r'unknown required item', '.vhdx')

    _, poff = items[vhdtool.GUID_PARAMS]
    for name, val in (('zero', 0), ('odd', 3 * MiB), ('max', 0xFFFFFFFF),
                      ('small', 4096), ('big', 512 * MiB)):
        img = bytearray(src)
        struct.pack_into('<I', img, poff, val)
        emit('vhdx-meta-blocksize-' + name, img, r'block size', '.vhdx')
    _, soff = items[vhdtool.GUID_LSS]
    for name, val in (('zero', 0), ('odd', 1000), ('max', 0xFFFFFFFF)):
        img = bytearray(src)
        struct.pack_into('<I', img, soff, val)
        emit('vhdx-meta-sectorsize-' + name, img, r'logical sector size',
             '.vhdx')
    _, voff = items[vhdtool.GUID_VSIZE]
    for name, val, rx in (('zero', 0, r'virtual disk size'),
                          ('max', 0xFFFFFFFFFFFFFFFF, r'virtual disk size'),
                          ('odd', 1000, r'virtual disk size'),
                          ('big', 60 << 40, r'BAT region .* too small')):
        img = bytearray(src)
        struct.pack_into('<Q', img, voff, val)
        emit('vhdx-meta-vsize-' + name, img, rx, '.vhdx')

    for name, val, rx in (
            ('state4', bat0 & ~7 | 4, r'BAT entry 0 .*invalid state 4'),
            ('partial', bat0 & ~7 | 7, r'BAT entry 0 .*invalid state 7'),
            ('on-header', 0 << 20 | 6, r'BAT entry 0 .*points at the headers'),
            ('on-bat', (bat_off // MiB) << 20 | 6, r'BAT entry 0 .*points at'),
            ('on-meta', (meta_off // MiB) << 20 | 6,
             r'BAT entry 0 .*points at'),
            ('past-eof', ((size + MiB) // MiB) << 20 | 6,
             r'BAT entry 0 .*past the end'),
            ('max', 0xFFFFFFFFFFF00006, r'BAT entry 0 .*past the end')):
        img = bytearray(src)
        struct.pack_into('<Q', img, bat_off, val)
        emit('vhdx-bat-' + name, img, rx, '.vhdx')

    df = load('diff.avhdx')
    regions, items = vhdx_layout(df)
    _, dbat, _ = regions[vhdtool.GUID_BAT]
    _, dmeta, _ = regions[vhdtool.GUID_META]
    # the chunk's sector bitmap entry: chunk ratio 4096 for 1 MiB blocks
    img = bytearray(df)
    struct.pack_into('<Q', img, dbat + 4096 * 8, 0)
    emit('vhdx-diff-bitmap-missing', img, r'sector bitmap block .* missing',
         '.avhdx')
    img = bytearray(df)
    struct.pack_into('<Q', img, dbat + 4096 * 8, 3)
    emit('vhdx-diff-bitmap-state', img, r'sector bitmap\) has invalid state',
         '.avhdx')
    img = bytearray(df)
    struct.pack_into('<Q', img, dbat + 4096 * 8,
                     ((len(df) + MiB) // MiB) << 20 | 6)
    emit('vhdx-diff-bitmap-past-eof', img, r'past the end', '.avhdx')
    ent, loff = items[vhdtool.GUID_PLOC]
    img = bytearray(df)
    img[ent:ent + 16] = b'\x03' * 16
    struct.pack_into('<I', img, ent + 24, 0)
    emit('vhdx-diff-no-locator', img, r'no parent locator', '.avhdx')
    img = bytearray(df)
    img[loff:loff + 16] = bytes(16)
    emit('vhdx-diff-locator-type', img, r'unknown locator type', '.avhdx')
    img = bytearray(df)
    struct.pack_into('<H', img, loff + 18, 0xFFFF)
    emit('vhdx-diff-locator-count', img, r'key-value count', '.avhdx')
    for name, field, val in (('keyoff', 0, 0xFFFFFFFF),
                             ('valoff', 4, 0xFFFFFF00),
                             ('keylen', 8, 0xFFFF), ('vallen', 10, 0)):
        img = bytearray(df)
        struct.pack_into('<I' if field < 8 else '<H', img, loff + 20 + field,
                         val)
        emit('vhdx-diff-locator-' + name, img, r'locator entry 0 points outside',
             '.avhdx')
    img = bytearray(df)
    # rename the parent_linkage key so the locator has none
    kofs = struct.unpack_from('<I', img, loff + 20)[0]
    img[loff + kofs] = ord('X')
    emit('vhdx-diff-no-linkage', img, r'no parent_linkage', '.avhdx')
    _, ploff = items[vhdtool.GUID_PARAMS]
    img = bytearray(df)
    struct.pack_into('<I', img, ploff + 4, 0)
    emit('vhdx-diff-partial-not-diff', img, r'invalid state 7', '.avhdx')


vhd_cases()
vhdx_cases()
for name, rx in cases:
    print('%s\t%s' % (name, rx))
