"""Sharpgrad's built-in models written in PyTorch, and a builder for Sharpgrad model files (sharpgrad-model/1).

Used by tools/make_fixtures.py (parity fixtures for every built-in model) and tools/check_torch_load.py (loads a
run's weights strictly into the PyTorch model). The definitions here are written independently of
src/Sharpgrad.NN/Modules/Models.cs: the parity tests check that both give the same state_dict names, shapes,
parameter counts, outputs and gradients.
"""
import torch
from torch import nn


class Residual(nn.Module):
    """y = body(x) + shortcut(x); children named body and shortcut, as Sharpgrad's Residual."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def step(x):
    return (x >= 0).to(x.dtype) + 0 * x


class Step(nn.Module):
    def forward(self, x):
        return step(x)


def exam_cnn(c, h, w, classes=10, dropout=0.0):
    layers = [nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(16),
              nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(16 * (h // 4) * (w // 4), classes))
    return nn.Sequential(*layers)


def mlp(c, h, w, classes=10, dropout=0.0):
    layers = [nn.Flatten(), nn.Linear(c * h * w, 256), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(256, classes))
    return nn.Sequential(*layers)


def lenet5(c, h, w, classes=10, dropout=0.0):
    pad = max(0, (32 - min(h, w) + 1) // 2)
    fh, fw = ((h + 2 * pad - 4) // 2 - 4) // 2, ((w + 2 * pad - 4) // 2 - 4) // 2
    layers = [nn.Conv2d(c, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
              nn.Linear(16 * fh * fw, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(84, classes))
    return nn.Sequential(*layers)


def cifar_resnet(c, h, w, classes, n, dropout=0.0):
    layers = [nn.Conv2d(c, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    in_c = 16
    for out_c, first_stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(n):
            s = first_stride if b == 0 else 1
            body = nn.Sequential(nn.Conv2d(in_c, out_c, 3, s, 1, bias=False), nn.BatchNorm2d(out_c), nn.ReLU(),
                                 nn.Conv2d(out_c, out_c, 3, 1, 1, bias=False), nn.BatchNorm2d(out_c))
            shortcut = None
            if s != 1 or in_c != out_c:
                shortcut = nn.Sequential(nn.Conv2d(in_c, out_c, 1, s, bias=False), nn.BatchNorm2d(out_c))
            layers += [Residual(body, shortcut), nn.ReLU()]
            in_c = out_c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(64, classes))
    return nn.Sequential(*layers)


def mobilenet(c, h, w, classes=10, dropout=0.0):
    layers = [nn.Conv2d(c, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    in_c = 16
    for out_c, s in ((32, 1), (64, 2), (128, 2), (128, 1)):
        layers += [nn.Conv2d(in_c, in_c, 3, s, 1, groups=in_c, bias=False), nn.BatchNorm2d(in_c), nn.ReLU(),
                   nn.Conv2d(in_c, out_c, 1, bias=False), nn.BatchNorm2d(out_c), nn.ReLU()]
        in_c = out_c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(in_c, classes))
    return nn.Sequential(*layers)


def cnn3(c, h, w, classes=10, dropout=0.0):
    layers = [nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(32),
              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(64),
              nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(64 * (h // 8) * (w // 8), classes))
    return nn.Sequential(*layers)


BUILT_IN = {
    "exam-cnn": exam_cnn,
    "mlp": mlp,
    "lenet5": lenet5,
    "resnet8": lambda c, h, w, classes=10, dropout=0.0: cifar_resnet(c, h, w, classes, 1, dropout),
    "resnet20": lambda c, h, w, classes=10, dropout=0.0: cifar_resnet(c, h, w, classes, 3, dropout),
    "mobilenet": mobilenet,
    "cnn3": cnn3,
}


def _pair(v):
    return tuple(v) if isinstance(v, list) else v


def from_spec(node):
    """Builds the PyTorch module of one node of a Sharpgrad model file (the "model" entry)."""
    t = node["type"]
    a = {k: v for k, v in node.items() if k != "type"}
    if t == "Sequential":
        return nn.Sequential(*[from_spec(n) for n in a["layers"]])
    if t == "Residual":
        return Residual(from_spec(a["body"]), from_spec(a["shortcut"]) if a.get("shortcut") else None)
    if t == "Conv2d":
        return nn.Conv2d(a["in_channels"], a["out_channels"], _pair(a["kernel_size"]), _pair(a.get("stride", 1)),
                         _pair(a.get("padding", 0)), groups=a.get("groups", 1), bias=a.get("bias", True))
    if t == "Linear":
        return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True))
    if t in ("BatchNorm1d", "BatchNorm2d"):
        return getattr(nn, t)(a["num_features"], eps=a.get("eps", 1e-5), momentum=a.get("momentum", 0.1),
                              affine=a.get("affine", True))
    if t in ("MaxPool2d", "AvgPool2d"):
        return getattr(nn, t)(a["kernel_size"], a.get("stride"), a.get("padding", 0))
    if t == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d(_pair(a["output_size"]))
    if t == "Flatten":
        return nn.Flatten(a.get("start_dim", 1), a.get("end_dim", -1))
    if t == "Dropout":
        return nn.Dropout(a.get("p", 0.5))
    if t == "Step":
        return Step()
    if t in ("Identity", "ReLU", "Sigmoid", "Tanh", "GELU"):
        return getattr(nn, t)()
    if t == "LeakyReLU":
        return nn.LeakyReLU(a.get("negative_slope", 0.01))
    raise ValueError(f"unknown layer type {t}")
