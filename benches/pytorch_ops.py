"""PyTorch's figures for the CTC benchmarks of `benches/ops.rs` (same sizes, same labels),
for a side-by-side comparison on one machine:

    cargo bench --bench ops -- ctc
    python benches/pytorch_ops.py --threads 2

Run with a Python that has torch (CPU build is enough; not a dependency of the project).
"""
import argparse

import torch
import torch.nn.functional as F

from pytorch_workloads import per_call

CTC_SIZES = [(50, 16, 20, 10), (200, 32, 29, 40)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    for t, n, c, s in CTC_SIZES:
        lp = (torch.rand(t, n, c) * 4 - 2).log_softmax(2).detach().requires_grad_()
        labels = torch.tensor([1 + (i * 7 % (c - 1)) for i in range(n * s)]).reshape(n, s)
        il, tl = torch.full((n,), t), torch.full((n,), s)

        def forward():
            with torch.no_grad():
                F.ctc_loss(lp, labels, il, tl)

        def both():
            F.ctc_loss(lp, labels, il, tl).backward()
            lp.grad = None

        name = f"ctc/T{t} N{n} C{c} S{s}"
        print(f"{name} forward: {per_call(forward) * 1e6:.1f} us")
        print(f"{name} forward+backward: {per_call(both) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
