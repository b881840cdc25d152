#!/usr/bin/python3
"""Trains the exam CNN in PyTorch (Debian's python3-torch 1.13) on the bundled Fashion-MNIST, exports it with
torch.onnx.export and prints PyTorch's test accuracy, so that `sharpgrad eval --model OUT.onnx` can be compared
with it: both normalize with the training images' mean and std (sharpgrad eval's default, --normalize data).

Run: /usr/bin/python3 tools/check_onnx_eval.py OUT.onnx [EPOCHS]
"""
import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

import sharpgrad_models

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def main():
    out = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x_train = torch.tensor(idx("train-images-idx3-ubyte.gz"), dtype=torch.float32) / 255
    y_train = torch.tensor(idx("train-labels-idx1-ubyte.gz"))
    x_test = torch.tensor(idx("t10k-images-idx3-ubyte.gz"), dtype=torch.float32) / 255
    y_test = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"))
    mean, std = x_train.mean().item(), x_train.std(unbiased=False).item()
    model = sharpgrad_models.exam_cnn(1, 28, 28)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_train))
        for i in range(0, len(perm), 128):
            b = perm[i:i + 128]
            loss = F.cross_entropy(model((x_train[b] - mean) / std), y_train[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        logits = model((x_test - mean) / std)
        accuracy = (logits.argmax(1) == y_test).float().mean().item()
        test_loss = F.cross_entropy(logits, y_test).item()
    torch.onnx.export(model, x_test[:1], out, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
    print(f"normalization mean {mean:.4f} std {std:.4f}")
    print(f"PyTorch: test accuracy {accuracy * 100:.2f}%, test loss {test_loss:.4f}; wrote {out}")


if __name__ == "__main__":
    main()
