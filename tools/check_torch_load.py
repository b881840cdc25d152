#!/usr/bin/env python3
"""Loads a Sharpgrad run's model.safetensors into the same model built in PyTorch and evaluates it.

    /usr/bin/python3 tools/check_torch_load.py RUN_DIR [DATA_DIR]

Builds the model from the run's model.json: its "model" description (sharpgrad-model/1, every built-in model and
model files) through tools/sharpgrad_models.py, or the exam CNN for runs written before descriptions
(sharpgrad-run/1). Parses the safetensors file by hand (Debian's python3-torch has no safetensors package), calls
load_state_dict (strict), and prints the test accuracy on Fashion-MNIST (or another MNIST-format IDX folder) with the
run's normalization, so it can be compared with what `sharpgrad eval` prints (also with flip averaging when the run was
trained with --tta flip).
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sharpgrad_models  # noqa: E402

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise ValueError(f"{path}: not a safetensors file (its header is not JSON: {e}); truncated?") from e
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        if e > len(data):
            raise ValueError(f"{path}: tensor '{name}' ends at byte {e} of the data, which has {len(data)}; truncated?")
        arr = np.frombuffer(data[b:e], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: /usr/bin/python3 tools/check_torch_load.py RUN_DIR [DATA_DIR]")
    run = sys.argv[1]
    data_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data", "fashion-mnist")
    try:
        check(run, data_dir)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, struct.error) as e:
        # one line naming the run, not a traceback (a missing folder, a truncated file, another model)
        sys.exit(f"check_torch_load.py: {run}: {type(e).__name__}: {e}")


def check(run, data_dir):
    desc = json.load(open(os.path.join(run, "model.json")))
    c, h, w = desc["input"]
    if [c, h, w] != [1, 28, 28]:
        raise ValueError(f"the run's model takes {c}x{h}x{w} images; this script evaluates 1x28x28 MNIST-format IDX data only")
    if "model" in desc and desc["model"] is not None:
        model = sharpgrad_models.from_spec(desc["model"])
    else:
        model = sharpgrad_models.exam_cnn(c, h, w, len(desc["classes"]), desc.get("dropout", 0))
    model.load_state_dict(read_safetensors(os.path.join(run, "model.safetensors")), strict=True)
    model.eval()
    with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    mean, std = desc["normalization"]["mean"][0], desc["normalization"]["std"][0]
    flip = (desc.get("recipe") or {}).get("Tta") == "flip"
    with torch.no_grad():
        xn = (torch.from_numpy(x) - mean) / std
        logits = model(xn)
        pred = logits.argmax(1).numpy()
        # the run's test-time augmentation (train --tta flip): the mean logits of each image and its mirror
        flipped = ((logits + model(xn.flip(-1))) / 2).argmax(1).numpy() if flip else None
    name = desc.get("architecture", "exam-cnn")
    tta = f", with flip averaging (the run's --tta flip) {100 * (flipped == y).mean():.2f}%" if flip else ""
    print(f"PyTorch {torch.__version__}: loaded {run}/model.safetensors ({name}) strictly; test accuracy {100 * (pred == y).mean():.2f}%{tta}")


if __name__ == "__main__":
    main()
