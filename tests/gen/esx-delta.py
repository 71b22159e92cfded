#!/usr/bin/python3
"""ESXi snapshot deltas for the VMDK reader's tests (qemu-img cannot write
them), written from the formats' descriptions, independently of ferry:

  esx-delta.py cowd|sesparse PARENT_VMDK PARENT_RAW OUT_VMDK WRITE...
      [--parent-cid HEX] [--grain SECTORS] [--cid HEX]
      a delta over PARENT_VMDK (its descriptor gives the hint and the CID;
      PARENT_RAW holds what the parent reads as, to copy the rest of a
      partly written grain, as ESXi does).  OUT_VMDK is the descriptor, the
      extent is OUT-delta.vmdk (cowd) or OUT-sesparse.vmdk (sesparse).
      WRITE is OFFSET:LENGTH:BYTE (two hex digits: fill with that byte),
      OFFSET:LENGTH:z (zeroes: seSparse zero grains where whole grains are
      covered) or OFFSET:LENGTH:u (seSparse "unmapped" grains, read as
      zeroes).  Grains land in the file in shuffled order.
  esx-delta.py hostile OUTDIR
      broken deltas, one case-NAME.vmdk descriptor each (extents ext-*.bin)

vmfsSparse ("COWD", VMware Virtual Disk Format 1.1): a 2048-byte header
(magic, version 1, flags, numSectors, grainSize, gdOffset, numGDEntries,
freeSector, ...), a grain directory of 32-bit sector offsets of grain
tables, tables of 4096 32-bit grain sector offsets, 0 = not in this delta.

seSparse: const header (magic 0xcafebabe, version 0x200000001, capacity,
grain size 8 sectors, grain table size 64 sectors, flags, then sector
offset/size pairs for the volatile header, journal header, journal, grain
directory, grain tables, free bitmap, backmap and grains), volatile header
(magic 0xcafecafe, replay_journal); directory entries 0x1000000000000000 |
table index; table entries by top nibble: 0 unallocated, 1 unmapped,
2 zero, 3 allocated with the grain index split as bits 48..59 = low 12
bits, bits 0..47 = the rest.
"""
import os
import random
import re
import struct
import sys

SECTOR = 512
COWD_GTES = 4096
SE_GTES = 4096
SE_GRAIN = 8


def parent_info(path):
    text = open(path, "rb").read(1 << 20).decode("utf-8", "replace")
    m = re.search(r'^CID=([0-9a-fA-F]+)', text, re.M)
    return int(m.group(1), 16) if m else 0xFFFFFFFF


def apply_writes(raw, writes, grain_bytes):
    """Return (content, kinds): the delta's view and, per grain it holds,
    'data', 'zero' or 'unmap'."""
    data = bytearray(raw)
    kinds = {}
    for w in writes:
        off, length, what = w.split(":")
        off, length = int(off, 0), int(length, 0)
        assert off + length <= len(data), w
        fill = 0 if what in ("z", "u") else int(what, 16)
        data[off:off + length] = bytes([fill]) * length
        first, last = off // grain_bytes, (off + length - 1) // grain_bytes
        for g in range(first, last + 1):
            gs, ge = g * grain_bytes, min((g + 1) * grain_bytes, len(data))
            whole = off <= gs and off + length >= ge
            if what in ("z", "u") and whole:
                kinds[g] = "zero" if what == "z" else "unmap"
            else:
                kinds[g] = "data"
    return bytes(data), kinds


def descriptor(create_type, cid, parent_cid, hint, sectors, ext_type, ext):
    return ('# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\n'
            'CID=%08x\nparentCID=%08x\nisNativeSnapshot="no"\n'
            'createType="%s"\nparentFileNameHint="%s"\n'
            '# Extent description\nRW %d %s "%s"\n\n'
            '# The Disk Data Base\n#DDB\n\nddb.longContentID = '
            '"00000000000000000000000000000000"\n'
            % (cid, parent_cid, create_type, hint, sectors, ext_type, ext))


