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


if __name__ == "__main__":
    main()
    nn_main()
