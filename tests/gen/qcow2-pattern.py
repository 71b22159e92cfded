#!/usr/bin/python3
# qcow2-pattern.py OUT SIZE [SEED] — a known-pattern raw disk for the qcow2
# and rbd tests: seeded random runs, explicit zero runs, holes (sparse) and
# an odd tail (SIZE need not be a multiple of 512).
import os
import random
import sys

out, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
with open(out, "wb") as f:
    f.truncate(size)
    pos = 0
    while pos < size:
        n = min(rng.choice([511, 4096, 65536, 300000, 2 << 20, 3 << 20]), size - pos)
        kind = rng.random()
        if kind < 0.45:
            f.seek(pos)
            f.write(rng.randbytes(n))
        elif kind < 0.6:
            f.seek(pos)
            f.write(b"\0" * n)          # allocated zeroes
        # else: a hole
        pos += n + rng.choice([0, 0, 512, 4096, 100000])
    # the last bytes are data (odd tail)
    tail = min(size, 777)
    f.seek(size - tail)
    f.write(rng.randbytes(tail))
