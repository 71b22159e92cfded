#!/usr/bin/python3
"""bench/gen-disk.py PATH BYTES SEED LAYOUT — the synthetic sparse disk of
bench/convert.sh and bench/warm.sh (deterministic: same arguments, same
bytes).  The disk is cut into extents of 64 KiB..16 MiB; one random draw per
extent in [0, 1) picks its kind from LAYOUT, a list of KIND:SHARE in order
(KIND: hole, random (incompressible), text (text-like, compresses ~4x),
zero (allocated zeroes); the shares add up to 1), e.g.
"hole:0.6,random:0.16,text:0.16,zero:0.08".  Writes PATH.tmp, fsyncs,
renames it to PATH and prints the allocated bytes."""
import os
import random
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    layout, edge = [], 0.0
    for item in sys.argv[4].split(","):
        kind, share = item.split(":")
        if kind not in ("hole", "random", "text", "zero"):
            sys.exit(f"gen-disk.py: unknown kind '{kind}'")
        edge += float(share)
        layout.append((edge, kind))
    if abs(edge - 1.0) > 1e-9:
        sys.exit(f"gen-disk.py: the shares of '{sys.argv[4]}' add up to {edge}, not 1")
    rng = random.Random(seed)
    pool = rng.randbytes(64 << 20)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz")
                   for _ in range(rng.randint(2, 10))) for _ in range(2000)]
    text = bytearray()
    while len(text) < (8 << 20):
        line = b" ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        text += b"%08d " % len(text) + line + b"\n"
    data = {"random": pool, "text": bytes(text), "zero": bytes(4 << 20)}
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    off = alloc = 0
    while off < size:
        n = min(size - off, (64 << 10) * rng.randint(1, 256))
        r = rng.random()
        kind = next((k for e, k in layout if r < e), layout[-1][1])
        if kind != "hole":
            src = data[kind]
            done = 0
            while done < n:
                k = min(n - done, 4 << 20)
                start = rng.randrange(0, len(src) - k + 1) & ~4095
                os.pwrite(fd, src[start:start + k], off + done)
                done += k
            alloc += n
        off += n
    os.fsync(fd)
    os.close(fd)
    os.rename(path + ".tmp", path)
    print(alloc)


main()
