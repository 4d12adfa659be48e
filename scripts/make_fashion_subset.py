#!/usr/bin/env python3
"""Makes data/fashion-mnist-subset/: the first TRAIN training and TEST test images of
Fashion-MNIST (in the official order, so every class is present in about equal numbers),
as gzip-compressed IDX files with the official names.

    python3 scripts/make_fashion_subset.py ../shared/data/fashion-mnist data/fashion-mnist-subset
"""
import gzip
import os
import struct
import sys

TRAIN, TEST = 6000, 1000


def subset(src, dst, name, n):
    with gzip.open(os.path.join(src, name + ".gz"), "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    per = 1
    for d in dims[1:]:
        per *= d
    head = struct.pack(">I", magic) + struct.pack(">" + "I" * rank, n, *dims[1:])
    body = data[4 + 4 * rank : 4 + 4 * rank + n * per]
    # mtime=0: the same bytes on every run
    with open(os.path.join(dst, name + ".gz"), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
            f.write(head + body)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for prefix, n in (("train", TRAIN), ("t10k", TEST)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            subset(src, dst, f"{prefix}-{kind}", n)


main()
