#!/usr/bin/env python3
"""Writes the fuzz seed corpus (tests/Sharpgrad.NN.Tests/Fuzz/corpus): small valid files of every format a
loader reads. Needs Pillow (python3-pil). The run-file seeds (model.json, checkpoint, model spec) come from
tools/make_fuzz_corpus.sh, which runs sharpgrad itself."""
import gzip, io, json, os, struct, sys
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "Sharpgrad.NN.Tests", "Fuzz", "corpus")

def put(kind, name, data):
    d = os.path.join(out, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">i", d) for d in dims) + bytes(data)

images = idx([3, 4, 4], [(i * 37) % 256 for i in range(48)])
labels = idx([3], [0, 1, 9])
put("idx", "images-idx3-ubyte", images)
put("idx", "images-1d-idx1-ubyte", idx([5], [1, 2, 3, 4, 5]))
put("idx-gz", "images-idx3-ubyte.gz", gzip.compress(images, mtime=0))
put("idx-gz", "labels-idx1-ubyte.gz", gzip.compress(labels, mtime=0))
put("idx-labels", "labels-idx1-ubyte", labels)
put("cifar", "two_records.bin", b"".join(bytes([label]) + bytes((label * 50 + i) % 256 for i in range(3072)) for label in (3, 7)))

def img(mode, size, fn):
    im = Image.new(mode, size)
    im.putdata([fn(x, y) for y in range(size[1]) for x in range(size[0])])
    return im

def save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()

rgb = img("RGB", (8, 6), lambda x, y: (x * 30, y * 40, 128))
grey = img("L", (8, 6), lambda x, y: x * 30 + y)
put("png", "rgb.png", save(rgb, "PNG"))
put("png", "grey.png", save(grey, "PNG"))
put("png", "palette.png", save(rgb.convert("P", palette=Image.ADAPTIVE, colors=8), "PNG"))
put("png", "rgba.png", save(img("RGBA", (5, 4), lambda x, y: (x * 50, y * 60, 7, 200)), "PNG"))
put("png", "grey16.png", save(img("I;16", (4, 3), lambda x, y: x * 4000 + y * 300), "PNG"))
put("png", "grey-alpha.png", save(img("LA", (4, 4), lambda x, y: (x * 60, 255 - y)), "PNG"))
def adam7_png(im):
    """An interlaced (Adam7) RGB PNG, which Pillow does not write."""
    import zlib
    w, h = im.size
    px = im.load()
    raw = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        for y in range(y0, h, dy):
            xs = range(x0, w, dx)
            if len(xs):
                raw += b"\0" + b"".join(bytes(px[x, y]) for x in xs)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

put("png", "interlaced.png", adam7_png(rgb))
quad = img("RGB", (16, 8), lambda x, y: (250, 10, 10) if x < 8 else (10, 10, 250))
put("jpeg", "baseline.jpg", save(quad, "JPEG", quality=90))
put("jpeg", "progressive.jpg", save(quad, "JPEG", quality=90, progressive=True))
put("jpeg", "grey.jpg", save(grey, "JPEG", quality=90))
put("jpeg", "subsampled.jpg", save(img("RGB", (16, 16), lambda x, y: (x * 16, y * 16, 99)), "JPEG", quality=75, subsampling=2))
exif = Image.Exif()
exif[0x0112] = 6
put("jpeg", "orientation6.jpg", save(quad, "JPEG", quality=90, exif=exif.tobytes()))
put("bmp", "rgb.bmp", save(rgb, "BMP"))
put("bmp", "palette.bmp", save(rgb.convert("P", palette=Image.ADAPTIVE, colors=8), "BMP"))
put("bmp", "grey.bmp", save(grey, "BMP"))

def safetensors(tensors, meta):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data

put("safetensors", "two.safetensors", safetensors({
    "0.weight": ("F32", [2, 3], struct.pack("<6f", *[0.5 * i for i in range(6)])),
    "0.bias": ("F16", [2], struct.pack("<2e", 1.0, -2.0)),
    "1.running_mean": ("F64", [1], struct.pack("<d", 0.25)),
    "1.num_batches_tracked": ("I64", [], struct.pack("<q", 7)),
}, {"format": "pt"}))
put("safetensors", "empty.safetensors", safetensors({}, None))
