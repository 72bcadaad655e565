"""Files the data tests write: a small CelebA tree and one file per bad-input class."""

import os
import struct
import zlib

import numpy as np
from PIL import Image

from tfface.data.celeba import ATTRIBUTES


def random_rgb(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def write_celeba(root, n=40, seed=0, csv=False, partition=True, parts=None):
    """A CelebA tree with n 178x218 JPEGs; returns (file names, the 0/1 label matrix).

    The partition file (unless ``partition`` is False) gives ``parts`` (one 0/1/2 per image), by default
    the first 80% train, the next 10% val, the last 10% test."""
    img_dir = os.path.join(root, "img_align_celeba")
    os.makedirs(img_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, len(ATTRIBUTES))) < 0.3).astype(int)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        Image.fromarray(random_rgb(218, 178, seed + i)).save(os.path.join(img_dir, name), quality=90)
    pm = np.where(labels == 1, 1, -1)
    if csv:
        with open(os.path.join(root, "list_attr_celeba.csv"), "w") as f:
            f.write("image_id," + ",".join(ATTRIBUTES) + "\n")
            for name, row in zip(names, pm):
                f.write(name + "," + ",".join(str(v) for v in row) + "\n")
    else:
        with open(os.path.join(root, "list_attr_celeba.txt"), "w") as f:
            f.write(f"{n}\n" + " ".join(ATTRIBUTES) + "\n")
            for name, row in zip(names, pm):
                f.write(name + " " + " ".join(f"{v:2d}" for v in row) + "\n")
    if partition:
        if parts is None:
            parts = [0 if i < n * 0.8 else (1 if i < n * 0.9 else 2) for i in range(n)]
        if csv:
            with open(os.path.join(root, "list_eval_partition.csv"), "w") as f:
                f.write("image_id,partition\n" + "".join(f"{a},{p}\n" for a, p in zip(names, parts)))
        else:
            with open(os.path.join(root, "list_eval_partition.txt"), "w") as f:
                f.write("".join(f"{a} {p}\n" for a, p in zip(names, parts)))
    return names, labels


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16_rgb(path, arr16):
    """16-bit-per-channel RGB PNG (Pillow cannot write these itself)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[r].astype(">u2").tobytes() for r in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))


def write_png_bomb(path, side=20000):
    """A valid 1-bit PNG of side x side pixels that compresses to a few KB."""
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b""))


def write_bad_files(d):
    """One file per class of odd or broken input. Returns {name: path}."""
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    rgb = random_rgb(40, 30)
    out = {}
    Image.fromarray(rgb).save(p("good.png"))
    out["good"] = p("good.png")
    open(p("empty.jpg"), "wb").close()
    out["empty"] = p("empty.jpg")
    with open(p("notes.jpg"), "w") as f:
        f.write("this is not an image\n")
    out["not_an_image"] = p("notes.jpg")
    buf = p("full.jpg")
    Image.fromarray(random_rgb(64, 64, 1)).save(buf, quality=95)
    data = open(buf, "rb").read()
    os.remove(buf)
    with open(p("truncated.jpg"), "wb") as f:
        f.write(data[: len(data) // 2])
    out["truncated"] = p("truncated.jpg")
    with open(p("truncated_with_end.jpg"), "wb") as f:  # cut in half, then an end-of-image marker appended
        f.write(data[: len(data) // 2] + b"\xff\xd9")
    out["truncated_with_end_marker"] = p("truncated_with_end.jpg")
    b = bytearray(open(out["good"], "rb").read())
    i = b.index(b"IDAT")
    for k in range(8, 40):
        b[i + k] ^= 0x5A
    with open(p("corrupt_idat.png"), "wb") as f:
        f.write(bytes(b))
    out["corrupt_passes_scan"] = p("corrupt_idat.png")
    write_png_bomb(p("bomb.png"))
    out["too_large"] = p("bomb.png")
    Image.fromarray(rgb[..., 0]).save(p("gray.png"))
    out["grayscale"] = p("gray.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(p("palette.png"))
    out["palette"] = p("palette.png")
    rgba = np.concatenate([rgb, np.full((40, 30, 1), 255, np.uint8)], -1)
    rgba[:, :15, 3] = 0  # left half fully transparent
    Image.fromarray(rgba).save(p("rgba.png"))
    out["rgba"] = p("rgba.png")
    Image.new("CMYK", (30, 40), (0, 255, 255, 0)).save(p("cmyk.jpg"))
    out["cmyk"] = p("cmyk.jpg")
    write_png16_rgb(p("rgb16.png"), rgb.astype(np.uint16) * 257)
    out["png16_rgb"] = p("rgb16.png")
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(p("gray16.png"))
    out["png16_gray"] = p("gray16.png")
    # 40 wide x 20 high, left half red, right half blue, EXIF orientation 6
    # (display rotated 90 degrees clockwise).
    ex = np.zeros((20, 40, 3), np.uint8)
    ex[:, :20, 0] = 255
    ex[:, 20:, 2] = 255
    img = Image.fromarray(ex)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(p("exif6.jpg"), exif=exif, quality=95)
    out["exif_rotated"] = p("exif6.jpg")
    return out
