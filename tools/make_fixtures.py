#!/usr/bin/env python3
"""Golden fixtures for Sharpgrad's PyTorch parity tests.

Run with Debian's PyTorch (apt-get install -y python3-torch):
    /usr/bin/python3 tools/make_fixtures.py
It writes tests/Sharpgrad.Tests/Fixtures/ops.json (ops) and tests/Sharpgrad.NN.Tests/Fixtures/nn.json (the exam
CNN, optimizers, LR schedules). Each case holds float32 inputs, the op's output, a random
upstream gradient u and the gradients of sum(output * u) with respect to every input. The case names and input
domains must match OpCases.cs in the tests, which holds the Sharpgrad side of each op.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)

TARGETS = [1, 0, 3, 2, 4, 1]  # cross-entropy class indices, N=6, C=5


def make(shape, domain):
    if domain == "any":
        return torch.randn(shape)
    if domain == "pos":
        return torch.rand(shape) * 1.5 + 0.5
    if domain == "away":  # keep clear of the kinks at 0 and +-0.5
        x = torch.rand(shape) * 1.6 + 0.1
        x = torch.where(torch.rand(shape) < 0.5, -x, x)
        x = torch.where((x.abs() - 0.5).abs() < 0.05, x + 0.1, x)
        return x
    if domain == "prob":
        return torch.rand(shape) * 0.9 + 0.05
    if domain == "binary":
        return (torch.rand(shape) < 0.5).float()
    raise ValueError(domain)


def step(x):
    # forward: 1 where x >= 0; the gradient is exactly zero
    return (x >= 0).float() + 0 * x


CASES = [
    ("add", [((3, 4), "any"), ((3, 4), "any")], lambda a, b: a + b),
    ("add_broadcast", [((2, 3, 4), "any"), ((3, 1), "any")], lambda a, b: a + b),
    ("add_slice_view", [((3, 8), "any"), ((3, 4), "any")], lambda a, b: a[:, 0:8:2] + b),
    ("sub_broadcast", [((4, 1), "any"), ((1, 5), "any")], lambda a, b: a - b),
    ("mul", [((3, 4), "any"), ((3, 4), "any")], lambda a, b: a * b),
    ("mul_broadcast", [((2, 3), "any"), ((3,), "any")], lambda a, b: a * b),
    ("mul_transposed_view", [((4, 3), "any"), ((3, 4), "any")], lambda a, b: a.t() * b),
    ("div", [((3, 4), "any"), ((3, 4), "pos")], lambda a, b: a / b),
    ("div_broadcast", [((2, 3, 4), "any"), ((4,), "pos")], lambda a, b: a / b),
    ("neg", [((3, 4), "any")], lambda a: -a),
    ("pow2", [((3, 4), "any")], lambda a: a.pow(2)),
    ("pow3", [((3, 4), "any")], lambda a: a.pow(3)),
    ("pow_frac", [((3, 4), "pos")], lambda a: a.pow(1.5)),
    ("pow_neg", [((3, 4), "pos")], lambda a: a.pow(-2)),
    ("exp", [((3, 4), "any")], lambda a: a.exp()),
    ("exp_permuted_view", [((2, 3, 4), "any")], lambda a: a.permute(2, 0, 1).exp()),
    ("log", [((3, 4), "pos")], lambda a: a.log()),
    ("sqrt", [((3, 4), "pos")], lambda a: a.sqrt()),
    ("abs", [((3, 4), "away")], lambda a: a.abs()),
    ("clamp", [((4, 5), "away")], lambda a: a.clamp(-0.5, 0.5)),
    ("clamp_min", [((4, 5), "away")], lambda a: a.clamp(min=-0.5)),
    ("sum_all", [((3, 4), "any")], lambda a: a.sum()),
    ("sum_axis1", [((3, 4), "any")], lambda a: a.sum(1)),
    ("sum_axes02_keep", [((2, 3, 4), "any")], lambda a: a.sum((0, 2), keepdim=True)),
    ("sum_axis0_transposed", [((4, 3), "any")], lambda a: a.t().sum(0)),
    ("mean_all", [((3, 4), "any")], lambda a: a.mean()),
    ("mean_axis0", [((3, 4), "any")], lambda a: a.mean(0)),
    ("mean_axes12_keep", [((2, 3, 4), "any")], lambda a: a.mean((1, 2), keepdim=True)),
    ("max_all", [((3, 4), "any")], lambda a: a.amax()),
    ("max_axis1", [((3, 4), "any")], lambda a: a.amax(1)),
    ("max_axes01_keep", [((2, 3, 4), "any")], lambda a: a.amax((0, 1), keepdim=True)),
    ("matmul", [((3, 4), "any"), ((4, 5), "any")], lambda a, b: a @ b),
    ("matmul_batched", [((2, 3, 4), "any"), ((2, 4, 5), "any")], lambda a, b: a @ b),
    ("matmul_broadcast", [((2, 1, 3, 4), "any"), ((3, 4, 5), "any")], lambda a, b: a @ b),
    ("matmul_transposed_views", [((4, 3), "any"), ((5, 4), "any")], lambda a, b: a.t() @ b.t()),
    ("sigmoid", [((3, 4), "any")], lambda a: torch.sigmoid(a)),
    ("tanh", [((3, 4), "any")], lambda a: torch.tanh(a)),
    ("relu", [((3, 4), "away")], lambda a: torch.relu(a)),
    ("step", [((3, 4), "away")], step),
    ("softmax", [((3, 5), "any")], lambda a: torch.softmax(a, -1)),
    ("softmax_axis0", [((3, 5), "any")], lambda a: torch.softmax(a, 0)),
    ("log_softmax", [((3, 5), "any")], lambda a: torch.log_softmax(a, -1)),
    ("log_softmax_axis1_3d", [((2, 3, 4), "any")], lambda a: torch.log_softmax(a, 1)),
    ("reshape", [((3, 4), "any")], lambda a: a.reshape(2, 6) * torch.arange(12.0).reshape(2, 6)),
    ("expand", [((3, 1), "any")], lambda a: a.expand(2, 3, 4) * torch.arange(24.0).reshape(2, 3, 4)),
    ("contiguous_of_transpose", [((3, 4), "any")], lambda a: a.t().contiguous() * torch.arange(12.0).reshape(4, 3)),
    ("mse", [((3, 4), "any"), ((3, 4), "any")], lambda a, b: F.mse_loss(a, b)),
    ("mse_sum", [((3, 4), "any"), ((3, 4), "any")], lambda a, b: F.mse_loss(a, b, reduction="sum")),
    ("bce", [((3, 4), "prob"), ((3, 4), "binary")], lambda p, t: F.binary_cross_entropy(p, t)),
    ("bce_none", [((3, 4), "prob"), ((3, 4), "prob")], lambda p, t: F.binary_cross_entropy(p, t, reduction="none")),
    ("bce_with_logits", [((3, 4), "any"), ((3, 4), "prob")], lambda x, t: F.binary_cross_entropy_with_logits(x, t)),
    ("bce_with_logits_sum", [((3, 4), "any"), ((3, 4), "binary")], lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum")),
    ("cross_entropy", [((6, 5), "any")], lambda x: F.cross_entropy(x, torch.tensor(TARGETS))),
    ("cross_entropy_sum", [((6, 5), "any")], lambda x: F.cross_entropy(x, torch.tensor(TARGETS), reduction="sum")),
    ("cross_entropy_none", [((6, 5), "any")], lambda x: F.cross_entropy(x, torch.tensor(TARGETS), reduction="none")),
    ("conv2d_s1_p1", [((2, 3, 7, 6), "any"), ((4, 3, 3, 3), "any"), ((4,), "any")], lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1)),
    ("conv2d_s2_p0", [((2, 2, 9, 8), "any"), ((3, 2, 3, 3), "any"), ((3,), "any")], lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=0)),
    ("conv2d_p2_nobias", [((1, 2, 5, 5), "any"), ((2, 2, 3, 3), "any")], lambda x, w: F.conv2d(x, w, None, stride=1, padding=2)),
    ("conv2d_k5_s2_p1_odd", [((2, 1, 11, 10), "any"), ((2, 1, 5, 5), "any"), ((2,), "any")], lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1)),
    ("conv2d_1x1", [((2, 4, 3, 3), "any"), ((5, 4, 1, 1), "any"), ((5,), "any")], lambda x, w, b: F.conv2d(x, w, b)),
    ("maxpool2d_k2", [((2, 3, 6, 6), "any")], lambda x: F.max_pool2d(x, 2)),
    ("maxpool2d_k3_s2_p1", [((2, 2, 7, 7), "any")], lambda x: F.max_pool2d(x, 3, stride=2, padding=1)),
    ("maxpool2d_odd", [((1, 2, 5, 7), "any")], lambda x: F.max_pool2d(x, 2)),
    ("avgpool2d_k2", [((2, 3, 6, 6), "any")], lambda x: F.avg_pool2d(x, 2)),
    ("avgpool2d_k3_s2_p1", [((2, 2, 7, 7), "any")], lambda x: F.avg_pool2d(x, 3, stride=2, padding=1)),
    ("batchnorm2d_train", [((4, 3, 5, 5), "any"), ((3,), "pos"), ((3,), "any")],
     lambda x, w, b: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b, training=True, momentum=0.1, eps=1e-5)),
    ("batchnorm1d_train", [((8, 5), "any"), ((5,), "pos"), ((5,), "any")],
     lambda x, w, b: F.batch_norm(x, torch.zeros(5), torch.ones(5), w, b, training=True)),
    ("batchnorm1d_3d_train_noaffine", [((4, 3, 6), "any")], lambda x: F.batch_norm(x, None, None, None, None, training=True)),
    ("batchnorm2d_eval", [((2, 3, 4, 4), "any"), ((3,), "any"), ((3,), "pos"), ((3,), "pos"), ((3,), "any")],
     lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False)),
    ("conv2d_relu", [((2, 3, 6, 7), "any"), ((8, 3, 3, 3), "any"), ((8,), "any")], lambda x, w, b: F.relu(F.conv2d(x, w, b, padding=1))),
    # appended after the first cases so that their random inputs stay the same (one seed for the whole list)
    ("conv2d_groups2_rect", [((2, 4, 7, 6), "any"), ((6, 2, 3, 2), "any"), ((6,), "any")],
     lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), groups=2)),
    ("conv2d_depthwise_3x3", [((2, 4, 6, 5), "any"), ((8, 1, 3, 3), "any"), ((8,), "any")], lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=4)),
    ("conv2d_depthwise_k3x5_nobias", [((1, 3, 7, 8), "any"), ((3, 1, 3, 5), "any")],
     lambda x, w: F.conv2d(x, w, None, stride=(1, 2), padding=(1, 2), groups=3)),
    ("leaky_relu", [((3, 4), "away")], lambda a: F.leaky_relu(a)),
    ("leaky_relu_slope", [((2, 3, 4), "away")], lambda a: F.leaky_relu(a, 0.2)),
    ("gelu", [((4, 5), "any")], lambda a: F.gelu(a)),
    ("gelu_wide", [((4, 5), "any")], lambda a: F.gelu(a * 4)),
    ("cat_axis1", [((2, 3, 4), "any"), ((2, 1, 4), "any"), ((2, 2, 4), "any")], lambda a, b, c: torch.cat([a, b, c], 1)),
    ("cat_last_transposed_view", [((4, 3), "any"), ((3, 2), "any")], lambda a, b: torch.cat([a.t(), b], -1)),
    ("stack_axis0", [((3, 4), "any"), ((3, 4), "any")], lambda a, b: torch.stack([a, b])),
    ("stack_last_views", [((2, 3), "any"), ((3, 2), "any"), ((2, 3), "any")], lambda a, b, c: torch.stack([a, b.t(), c], -1)),
    ("argmax_keep", [((3, 4), "any")], lambda a: a.argmax(1, keepdim=True).float() * a),
    ("argmax_axis0", [((3, 4, 2), "any")], lambda a: a.argmax(0).float() * a.sum(0)),
    ("where_broadcast", [((3, 4), "binary"), ((3, 1), "any"), ((4,), "any")], lambda c, a, b: torch.where(c.bool(), a, b)),
    ("where_from_compare", [((3, 4), "any"), ((3, 4), "any")], lambda a, b: torch.where(a > b, a, b * 2)),
    ("compare_tensor_broadcast", [((3, 4), "any"), ((4,), "any")],
     lambda a, b: ((a > b).float() + (a <= b).float() * 2 + (a < b).float() * 4 + (a >= b).float() * 8 + (a != b).float() * 16
                   + (a == b).float() * 32) * (a + b)),
    ("compare_ties", [((3, 5), "any")],
     lambda a: ((a == a.amax(1, keepdim=True)).float() + (a >= a.amax(1, keepdim=True)).float() * 2
                + (a < a.amax(1, keepdim=True)).float() * 4 + (a != a.amax(1, keepdim=True)).float() * 8) * a),
    ("compare_scalar", [((3, 5), "any")],
     lambda a: ((a > 0.25).float() + (a <= -0.5).float() * 2 + (a == 0).float() * 4 + (a != 0.25).float() * 8 + (a < 1).float() * 16
                + (a >= -1).float() * 32) * a),
    ("adaptive_avgpool2d_3x2", [((2, 3, 7, 5), "any")], lambda x: F.adaptive_avg_pool2d(x, (3, 2))),
    ("adaptive_avgpool2d_global", [((2, 3, 4, 5), "any")], lambda x: F.adaptive_avg_pool2d(x, 1)),
    ("adaptive_avgpool2d_up", [((1, 2, 3, 3), "any")], lambda x: F.adaptive_avg_pool2d(x, (4, 5))),
    ("conv2d_relu_maxpool2d", [((2, 3, 7, 6), "any"), ((8, 3, 3, 3), "any"), ((8,), "any")],
     lambda x, w, b: F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)),
    ("linear", [((4, 5), "any"), ((3, 5), "any"), ((3,), "any")], lambda x, w, b: F.linear(x, w, b)),
    ("linear_no_bias_batched", [((2, 3, 5), "any"), ((4, 5), "any")], lambda x, w: F.linear(x, w)),
    ("linear_transposed_input", [((5, 4), "any"), ((3, 5), "any"), ((3,), "any")], lambda x, w, b: F.linear(x.t(), w, b)),
    ("cross_entropy_label_smoothing", [((6, 5), "any")], lambda x: F.cross_entropy(x, torch.tensor(TARGETS), label_smoothing=0.1)),
    ("cross_entropy_label_smoothing_none", [((6, 5), "any")],
     lambda x: F.cross_entropy(x, torch.tensor(TARGETS), reduction="none", label_smoothing=0.3)),
    ("flip_width", [((2, 3, 4, 5), "any")], lambda a: torch.flip(a, [3])),
    ("flip_two_axes_of_transpose", [((3, 4, 5), "any")], lambda a: torch.flip(a.transpose(0, 2), [0, -1]) * 2),
    ("linear_relu", [((6, 7), "any"), ((5, 7), "any"), ((5,), "any")], lambda x, w, b: F.relu(F.linear(x, w, b))),
    ("add_relu", [((2, 3, 4, 5), "any"), ((2, 3, 4, 5), "any")], lambda a, b: F.relu(a + b)),
    ("conv2d_maxpool2d", [((2, 3, 7, 6), "any"), ((8, 3, 3, 3), "any"), ((8,), "any")],
     lambda x, w, b: F.max_pool2d(F.conv2d(x, w, b, padding=1), 2)),
]

# BCE on probabilities has no gradient for its target in PyTorch 1.13; Sharpgrad matches that.
NO_GRAD_INPUTS = {("bce", 1), ("bce_none", 1), ("batchnorm2d_eval", 1), ("batchnorm2d_eval", 2)}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def main():
    out = []
    for name, specs, fn in CASES:
        inputs = [make(shape, dom) for shape, dom in specs]
        for i, x in enumerate(inputs):
            if (name, i) not in NO_GRAD_INPUTS and specs[i][1] != "binary":
                x.requires_grad_(True)
        y = fn(*inputs)
        u = torch.randn(y.shape)
        if any(x.requires_grad for x in inputs) and y.requires_grad:
            (y * u).sum().backward()
        grads = []
        for x in inputs:
            if x.requires_grad:
                grads.append(flat(x.grad) if x.grad is not None else [0.0] * x.numel())
            else:
                grads.append(None)
        out.append({
            "name": name,
            "inputs": [{"shape": list(x.shape), "domain": d, "data": flat(x)} for x, (_, d) in zip(inputs, specs)],
            "output": {"shape": list(y.shape), "data": flat(y)},
            "upstream": flat(u),
            "grads": grads,
        })
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "Sharpgrad.Tests", "Fixtures", "ops.json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "targets": TARGETS, "cases": out}, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(out)} cases to {os.path.normpath(path)} (torch {torch.__version__})")


# ---------------------------------------------------------------------------------------------------------------
# Layer-library fixtures: the exam CNN, optimizers and LR schedules (tests/Sharpgrad.NN.Tests/Fixtures/nn.json).

def exam_cnn(c, h, w):
    return torch.nn.Sequential(
        torch.nn.Conv2d(c, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.BatchNorm2d(16),
        torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(16 * (h // 4) * (w // 4), 10))


def cnn_case(c, h, w, n):
    model = exam_cnn(c, h, w)
    with torch.no_grad():  # non-trivial BatchNorm affine and running statistics
        model[3].weight.uniform_(0.5, 1.5)
        model[3].bias.uniform_(-0.5, 0.5)
        model[3].running_mean.uniform_(-0.2, 0.2)
        model[3].running_var.uniform_(0.5, 2.0)
    state = {k: flat(v.float()) for k, v in model.state_dict().items()}
    x = torch.randn(n, c, h, w)
    labels = torch.randint(0, 10, (n,))
    model.train()
    out = model(x)
    loss = F.cross_entropy(out, labels)
    loss.backward()
    grads = {k: flat(p.grad) for k, p in model.named_parameters()}
    after = {k: flat(v.float()) for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    model.eval()
    with torch.no_grad():
        out_eval = model(x)
    return {
        "input": {"shape": [n, c, h, w], "data": flat(x)}, "labels": labels.tolist(), "state": state,
        "train_output": flat(out), "loss": float(loss), "grads": grads, "buffers_after_train": after,
        "eval_output": flat(out_eval),
    }


def optimizer_case(name, make_opt, steps=20):
    torch.manual_seed(99)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    x = torch.randn(16, 5)
    y = torch.randn(16, 3)
    start = {"w": flat(w), "b": flat(b)}
    opt = make_opt([w, b])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((torch.tanh(x @ w + b) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return {"name": name, "x": flat(x), "y": flat(y), "start": start, "w": flat(w), "b": flat(b), "losses": losses}


def schedule_case(name, make, steps):
    p = torch.zeros(1, requires_grad=True)
    opt, sched = make([p])
    lrs, moms = [], []
    for _ in range(steps):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if "betas" in group else group.get("momentum", 0.0))
        opt.step()
        sched.step()
    return {"name": name, "lr": lrs, "momentum": moms}


def nn_main():
    torch.manual_seed(4321)
    cnn = {"cifar": cnn_case(3, 32, 32, 4), "fashion": cnn_case(1, 28, 28, 5)}
    optim = torch.optim
    opts = [
        optimizer_case("sgd", lambda p: optim.SGD(p, lr=0.1)),
        optimizer_case("sgd_momentum_wd", lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01, dampening=0.1)),
        optimizer_case("sgd_nesterov", lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
        optimizer_case("rmsprop", lambda p: optim.RMSprop(p, lr=0.01)),
        optimizer_case("rmsprop_centered_momentum_wd", lambda p: optim.RMSprop(p, lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
        optimizer_case("adam", lambda p: optim.Adam(p, lr=0.01)),
        optimizer_case("adam_wd", lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.05)),
        optimizer_case("adamw", lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ]

    def one_cycle(p):
        o = optim.AdamW(p, lr=0.01)
        return o, optim.lr_scheduler.OneCycleLR(o, max_lr=0.01, total_steps=50)

    def one_cycle_sgd(p):
        o = optim.SGD(p, lr=0.1, momentum=0.9)
        return o, optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=37, pct_start=0.25)

    def step_lr(p):
        o = optim.SGD(p, lr=0.1)
        return o, optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)

    def cosine(p):
        o = optim.SGD(p, lr=0.1)
        return o, optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)

    scheds = [schedule_case("one_cycle_adamw", one_cycle, 50), schedule_case("one_cycle_sgd", one_cycle_sgd, 37),
              schedule_case("step_lr", step_lr, 12), schedule_case("cosine", cosine, 10)]
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "Sharpgrad.NN.Tests", "Fixtures", "nn.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "cnn": cnn, "optimizers": opts, "schedules": scheds}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}")


# ---------------------------------------------------------------------------------------------------------------
# Edge-case sweep (tests/Sharpgrad.Tests/Fixtures/edges.json), in the spirit of PyTorch's OpInfo: element-wise ops,
# reductions, losses, pooling and batch norm at 0, -0, denormals, tiny, huge, +-inf, NaN and ties, in float32 and
# float64, forward and gradient. Every float is written as its exact bit pattern in hex (8 digits for float32, 16 for
# float64, concatenated per array) because JSON holds no NaN, inf or -0. EdgeSweepTests.cs holds the Sharpgrad side
# of each case under the same name and the same loops; see the comments there for the case kinds.

INF = float("inf")
NAN = float("nan")
DTYPES = {"f32": torch.float32, "f64": torch.float64}

# edge values per dtype (the same length and order, so names line up)
EDGES = {
    "f32": [0.0, -0.0, 1e-40, -1e-40, 1e-30, -1e-30, 1e-8, -1e-8, 1e-4, -1e-4, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0,
            20.0, -20.0, 88.0, 89.0, -88.0, -104.0, 1e30, -1e30, INF, -INF, NAN],
    "f64": [0.0, -0.0, 1e-310, -1e-310, 1e-300, -1e-300, 1e-8, -1e-8, 1e-4, -1e-4, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0,
            20.0, -20.0, 709.0, 710.0, -709.0, -745.0, 1e300, -1e300, INF, -INF, NAN],
}
# a smaller set for the pairwise grids of binary ops
GRID = {
    "f32": [0.0, -0.0, 1e-40, -1e-40, 1e-30, 1e-8, -1e-4, 1.0, -2.5, 88.0, 1e30, -1e30, 3e38, INF, -INF, NAN],
    "f64": [0.0, -0.0, 1e-310, -1e-310, 1e-300, 1e-8, -1e-4, 1.0, -2.5, 709.0, 1e300, -1e300, 1.7e308, INF, -INF, NAN],
}
HUGE = {"f32": 1e30, "f64": 1e300}
OVER = {"f32": 3e38, "f64": 1.7e308}  # sums of four overflow in any order
DEN = {"f32": 1e-40, "f64": 1e-310}
# logits so large that max + log(sum) rounds back to max: log_softmax must still give -ln 2
BIG = {"f32": 1e8, "f64": 1e16}
EXPS = {"f32": (88.0, 89.0, -104.0), "f64": (709.0, 710.0, -745.0)}

UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(),
    "abs": lambda x: x.abs(),
    "pow2": lambda x: x.pow(2),
    "pow3": lambda x: x.pow(3),
    "pow_half": lambda x: x.pow(0.5),
    "pow_neg1": lambda x: x.pow(-1),
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "clamp_min": lambda x: x.clamp(min=-0.5),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "step": None,  # forward 1 where x >= 0 (NaN -> 0), gradient exactly 0: written directly below
}
# ops swept at every length 1..67 on small values (log, sqrt and the powers take the magnitudes)
SMALL_SIGNED = ["tanh", "sigmoid", "exp", "neg", "abs", "relu"]
SMALL_POS = ["log", "sqrt", "pow_half", "pow_neg1"]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}
LENGTHS = 67
# large reductions: x_i = ((i * 7919) % 1000) / 1000 * scale + offset in float64, then rounded to the dtype
LARGE_SHAPE3 = [1024, 33, 33]
LARGE_LONG = 557568  # (2, LONG) and (LONG, 2): 1,115,136 elements, as LARGE_SHAPE3; sum and mean also (10 LONG, 2)
LARGE_VARIANTS = {"sum": {"centered": (1.0, -0.5), "offset": (1.0, 1.0)},
                  "mean": {"centered": (1.0, -0.5), "offset": (1.0, 1.0)},
                  "softmax": {"centered": (1.0, -0.5), "wide": (20.0, -10.0)},
                  "log_softmax": {"centered": (1.0, -0.5), "wide": (20.0, -10.0)}}
SAMPLE_OVER = 512  # outputs longer than this are stored every `stride`-th element (about 256 of them)


def hexa(t):
    t = t.detach().contiguous().reshape(-1)
    if t.dtype == torch.float32:
        return t.numpy().astype(">f4").tobytes().hex()
    assert t.dtype == torch.float64
    return t.numpy().astype(">f8").tobytes().hex()


UPSTREAM = [1.0, -0.5, 2.0, 0.25]


def upstream(n, dtype):
    # the fixed upstream gradient: 1, -0.5, 2, 0.25, 1, ... (exact in both dtypes; EdgeSweepTests.Upstream)
    return torch.tensor([UPSTREAM[i % 4] for i in range(n)], dtype=dtype)


def step_fn(x):
    return (x >= 0).to(x.dtype)


def plain(name, dt, inputs, fn, grad_mask=None, extra=None, flags=None):
    """inputs: list of tensors (float); fn(*inputs) -> tensor. Gradients of sum(y * u) for each input in grad_mask."""
    dtype = DTYPES[dt]
    xs = [x.to(dtype).detach().clone() for x in inputs]
    if grad_mask is None:
        grad_mask = [True] * len(xs)
    for x, g in zip(xs, grad_mask):
        x.requires_grad_(g)
    y = fn(*xs)
    u = upstream(y.numel(), dtype).reshape(y.shape)
    if y.requires_grad:
        y.backward(u)
    grads = []
    for x, g in zip(xs, grad_mask):
        if not g:
            grads.append(None)
        else:
            grads.append(hexa(x.grad) if x.grad is not None else hexa(torch.zeros_like(x)))
    case = {"name": name, "kind": "plain", "dtype": dt,
            "inputs": [{"shape": list(x.shape), "data": hexa(x), "grad": g} for x, g in zip(xs, grad_mask)],
            "output": {"shape": list(y.shape), "data": hexa(y)}, "grads": grads}
    if extra:
        case.update(extra)
    if flags:
        case["flags"] = flags
    return case


def unary_torch(op):
    if op == "step":
        return step_fn
    return UNARY[op]


def step_plain(name, dt, x):
    # Sharpgrad's Step has no PyTorch counterpart: the forward is (x >= 0), the gradient is exactly zero
    dtype = DTYPES[dt]
    x = x.to(dtype)
    y = step_fn(x)
    return {"name": name, "kind": "plain", "dtype": dt,
            "inputs": [{"shape": list(x.shape), "data": hexa(x), "grad": True}],
            "output": {"shape": list(y.shape), "data": hexa(y)}, "grads": [hexa(torch.zeros_like(x))]}


def lengths_case(name, dt, op, base):
    """op at every length 1..67 on the first n values of base: the expected output and gradient of element k do not
    depend on n, so only the length-67 results are stored; this checks PyTorch agrees at every length too."""
    dtype = DTYPES[dt]
    fn = unary_torch(op)
    x = base.to(dtype).detach().clone().requires_grad_(True)
    y = fn(x)
    u = upstream(LENGTHS, dtype)
    if op == "step":
        g = torch.zeros_like(x)
    else:
        y.backward(u)
        g = x.grad
    for n in range(1, LENGTHS + 1):
        xn = base[:n].to(dtype).detach().clone().requires_grad_(op != "step")
        yn = fn(xn)
        assert torch.allclose(yn, y[:n], rtol=2e-7 if dt == "f32" else 1e-15, atol=0, equal_nan=True), (name, n)
    return {"name": name, "kind": "lengths", "dtype": dt, "input": hexa(x), "output": hexa(y), "grad": hexa(g)}


def formula(n, scale, offset):
    i = torch.arange(n, dtype=torch.int64)
    return ((i * 7919) % 1000).to(torch.float64) / 1000 * scale + offset


def large_case(op, variant, layout, dt):
    dtype = DTYPES[dt]
    scale, offset = LARGE_VARIANTS[op][variant]
    if layout in ("all", "axis0", "axis1", "axis2"):
        shape = LARGE_SHAPE3
    elif layout == "long_rows":
        shape = [2, LARGE_LONG]
    elif layout == "longer_cols":
        shape = [10 * LARGE_LONG, 2]
    else:
        shape = [LARGE_LONG, 2]
    n = shape[0] * shape[1] * (shape[2] if len(shape) == 3 else 1)
    x = formula(n, scale, offset).to(dtype).reshape(shape)
    axis = {"all": None, "axis0": 0, "axis1": 1, "axis2": 2, "long_rows": 1, "long_cols": 0, "longer_cols": 0}[layout]
    if op == "sum":
        y = x.sum() if axis is None else x.sum(axis)
    elif op == "mean":
        y = x.mean() if axis is None else x.mean(axis)
    elif op == "softmax":
        y = torch.softmax(x, axis)
    else:
        y = torch.log_softmax(x, axis)
    flat_y = y.reshape(-1)
    stride = 1 if flat_y.numel() <= SAMPLE_OVER else (flat_y.numel() + 255) // 256
    return {"name": f"{op}_large_{variant}_{layout}_{dt}", "kind": "formula", "dtype": dt,
            "formula": {"shape": shape, "scale": scale, "offset": offset},
            "output": {"shape": list(y.shape), "stride": stride, "data": hexa(flat_y[::stride])}}


def error_case(name, dt, inputs, fn):
    dtype = DTYPES[dt]
    xs = [x.to(dtype) for x in inputs]
    try:
        fn(*xs)
    except (RuntimeError, ValueError) as e:
        return {"name": name, "kind": "error", "dtype": dt,
                "inputs": [{"shape": list(x.shape), "data": hexa(x), "grad": False} for x in xs],
                "error": f"{type(e).__name__}: {e}"}
    raise AssertionError(f"{name}: PyTorch did not raise")


def reduction_rows(dt):
    h, o, d, b = HUGE[dt], OVER[dt], DEN[dt], BIG[dt]
    e1, e2, e3 = EXPS[dt]
    return torch.tensor([
        [0.0, -0.0, 0.0, -0.0],
        [-0.0, -0.0, -0.0, -0.0],
        [d, -d, d, d],
        [h, h, h, h],
        [o, o, o, o],
        [-h, -h, -h, -h],
        [INF, 1.0, 2.0, 3.0],
        [-INF, 1.0, 2.0, 3.0],
        [INF, -INF, 0.0, 0.0],
        [NAN, 1.0, 2.0, 3.0],
        [-INF, -INF, -INF, -INF],
        [INF, INF, 0.0, 0.0],
        [e1, e2, e3, 0.0],
        [b, b, 0.0, 0.0],
        [-b, 0.0, b, b],
        [2.0, 2.0, 2.0, 2.0],
        [3.0, -1.0, 3.0, 0.5],
        [1e-8, 2e-8, 3e-8, 4e-8],
        [1.0, 2.0, 3.0, 4.0],
    ], dtype=torch.float64)


def tensor3d(dt, gen):
    x = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
    x[0, 0, 0] = INF
    x[1, 2, 3] = -INF
    x[2, 1, 4] = NAN
    x[0, 3, 2] = HUGE[dt]
    x[1, 0, :] = 2.0          # ties along the last axis
    x[2, 3, 0] = x[2, 3, 1] = 5.0
    x[0, 1, 1] = x[1, 1, 1] = x[2, 1, 1] = 7.0  # ties along the first axis
    x[1, 3, 4] = DEN[dt]
    x[2, 0, 2] = -0.0
    return x


def ce_rows(dt):
    h, d, b = HUGE[dt], DEN[dt], BIG[dt]
    e1, e2, e3 = EXPS[dt]
    rows = [
        ([b, b, 0.0], 0), ([0.0, 0.0, 0.0], 1), ([h, 0.0, -h], 0), ([h, 0.0, -h], 2), ([-INF, 0.0, 1.0], 0),
        ([-INF, 0.0, 1.0], 2), ([INF, 0.0, 0.0], 0), ([NAN, 0.0, 0.0], 1), ([e1, e2, e3], 2), ([d, -d, 0.0], 0),
        ([1e-8, 0.0, -1e-8], 1), ([-h, -h, -h], 0), ([-b, b, 0.0], 0),
    ]
    return torch.tensor([r for r, _ in rows], dtype=torch.float64), [t for _, t in rows]


CE_MEAN_ROWS = [0, 1, 8, 10, 12]  # the finite rows of ce_rows, for the mean-reduced case


def pool_input_k2(dt, gen):
    # (1, 2, 4, 32): 32 columns so that a float32 row runs the 16-column vector blocks of the 2x2 kernel
    x = torch.randn(1, 2, 4, 32, generator=gen, dtype=torch.float64)
    x[0, 0, 0, 2] = NAN                                   # one NaN in a window
    x[0, 0, 0, 4] = NAN; x[0, 0, 1, 5] = NAN              # two NaNs in a window
    x[0, 0, 0, 6:8] = -INF; x[0, 0, 1, 6:8] = -INF        # a window of -inf only
    x[0, 0, 2, 8] = -INF                                  # one -inf
    x[0, 0, 2, 10] = INF                                  # +inf
    x[0, 0, 2, 12:14] = 3.0; x[0, 0, 3, 12:14] = 3.0      # a four-way tie
    x[0, 0, 0, 20] = 9.0; x[0, 0, 1, 21] = 9.0            # a two-way tie
    x[0, 0, 2, 16] = 0.0; x[0, 0, 2, 17] = -0.0; x[0, 0, 3, 16] = -0.0; x[0, 0, 3, 17] = -5.0  # 0 and -0 tie
    x[0, 1, 0, 30] = NAN                                  # a NaN in the last block of a row
    x[0, 1, 3, 31] = HUGE[dt]
    x[0, 1, 1, 0] = DEN[dt]; x[0, 1, 0, 0] = -1.0; x[0, 1, 0, 1] = -1.0; x[0, 1, 1, 1] = -2.0
    return x


def pool_input_k3(dt, gen):
    # (1, 1, 7, 7) for kernel 3, stride 2, padding 1: no window holds a tie or two NaNs
    x = torch.randn(1, 1, 7, 7, generator=gen, dtype=torch.float64)
    x[0, 0, 0, 0] = NAN
    x[0, 0, 3, 3] = -INF
    x[0, 0, 6, 6] = INF
    x[0, 0, 4, 1] = HUGE[dt]
    x[0, 0, 2, 5] = -HUGE[dt]
    return x


def avg_input_k2(dt, gen):
    x = torch.randn(1, 2, 4, 32, generator=gen, dtype=torch.float64)
    x[0, 0, 0, 0] = NAN
    x[0, 0, 0, 2] = INF; x[0, 0, 1, 3] = -INF
    x[0, 0, 2, 4] = INF
    x[0, 0, 2, 6:8] = OVER[dt]; x[0, 0, 3, 6:8] = OVER[dt]
    x[0, 1, 0, 0:2] = DEN[dt]; x[0, 1, 1, 0:2] = DEN[dt]
    x[0, 1, 2, 10] = -0.0; x[0, 1, 2, 11] = -0.0; x[0, 1, 3, 10] = -0.0; x[0, 1, 3, 11] = -0.0
    return x


def bn_input(dt, gen):
    # (4, 5): channel 0 constant (variance 0), 1 ordinary, 2 huge (+-HUGE), 3 with a NaN, 4 denormal spread
    x = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    x[:, 0] = 2.5
    x[:, 2] = torch.tensor([HUGE[dt], -HUGE[dt], HUGE[dt], -HUGE[dt]])
    x[1, 3] = NAN
    x[:, 4] = torch.tensor([DEN[dt], -DEN[dt], 0.0, DEN[dt]])
    return x


def edges_main():
    out = []
    gen = torch.Generator().manual_seed(2024)
    for dt in DTYPES:
        dtype = DTYPES[dt]
        e = torch.tensor(EDGES[dt], dtype=torch.float64)
        # element-wise, every edge value, forward and gradient
        for op in UNARY:
            if op == "step":
                out.append(step_plain(f"step_edges_{dt}", dt, e))
            else:
                out.append(plain(f"{op}_edges_{dt}", dt, [e], UNARY[op]))
        # lengths 1..67
        k = torch.arange(LENGTHS, dtype=torch.float64)
        small = (10.0 ** (-8.0 + 4.0 * k / (LENGTHS - 1))) * torch.where(k % 2 == 0, 1.0, -1.0)
        mixed = torch.randn(LENGTHS, generator=gen, dtype=torch.float64) * 3
        mixed[::5] = torch.tensor(EDGES[dt][:14], dtype=torch.float64)  # 0, -0, denormals, tiny, small, ordinary
        for op in UNARY:
            out.append(lengths_case(f"{op}_lengths_mixed_{dt}", dt, op, mixed))
        for op in SMALL_SIGNED:
            out.append(lengths_case(f"{op}_lengths_small_{dt}", dt, op, small))
        for op in SMALL_POS:
            out.append(lengths_case(f"{op}_lengths_small_{dt}", dt, op, small.abs()))
        # binary ops: every pair of grid values
        g = torch.tensor(GRID[dt], dtype=torch.float64)
        a, b = g.repeat_interleave(len(g)), g.repeat(len(g))
        for op, fn in BINARY.items():
            out.append(plain(f"{op}_grid_{dt}", dt, [a, b], fn))
        # reductions and softmax: one scenario per row, along the last axis
        rows = reduction_rows(dt)
        out.append(plain(f"sum_rows_{dt}", dt, [rows], lambda x: x.sum(1)))
        out.append(plain(f"mean_rows_{dt}", dt, [rows], lambda x: x.mean(1)))
        out.append(plain(f"max_rows_{dt}", dt, [rows], lambda x: x.amax(1)))
        out.append(plain(f"softmax_rows_{dt}", dt, [rows], lambda x: torch.softmax(x, 1)))
        out.append(plain(f"log_softmax_rows_{dt}", dt, [rows], lambda x: torch.log_softmax(x, 1)))
        # every axis of a 3-D tensor with planted edges and ties
        t3 = tensor3d(dt, gen)
        for ax in range(3):
            out.append(plain(f"sum_3d_axis{ax}_{dt}", dt, [t3], lambda x, ax=ax: x.sum(ax)))
            out.append(plain(f"mean_3d_axis{ax}_{dt}", dt, [t3], lambda x, ax=ax: x.mean(ax)))
            out.append(plain(f"max_3d_axis{ax}_{dt}", dt, [t3], lambda x, ax=ax: x.amax(ax)))
            out.append(plain(f"softmax_3d_axis{ax}_{dt}", dt, [t3], lambda x, ax=ax: torch.softmax(x, ax)))
            out.append(plain(f"log_softmax_3d_axis{ax}_{dt}", dt, [t3], lambda x, ax=ax: torch.log_softmax(x, ax)))
        finite3 = torch.nan_to_num(t3, nan=0.5, posinf=4.0, neginf=-4.0)
        out.append(plain(f"sum_3d_all_{dt}", dt, [finite3], lambda x: x.sum()))
        out.append(plain(f"mean_3d_all_{dt}", dt, [finite3], lambda x: x.mean()))
        out.append(plain(f"max_3d_all_{dt}", dt, [finite3], lambda x: x.amax()))
        # large reductions, inputs by formula, outputs only
        for op, variants in LARGE_VARIANTS.items():
            layouts = ["all", "axis0", "axis1", "axis2", "long_rows", "long_cols", "longer_cols"] if op in ("sum", "mean") else \
                      ["axis0", "axis1", "axis2", "long_rows", "long_cols"]
            for variant in variants:
                for layout in layouts:
                    out.append(large_case(op, variant, layout, dt))
        # losses
        out.append(plain(f"mse_grid_{dt}", dt, [a, b], lambda x, t: F.mse_loss(x, t, reduction="none")))
        mx = torch.tensor([1.0, -2.0, 0.0, -0.0, DEN[dt], 1e-8, 3.0, HUGE[dt]], dtype=torch.float64)
        mt = torch.tensor([0.5, -2.0, -0.0, 1e-8, 0.0, -1e-8, -1.0, HUGE[dt]], dtype=torch.float64)
        out.append(plain(f"mse_mean_{dt}", dt, [mx, mt], lambda x, t: F.mse_loss(x, t)))
        one_minus = {"f32": 1.0 - 2.0 ** -24, "f64": 1.0 - 2.0 ** -53}[dt]
        probs = torch.tensor([0.0, -0.0, DEN[dt], 1e-30, 1e-8, 1e-4, 0.25, 0.5, 1 - 1e-4, one_minus, 1.0],
                             dtype=torch.float64)
        targets = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
        bp, bt = probs.repeat_interleave(3), targets.repeat(len(probs))
        out.append(plain(f"bce_grid_{dt}", dt, [bp, bt], lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
                         grad_mask=[True, False]))
        out.append(plain(f"bce_mean_{dt}", dt, [torch.tensor([0.5, 0.0, 1.0, 0.25, 0.0, 1.0]),
                                                 torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])],
                         lambda p, t: F.binary_cross_entropy(p, t), grad_mask=[True, False]))
        out.append(error_case(f"bce_nan_error_{dt}", dt, [torch.tensor([0.5, NAN]), torch.tensor([1.0, 0.0])],
                              lambda p, t: F.binary_cross_entropy(p, t)))
        out.append(error_case(f"bce_above_one_error_{dt}", dt, [torch.tensor([0.5, 1.5]), torch.tensor([1.0, 0.0])],
                              lambda p, t: F.binary_cross_entropy(p, t)))
        lx = torch.tensor(EDGES[dt], dtype=torch.float64)
        lxs, lts = lx.repeat_interleave(3), targets.repeat(len(lx))
        out.append(plain(f"bce_logits_grid_{dt}", dt, [lxs, lts],
                         lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none")))
        mlx = torch.tensor([-100.0, 0.0, 100.0, 1e-8, -1e-8, EXPS[dt][0], EXPS[dt][2], 30.0], dtype=torch.float64)
        mlt = torch.tensor([0.0, 0.5, 1.0, 1.0, 0.0, 0.0, 1.0, 0.25], dtype=torch.float64)
        out.append(plain(f"bce_logits_mean_{dt}", dt, [mlx, mlt], lambda x, t: F.binary_cross_entropy_with_logits(x, t)))
        logits, tg = ce_rows(dt)
        out.append(plain(f"cross_entropy_rows_{dt}", dt, [logits],
                         lambda x, tg=tg: F.cross_entropy(x, torch.tensor(tg), reduction="none"), extra={"targets": tg}))
        mtg = [tg[i] for i in CE_MEAN_ROWS]
        out.append(plain(f"cross_entropy_mean_{dt}", dt, [logits[CE_MEAN_ROWS]],
                         lambda x, mtg=mtg: F.cross_entropy(x, torch.tensor(mtg)), extra={"targets": mtg}))
        # pooling
        out.append(plain(f"max_pool2d_k2_{dt}", dt, [pool_input_k2(dt, gen)], lambda x: F.max_pool2d(x, 2),
                         flags=["route_unspecified"]))
        out.append(plain(f"max_pool2d_k3s2p1_{dt}", dt, [pool_input_k3(dt, gen)], lambda x: F.max_pool2d(x, 3, 2, 1)))
        out.append(plain(f"avg_pool2d_k2_{dt}", dt, [avg_input_k2(dt, gen)], lambda x: F.avg_pool2d(x, 2)))
        out.append(plain(f"avg_pool2d_k3s2p1_{dt}", dt, [pool_input_k3(dt, gen)], lambda x: F.avg_pool2d(x, 3, 2, 1)))
        # batch norm in training
        bw = torch.tensor([1.5, -0.5, 1.0, 2.0, 1.0], dtype=torch.float64)
        bb = torch.tensor([0.25, 0.0, -1.0, 0.5, 0.0], dtype=torch.float64)
        out.append(plain(f"batch_norm_train_edges_{dt}", dt, [bn_input(dt, gen), bw, bb],
                         lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)))
        out.append(error_case(f"batch_norm_single_value_error_{dt}", dt, [torch.randn(1, 3, generator=gen, dtype=torch.float64)],
                              lambda x: F.batch_norm(x, None, None, training=True)))
        out.append(error_case(f"batch_norm_single_value_4d_error_{dt}", dt, [torch.randn(1, 2, 1, 1, generator=gen, dtype=torch.float64)],
                              lambda x: F.batch_norm(x, None, None, training=True)))
    names = [c["name"] for c in out]
    assert len(names) == len(set(names)), "duplicate case names"
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "Sharpgrad.Tests", "Fixtures", "edges.json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "lengths": LENGTHS, "upstream_pattern": UPSTREAM, "cases": out}, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(out)} edge cases to {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------------------------------------------------------
# Built-in models (tests/Sharpgrad.NN.Tests/Fixtures/models.json): every model of tools/sharpgrad_models.py, with
# weights of rank >= 2 from a formula both sides compute exactly (so they need not be stored), the rest stored; the
# train-mode output, loss, every parameter's gradient (float32 little-endian, base64) and running statistics, and
# the eval-mode output.

def formula_weight(k, shape, fan_in):
    """Parameter k (state_dict order) of rank >= 2: ((j * 7919 + k * 104729) % 2001 - 1000) / 1000 / sqrt(fan_in)."""
    n = 1
    for d in shape:
        n *= d
    j = torch.arange(n, dtype=torch.float64)
    v = torch.remainder(j * 7919 + k * 104729, 2001) - 1000
    return (v / 1000 / (fan_in ** 0.5)).to(torch.float32).reshape(shape)


def b64(t):
    import base64
    return base64.b64encode(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).decode()


def model_case(name, c, h, w, n, with_grads, classes=10):
    import sharpgrad_models
    model = sharpgrad_models.BUILT_IN[name](c, h, w, classes)
    stored = {}
    with torch.no_grad():
        for k, (key, t) in enumerate(model.state_dict().items()):
            if t.dim() >= 2:
                t.copy_(formula_weight(k, list(t.shape), t[0].numel()))
            elif key.endswith("num_batches_tracked"):
                continue
            else:
                if key.endswith("running_var") or (key.endswith("weight") and _is_bn(model, key)):
                    t.uniform_(0.5, 1.5)
                else:
                    t.uniform_(-0.3, 0.3)
                stored[key] = flat(t)
    x = torch.randn(n, c, h, w)
    labels = torch.randint(0, classes, (n,))
    model.train()
    out = model(x)
    loss = F.cross_entropy(out, labels)
    loss.backward()
    grads = {k: b64(p.grad) for k, p in model.named_parameters()} if with_grads else None
    after = {k: flat(v.float()) for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    model.eval()
    with torch.no_grad():
        out_eval = model(x)
    return {
        "name": name, "input_shape": [c, h, w], "classes": classes,
        "parameters": sum(p.numel() for p in model.parameters()),
        "state_shapes": {k: list(v.shape) for k, v in model.state_dict().items()},
        "stored": stored, "input": flat(x), "labels": labels.tolist(),
        "train_output": flat(out), "loss": float(loss), "grads": grads, "buffers_after_train": after,
        "eval_output": flat(out_eval),
    }


def _is_bn(model, key):
    mod = model.get_submodule(key.rsplit(".", 1)[0])
    return isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))


def models_main():
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    torch.manual_seed(777)
    cases = []
    # every parameter's gradient at each model's home shape (Fashion-MNIST's 1x28x28, CIFAR's 3x32x32 for the
    # ResNets), outputs, loss and running statistics at both
    for name in ["exam-cnn", "mlp", "lenet5", "resnet8", "resnet20", "mobilenet", "cnn3"]:
        home = (3, 32, 32) if name.startswith("resnet") or name == "mobilenet" else (1, 28, 28)
        for (c, h, w), n in (((1, 28, 28), 3), ((3, 32, 32), 2)):
            cases.append(model_case(name, c, h, w, n, with_grads=(c, h, w) == home))
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "Sharpgrad.NN.Tests", "Fixtures", "models.json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} model cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    import sys
    parts = sys.argv[1:] or ["ops", "nn", "edges", "models"]
    for part in parts:
        {"ops": main, "nn": nn_main, "edges": edges_main, "models": models_main}[part]()
