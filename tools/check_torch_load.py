#!/usr/bin/env python3
"""Loads a Sharpgrad run's model.safetensors into PyTorch's nn.Sequential of the exam CNN and evaluates it.

    /usr/bin/python3 tools/check_torch_load.py RUN_DIR [DATA_DIR]

Parses the safetensors file by hand (Debian's python3-torch has no safetensors package), calls load_state_dict
(strict), and prints the test accuracy on Fashion-MNIST with the run's normalization, so it can be compared with
what `sharpgrad eval` prints.
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def main():
    run = sys.argv[1]
    data_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data", "fashion-mnist")
    desc = json.load(open(os.path.join(run, "model.json")))
    c, h, w = desc["input"]
    layers = [torch.nn.Conv2d(c, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.BatchNorm2d(16),
              torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten()]
    if desc.get("dropout", 0) > 0:
        layers.append(torch.nn.Dropout(desc["dropout"]))
    layers.append(torch.nn.Linear(16 * (h // 4) * (w // 4), len(desc["classes"])))
    model = torch.nn.Sequential(*layers)
    model.load_state_dict(read_safetensors(os.path.join(run, "model.safetensors")), strict=True)
    model.eval()
    with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    mean, std = desc["normalization"]["mean"][0], desc["normalization"]["std"][0]
    with torch.no_grad():
        pred = model((torch.from_numpy(x) - mean) / std).argmax(1).numpy()
    print(f"PyTorch {torch.__version__}: loaded {run}/model.safetensors strictly; test accuracy {100 * (pred == y).mean():.2f}%")


if __name__ == "__main__":
    main()