def cowd_file(capacity, grain, grains, rnd, over=None):
    """COWD extent bytes: GRAINS maps grain index -> grain bytes."""
    over = over or {}
    per_gt = grain * COWD_GTES
    n_gd = (capacity + per_gt - 1) // per_gt
    gd_off = 4
    gd_sectors = (n_gd * 4 + SECTOR - 1) // SECTOR
    gt_sectors = COWD_GTES * 4 // SECTOR
    used_gts = sorted({g // COWD_GTES for g in grains})
    rnd.shuffle(used_gts)
    next_sec = gd_off + gd_sectors
    gd = [0] * n_gd
    for t in used_gts:
        gd[t] = next_sec
        next_sec += gt_sectors
    order = list(grains)
    rnd.shuffle(order)
    gte = {}
    for g in order:
        gte[g] = next_sec
        next_sec += grain
    hdr = struct.pack("<4sIIIIIII", b"COWD", over.get("version", 1),
                      over.get("flags", 3), over.get("sectors", capacity),
                      over.get("grain", grain), over.get("gd_off", gd_off),
                      over.get("gd_entries", n_gd), next_sec)
    hdr += bytes(FERRY_PARENT_UNION)             # parentFileName etc.
    hdr += struct.pack("<I", 1)                  # generation
    hdr += b"delta".ljust(60, b"\0")             # name
    hdr += b"esx-delta.py".ljust(512, b"\0")     # description
    hdr += struct.pack("<I", 1) + bytes(8) + struct.pack("<I", 0)
    hdr += bytes(2048 - len(hdr))
    assert len(hdr) == 2048
    out = bytearray(next_sec * SECTOR)
    out[0:2048] = hdr
    for k, v in over.get("gd_set", {}).items():
        gd[k] = v
    out[gd_off * SECTOR:gd_off * SECTOR + n_gd * 4] = struct.pack(
        "<%dI" % n_gd, *gd)
    for g, sec in gte.items():
        t, i = divmod(g, COWD_GTES)
        val = over.get("gte_set", {}).get(g, sec)
        struct.pack_into("<I", out, gd[t] * SECTOR + i * 4, val)
        out[sec * SECTOR:(sec + grain) * SECTOR] = grains[g]
    return bytes(out)


FERRY_PARENT_UNION = 1028


def se_file(capacity, entries, rnd, over=None):
    """seSparse extent bytes.  ENTRIES maps grain index -> bytes (data),
    'zero' or 'unmap'."""
    over = over or {}
    gb = SE_GRAIN * SECTOR
    per_gt = SE_GRAIN * SE_GTES
    n_gd = (capacity + per_gt - 1) // per_gt
    gt_bytes = SE_GTES * 8
    gd_sectors = max(1, (n_gd * 8 + SECTOR - 1) // SECTOR)
    regions = {}
    sec = 1
    for name, size in (("volatile", 1), ("journal_hdr", 1), ("journal", 8),
                       ("gd", gd_sectors), ("gt", n_gd * gt_bytes // SECTOR),
                       ("bitmap", 8), ("backmap", 8)):
        regions[name] = [sec, size]
        sec += size
        sec = (sec + 7) // 8 * 8
    n_grains = (capacity + SE_GRAIN - 1) // SE_GRAIN
    regions["grains"] = [sec, n_grains * SE_GRAIN]
    place = dict(regions)               # where things go in the file
    for k, v in over.get("regions", {}).items():
        regions[k] = v                  # what the header claims
    used_gts = sorted({g // SE_GTES for g in entries})
    slots = list(range(n_gd))
    rnd.shuffle(slots)
    gd = [0] * n_gd
    for t in used_gts:
        gd[t] = 0x1000000000000000 | slots[t]
    data_grains = [g for g, v in entries.items() if isinstance(v, bytes)]
    idxs = list(range(len(data_grains)))
    rnd.shuffle(idxs)
    gte = {}
    for g, v in entries.items():
        if v == "zero":
            gte[g] = 0x2000000000000000
        elif v == "unmap":
            gte[g] = 0x1000000000000000
    gidx = {}
    for g, i in zip(data_grains, idxs):
        gidx[g] = i
        gte[g] = (3 << 60) | ((i & 0xFFF) << 48) | (i >> 12)
    gte.update(over.get("gte_set", {}))
    for k, v in over.get("gd_set", {}).items():
        gd[k] = v
    hdr = struct.pack(
        "<QQQQQQQQQQ", over.get("magic", 0xCAFEBABE),
        over.get("version", 0x200000001), over.get("capacity", capacity),
        over.get("grain", SE_GRAIN), over.get("gt_size", 64),
        over.get("flags", 0), 0, 0, 0, 0)
    for name in ("volatile", "journal_hdr", "journal", "gd", "gt", "bitmap",
                 "backmap", "grains"):
        hdr += struct.pack("<QQ", *regions[name])
    hdr += bytes(SECTOR - len(hdr))
    end = place["grains"][0] * SECTOR + len(data_grains) * gb
    end = max(end, (place["gt"][0] * SECTOR) + n_gd * gt_bytes)
    out = bytearray(end)
    out[0:SECTOR] = hdr
    vol = struct.pack("<QQQQ", over.get("vmagic", 0xCAFECAFE), len(used_gts),
                      1, over.get("replay", 0))
    vs = place["volatile"][0] * SECTOR
    out[vs:vs + len(vol)] = vol
    gs = place["gd"][0] * SECTOR
    out[gs:gs + n_gd * 8] = struct.pack("<%dQ" % n_gd, *gd)
    ts = place["gt"][0] * SECTOR
    for g, v in gte.items():
        t, i = divmod(g, SE_GTES)
        slot = slots[t]
        struct.pack_into("<Q", out, ts + slot * gt_bytes + i * 8, v)
    grs = place["grains"][0] * SECTOR
    for g, i in gidx.items():
        out[grs + i * gb:grs + (i + 1) * gb] = entries[g]
    return bytes(out)


def make_delta(kind, parent_vmdk, parent_raw, out_vmdk, writes,
               parent_cid=None, grain=1, cid=None):
    raw = open(parent_raw, "rb").read()
    size = len(raw)
    assert size % SECTOR == 0
    capacity = size // SECTOR
    rnd = random.Random(out_vmdk)
    if parent_cid is None:
        parent_cid = parent_info(parent_vmdk)
    if cid is None:
        cid = rnd.getrandbits(32)
    hint = os.path.relpath(parent_vmdk, os.path.dirname(out_vmdk) or ".")
    base = os.path.splitext(out_vmdk)[0]
    if kind == "cowd":
        gb = grain * SECTOR
        content, kinds = apply_writes(raw, writes, gb)
        grains = {g: content[g * gb:(g + 1) * gb].ljust(gb, b"\0")
                  for g in kinds}
        ext = base + "-delta.vmdk"
        body = cowd_file(capacity, grain, grains, rnd)
        desc = descriptor("vmfsSparse", cid, parent_cid, hint, capacity,
                          "VMFSSPARSE", os.path.basename(ext))
    else:
        gb = SE_GRAIN * SECTOR
        content, kinds = apply_writes(raw, writes, gb)
        entries = {}
        for g, k in kinds.items():
            entries[g] = (content[g * gb:(g + 1) * gb].ljust(gb, b"\0")
                          if k == "data" else k)
        ext = base + "-sesparse.vmdk"
        body = se_file(capacity, entries, rnd)
        desc = descriptor("seSparse", cid, parent_cid, hint, capacity,
                          "SESPARSE", os.path.basename(ext))
    open(ext, "wb").write(body)
    open(out_vmdk, "w").write(desc)


def hostile(outdir):
    os.makedirs(outdir, exist_ok=True)
    rnd = random.Random(7)
    capacity = 2 * 4096 + 100           # two COWD grain tables at 1 sector
    grains = {g: bytes([g & 0xFF]) * SECTOR for g in (0, 5, 4200)}
    good = cowd_file(capacity, 1, grains, rnd)
    cases = {}

    def cowd(name, body, sectors=capacity):
        cases["cowd-" + name] = ("vmfsSparse", "VMFSSPARSE", sectors, body)

    def patch(body, off, fmt, val):
        b = bytearray(body)
        struct.pack_into(fmt, b, off, val)
        return bytes(b)

    gd0 = struct.unpack_from("<I", good, 4 * SECTOR)[0]
    gte0 = struct.unpack_from("<I", good, gd0 * SECTOR)[0]
    cowd("truncated-header", good[:1000])
    cowd("truncated-grain", good[:len(good) - 100])
    cowd("empty", b"")
    for field, off, vals in (("version", 4, (0, 2)), ("numSectors", 12, (0,)),
                             ("grainSize", 16, (0, 1 << 20, 0xFFFFFFFF)),
                             ("gdOffset", 20, (0, 1, 0xFFFFFFFF,
                                               len(good) // SECTOR)),
                             ("numGDEntries", 24, (0, 1, 0xFFFFFFFF))):
        for v in vals:
            cowd("%s-%x" % (field, v), patch(good, off, "<I", v))
    cowd("extent-larger-than-capacity", good, capacity + 1)
    cowd("gd-entry-past-eof", patch(good, 4 * SECTOR, "<I", 0xFFFFFF00))
    cowd("gd-entry-at-header", patch(good, 4 * SECTOR, "<I", 1))
    cowd("gd-entry-at-gd", patch(good, 4 * SECTOR, "<I", 4))
    cowd("gt-partly-past-eof",
         patch(good, 4 * SECTOR, "<I", len(good) // SECTOR - 4))
    for name, v in (("at-header", 1), ("at-header-3", 3), ("at-gd", 4),
                    ("at-gt", gd0), ("past-eof", 0xFFFFFFF0),
                    ("last-sector-past-eof", len(good) // SECTOR)):
        cowd("grain-" + name, patch(good, gd0 * SECTOR, "<I", v))
    assert gte0 != 0

    def se(name, over=None, body=None, sectors=capacity):
        if body is None:
            entries = {0: b"\x11" * 4096, 3: "zero", 1100: b"\x22" * 4096,
                       2000: "unmap"}
            body = se_file(capacity, entries, random.Random(1), over)
        cases["se-" + name] = ("seSparse", "SESPARSE", sectors, body)

    good_se = se_file(capacity, {0: b"\x11" * 4096, 1100: b"\x22" * 4096},
                      random.Random(1))
    se("truncated-header", body=good_se[:300])
    se("truncated-grain", body=good_se[:len(good_se) - 1000])
    se("cowd-magic-in-sesparse-extent", body=good)
    for k, v in (("magic", 0xCAFEBABF), ("version", 0x100000001),
                 ("capacity", 0), ("capacity", 1 << 62), ("grain", 16),
                 ("grain", 0), ("gt_size", 128), ("flags", 1),
                 ("vmagic", 0), ("replay", 1)):
        se("%s-%x" % (k, v), {k: v})
    se("extent-larger-than-capacity", sectors=capacity + 8)
    for region, val in (("volatile", [1 << 40, 1]), ("volatile", [0, 1]),
                        ("gd", [1 << 40, 1]), ("gd", [0, 1]),
                        ("gd", [24, 1 << 62]),
                        ("grains", [0, 100]), ("grains", [1 << 56, 1 << 56]),
                        ("grains", [0xFFFFFFFFFFFFFFFF, 8]),
                        ("gt", [0, 64])):
        se("region-%s-%x-%x" % (region, val[0], val[1]),
           {"regions": {region: val}})
    # grains region starting at the const header: entry 0 -> header
    se("grains-overlap-volatile", {"regions": {"grains": [1, 10000]}})
    se("grains-overlap-gd", {"regions": {"grains": [24, 10000]}})
    for name, v in (("type-2", 0x2000000000000000),
                    ("index-past-gt-region", 0x1000000000000005),
                    ("high-bits", 0x1000000100000000)):
        se("gd-" + name, {"gd_set": {0: v}})
    for name, v in (("type-4", 0x4000000000000000),
                    ("type-f", 0xF000000000000001),
                    ("type-0-nonzero", 0x0000000000000001),
                    ("index-past-grains", (3 << 60) | 0xFFFFFFFFFFFF),
                    ("index-past-grains-2", (3 << 60) | 1),
                    ("index-past-eof", (3 << 60) | (1000 << 48))):
        se("gte-" + name, {"gte_set": {0: v}})
    for name, (ct, et, sectors, body) in sorted(cases.items()):
        ext = "ext-%s.bin" % name
        open(os.path.join(outdir, ext), "wb").write(body)
        open(os.path.join(outdir, "case-%s.vmdk" % name), "w").write(
            descriptor(ct, 0x12345678, 0xFFFFFFFF, "none.vmdk", sectors, et,
                       ext).replace('parentFileNameHint="none.vmdk"\n', ""))
    return len(cases)


def main(argv):
    if len(argv) >= 2 and argv[1] == "hostile":
        print(hostile(argv[2]))
        return
    if len(argv) < 5 or argv[1] not in ("cowd", "sesparse"):
        sys.exit(__doc__)
    opts = {"parent_cid": None, "grain": 1, "cid": None}
    writes = []
    args = argv[5:]
    while args:
        a = args.pop(0)
        if a == "--parent-cid":
            opts["parent_cid"] = int(args.pop(0), 16)
        elif a == "--cid":
            opts["cid"] = int(args.pop(0), 16)
        elif a == "--grain":
            opts["grain"] = int(args.pop(0))
        else:
            writes.append(a)
    make_delta(argv[1], argv[2], argv[3], argv[4], writes, **opts)


if __name__ == "__main__":
    main(sys.argv)
