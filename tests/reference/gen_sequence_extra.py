"""PyTorch reference cases for the sequence ops `gen_seq.py` does not cover: argmax/argmin,
max/min along a dim with indices, topk, sort (stable, ties and NaN), expand, repeat,
unsqueeze/squeeze, the causal mask.

Run with a Python that has torch, from this folder:
    python gen_sequence_extra.py        # writes sequence_extra.json here
Same format as the other files (FORMAT.md): every float in float64, NaN written as null; `indices` holds an op's
int64 index output; `grad_output`/`grads` as usual (ops without a gradient have none).
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)


def t(x):
    # NaN as null (JSON has no NaN)
    data = [None if isinstance(v, float) and v != v else v for v in x.flatten().tolist()]
    d = {"shape": list(x.shape), "data": data}
    if x.dtype == torch.int64:
        d["dtype"] = "int64"
    if x.dtype == torch.bool:
        d["dtype"] = "bool"
        d["data"] = [int(v) for v in d["data"]]
    return d


def case(name, kind, config, x, f, with_grad=True):
    torch.manual_seed(sum(map(ord, name)))
    x = x.clone().requires_grad_(with_grad)
    out = f(x)
    c = {"name": name, "kind": kind, "config": config, "inputs": {"x": t(x.detach())}}
    values, indices = (out if isinstance(out, tuple) else (out, None))
    if values.dtype == torch.int64:
        c["indices"] = t(values)
        return c
    c["output"] = t(values.detach())
    if indices is not None:
        c["indices"] = t(indices)
    if with_grad:
        go = torch.randn_like(values)
        values.backward(go)
        c["grad_output"] = t(go)
        c["grads"] = {"x": t(x.grad)}
    return c


def main():
    torch.manual_seed(7)
    x = torch.randn(3, 5)
    ties = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0], [0.5, float("nan"), 0.5, 1.0]])
    x3 = torch.randn(2, 4, 3)
    cs = [
        case("argmax_dim1", "torch.argmax", {"dim": 1}, x, lambda v: v.argmax(1), False),
        case("argmin_dim0", "torch.argmin", {"dim": 0}, x, lambda v: v.argmin(0), False),
        case("argmax_ties_nan", "torch.argmax", {"dim": 1}, ties, lambda v: v.argmax(1), False),
        case("max_dim1", "torch.max", {"dim": 1}, x3, lambda v: v.max(1)),
        case("min_dim2", "torch.min", {"dim": 2}, x3, lambda v: v.min(2)),
        case("topk_largest", "torch.topk", {"k": 2, "dim": 1, "largest": True}, x, lambda v: v.topk(2, 1, True, True)),
        case("topk_smallest_dim0", "torch.topk", {"k": 2, "dim": 0, "largest": False}, x, lambda v: v.topk(2, 0, False, True)),
        case("sort_ascending", "torch.sort", {"dim": 1, "descending": False, "stable": True}, ties.nan_to_num(4.0), lambda v: v.sort(dim=1, descending=False, stable=True)),
        case("sort_descending_dim0", "torch.sort", {"dim": 0, "descending": True, "stable": True}, x3, lambda v: v.sort(dim=0, descending=True, stable=True)),
        case("sort_nan_last", "torch.sort", {"dim": 1, "descending": False, "stable": True}, ties, lambda v: v.sort(dim=1, descending=False, stable=True), False),
        case("expand_middle", "Tensor.expand", {"size": [2, 3, 4]}, torch.randn(2, 1, 4), lambda v: v.expand(2, 3, 4)),
        case("expand_new_leading", "Tensor.expand", {"size": [3, 2, 4]}, torch.randn(2, 4), lambda v: v.expand(3, 2, 4)),
        case("repeat_dim1", "Tensor.repeat", {"repeats": [1, 3]}, torch.randn(2, 2), lambda v: v.repeat(1, 3)),
        case("unsqueeze_squeeze", "Tensor.unsqueeze", {"dim": 1}, torch.randn(2, 3), lambda v: v.unsqueeze(1).mul(2.0).squeeze(1)),
    ]
    # the -inf entries as a boolean mask (JSON has no infinity)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4)
    cs.append({"name": "causal_mask_4", "kind": "nn.Transformer.generate_square_subsequent_mask",
               "config": {"sz": 4}, "inputs": {}, "output": t(mask.isneginf())})
    out = {"family": "sequence_extra", "torch": torch.__version__.split("+")[0], "cases": cs}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "sequence_extra.json"), "w") as f:
        json.dump(out, f)


main()
