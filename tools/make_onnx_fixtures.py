#!/usr/bin/python3
"""ONNX import fixtures: PyTorch (Debian's python3-torch 1.13) exports the exam CNN and resnet8 with torch.onnx.export.

Also mobilenet (depthwise convolutions) and the exam CNN with x.view(x.size(0), -1) in place of Flatten (which
torch.onnx.export writes as Shape -> Gather -> Unsqueeze -> Concat -> Reshape). Writes into
tests/Sharpgrad.Onnx.Tests/Fixtures/:
  <name>.onnx                 the model as torch.onnx.export writes it (eval mode, opset 17, dynamic batch)
  <name>.io.safetensors       "input" [4,1,28,28] and PyTorch's eval-mode "output" [4,10], float32

Fixed seeds; the weights are PyTorch's default initialization plus randomized batch-norm statistics and affine
parameters (so that batch norm is not the identity). Run: /usr/bin/python3 tools/make_onnx_fixtures.py
"""
import json
import os
import struct

import torch

import sharpgrad_models

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "Sharpgrad.Onnx.Tests", "Fixtures")


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def randomize_batch_norm(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def export(name, model, seed):
    gen = torch.Generator().manual_seed(seed)
    randomize_batch_norm(model, gen)
    model.eval()
    x = torch.rand(4, 1, 28, 28, generator=gen)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
    write_safetensors(os.path.join(OUT, name + ".io.safetensors"), {"input": x, "output": y})
    print(name, os.path.getsize(path), "bytes")


class ViewFlatten(torch.nn.Module):
    """The exam CNN's Flatten written as x.view(x.size(0), -1)."""

    def forward(self, x):
        return x.view(x.size(0), -1)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    export("exam-cnn", sharpgrad_models.exam_cnn(1, 28, 28), 1)
    torch.manual_seed(1)
    export("resnet8", sharpgrad_models.cifar_resnet(1, 28, 28, 10, 1), 2)
    torch.manual_seed(2)
    export("mobilenet", sharpgrad_models.mobilenet(1, 28, 28), 3)
    torch.manual_seed(3)
    view = sharpgrad_models.exam_cnn(1, 28, 28)
    view[7] = ViewFlatten()
    export("exam-cnn-view", view, 4)


if __name__ == "__main__":
    main()
