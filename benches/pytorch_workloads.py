"""PyTorch's figures for the reference workloads W1-W9, printed in the same lines as
`cargo run --release --example workloads`, for a side-by-side comparison on one machine.

Run with a Python that has torch (CPU build is enough; not a dependency of the project):
    python benches/pytorch_workloads.py --threads 2 [W1 W5 ...]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

REPEATS = 5


def per_call(f, min_s=1.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < min_s / 2:
        f()
    runs = []
    for _ in range(REPEATS):
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < min_s:
            f()
            n += 1
        runs.append((time.perf_counter() - t) / n)
    return statistics.median(runs)


def reset_peak_rss():
    """Resets the kernel's high-water mark of resident memory to the current size (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib():
    """Peak resident memory in MiB since start or the last reset (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            for l in f:
                if l.startswith("VmHWM:"):
                    return int(l.split()[1]) / 1024
    except OSError:
        return None
    return None


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def cifar_net():
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(2), nn.Conv2d(32, 32, 5, padding=2), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 64), nn.Linear(64, 10))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


class BasicBlock(nn.Module):
    """torchvision's BasicBlock."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


def resnet20():
    def stage(i, o, stride):
        ds = None if stride == 1 else nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))
        return nn.Sequential(BasicBlock(i, o, stride, ds), BasicBlock(o, o), BasicBlock(o, o))
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        stage(16, 16, 1), stage(16, 32, 2), stage(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def train_step(net, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # as the example: `W7` runs both W7 figures, `W7a` only the first
    want = lambda w: not a.only or any(w.startswith(o) or o.startswith(w) for o in a.only)
    line = lambda what, v: print(f"{what} threads={a.threads} : {v:.1f}  (pytorch {torch.__version__})")
    labels = lambda n: torch.tensor([(i * 7) % 10 for i in range(n)])
    if want("W1"):
        net = lenet()
        opt = torch.optim.SGD(net.parameters(), lr=0.9)
        x, y = torch.rand(256, 1, 28, 28), labels(256)
        line("W1 train examples/s", 256 / per_call(lambda: train_step(net, opt, x, y)))
    if want("W2"):
        net = cifar_net()
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        x, y = torch.rand(64, 3, 32, 32) * 2 - 1, labels(64)
        line("W2 train examples/s", 64 / per_call(lambda: train_step(net, opt, x, y)))
        with torch.no_grad():
            line("W2 inference examples/s", 64 / per_call(lambda: net(x)))
    if want("W3"):
        net = mlp()
        x1 = torch.rand(1, 28, 28)
        with torch.no_grad():
            line("W3 inference batch-1 us", per_call(lambda: net(x1)) * 1e6)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        x, y = torch.rand(64, 28, 28), labels(64)
        line("W3 train examples/s", 64 / per_call(lambda: train_step(net, opt, x, y)))
    if want("W4"):
        x = torch.rand(8, 64, 128, 128) * 2 - 1
        flops = 2 * 8 * 32 * 126 * 126 * 64 * 9
        with torch.no_grad():
            c = nn.Conv2d(64, 32, 3)
            t = per_call(lambda: c(x))
            line("W4a conv forward ms", t * 1e3)
            line("W4a conv forward GFLOP/s", flops / t / 1e9)
            g = nn.Conv2d(64, 32, 3, groups=8)
            line("W4b grouped conv forward ms", per_call(lambda: g(x)) * 1e3)
            dw = nn.Sequential(nn.Conv2d(64, 64, 3, groups=64), nn.Conv2d(64, 32, 1))
            line("W4c depthwise+pointwise forward ms", per_call(lambda: dw(x)) * 1e3)
            tr = nn.ConvTranspose2d(32, 64, 3)
            xd = torch.rand(8, 32, 126, 126) * 2 - 1
            line("W4d conv-transpose forward ms", per_call(lambda: tr(xd)) * 1e3)
        xg = x.clone().requires_grad_(True)

        def fb():
            c.zero_grad()
            xg.grad = None
            c(xg).sum().backward()
        line("W4e conv forward+backward ms", per_call(fb) * 1e3)
    if want("W5"):
        for n in (256, 512, 1024):
            A, B = torch.ones(n, n), torch.full((n, n), 0.5)
            line(f"W5 gemm {n} GFLOP/s", 2 * n ** 3 / per_call(lambda: A @ B) / 1e9)
    if want("W6"):
        net = lenet()
        x = torch.rand(1, 1, 28, 28)
        with torch.no_grad():
            line("W6 inference batch-1 us", per_call(lambda: net(x)) * 1e6)
    if want("W7"):
        lstm, fc = nn.LSTM(64, 256, num_layers=2), nn.Linear(256, 10)
        if want("W7a"):
            opt = torch.optim.SGD(list(lstm.parameters()) + list(fc.parameters()), lr=0.1)
            x, y = torch.rand(64, 32, 64) * 2 - 1, labels(32)

            def w7a():
                opt.zero_grad()
                out, _ = lstm(x)
                F.cross_entropy(fc(out[-1]), y).backward()
                opt.step()
            line("W7a LSTM train sequences/s", 32 / per_call(w7a))
        if want("W7b"):
            x1 = torch.rand(1, 1, 64) * 2 - 1
            with torch.no_grad():
                state = [lstm(x1)[1]]

                def w7b():
                    state[0] = lstm(x1, state[0])[1]
                line("W7b LSTM streaming batch-1 us/step", per_call(w7b) * 1e6)
    if want("W8"):
        def encoder():
            return nn.TransformerEncoderLayer(256, 8, dim_feedforward=1024, dropout=0.0, batch_first=True)
        if want("W8a"):
            layer, fc = encoder(), nn.Linear(256, 10)
            opt = torch.optim.SGD(list(layer.parameters()) + list(fc.parameters()), lr=0.01)
            x, y = torch.rand(16, 128, 256) * 2 - 1, labels(16)

            def w8a():
                opt.zero_grad()
                F.cross_entropy(fc(layer(x).mean(1)), y).backward()
                opt.step()
            line("W8a encoder train sequences/s", 16 / per_call(w8a))
        layer = encoder().eval()
        with torch.no_grad():
            if want("W8b"):
                x1 = torch.rand(1, 128, 256) * 2 - 1
                line("W8b encoder inference batch-1 seq-128 us", per_call(lambda: layer(x1)) * 1e6)
            if want("W8c"):
                x1 = torch.rand(1, 4096, 256) * 2 - 1
                reset_peak_rss()
                before = peak_rss_mib()
                line("W8c encoder inference batch-1 seq-4096 ms", per_call(lambda: layer(x1)) * 1e3)
                if before is not None:
                    peak = peak_rss_mib()
                    line("W8c peak resident MiB", peak)
                    line("W8c peak resident growth MiB", peak - before)
    if want("W9"):
        net = resnet20()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        x, y = torch.rand(64, 3, 32, 32) * 2 - 1, labels(64)
        line("W9 train examples/s", 64 / per_call(lambda: train_step(net, opt, x, y)))
        net.eval()
        x1 = torch.rand(1, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            line("W9 inference batch-1 us", per_call(lambda: net(x1)) * 1e6)


if __name__ == "__main__":
    main()
