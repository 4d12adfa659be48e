"""Reference cases for `tests/vision.rs`, from PIL, torchvision and PyTorch's TensorBoard helpers.

    python tests/reference/gen_vision.py   # writes tests/reference/vision.json

Needs torch, torchvision and pillow (not the project's dependencies).
"""
import json
import os

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.utils as U
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
photo = os.path.join(root, "data", "images", "astronaut.png")

out = {}

# ToTensor after convert(mode): per-channel sums and a few pixels of the shipped photo
img = Image.open(photo)
for mode in ["RGB", "L", "RGBA"]:
    t = T.ToTensor()(img.convert(mode))
    out[f"to_tensor_{mode}"] = {
        "shape": list(t.shape),
        "channel_sums": t.double().sum(dim=(1, 2)).tolist(),
        "pixels": [[c, y, x, t[c, y, x].item()] for c in range(t.shape[0]) for (y, x) in [(0, 0), (100, 200), (511, 511), (257, 3)]],
    }

# a small JPEG of the photo's corner, and what PIL decodes it to
corner = img.convert("RGB").crop((0, 0, 48, 32))
jpeg = os.path.join(root, "tests", "reference", "corner.jpg")
corner.save(jpeg, quality=90)
t = T.ToTensor()(Image.open(jpeg).convert("RGB"))
out["jpeg"] = {"shape": list(t.shape), "values": t.flatten().tolist()}

# make_grid with each option
g = torch.Generator().manual_seed(0)
x3 = torch.rand(5, 3, 4, 6, generator=g) * 3 - 1
x1 = torch.rand(3, 1, 5, 4, generator=g) * 2
cases = []
for name, x, kw in [
    ("defaults", x3, {}),
    ("nrow2_pad1_value", x3, {"nrow": 2, "padding": 1, "pad_value": 0.5}),
    ("normalize", x3, {"normalize": True}),
    ("normalize_range", x3, {"normalize": True, "value_range": (-0.5, 0.5), "nrow": 3}),
    ("scale_each", x3, {"normalize": True, "scale_each": True, "padding": 0}),
    ("grey", x1, {"nrow": 2}),
    ("one", x3[:1], {}),
]:
    grid = U.make_grid(x, **kw)
    cases.append({
        "name": name,
        "input_shape": list(x.shape),
        "input": x.flatten().tolist(),
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()},
        "shape": list(grid.shape),
        "grid": grid.flatten().tolist(),
    })
out["make_grid"] = cases

# Normalize and save_image's bytes
n = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
x = torch.rand(3, 2, 3, generator=g)
out["normalize"] = {"input": x.flatten().tolist(), "output": n(x).flatten().tolist()}
v = torch.tensor([-0.5, 0.0, 0.001, 0.002, 0.2, 0.5, 0.999, 1.0, 7.0])
out["save_bytes"] = {"input": v.tolist(), "bytes": v.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).tolist()}

with open(os.path.join(here, "vision.json"), "w") as f:
    json.dump(out, f)
print("wrote", os.path.join(here, "vision.json"))

# F.interpolate, nearest and bilinear (align_corners=False), down and up
x = torch.rand(2, 5, 7, generator=torch.Generator().manual_seed(3)) * 4 - 2
out["interpolate"] = {"input": x.flatten().tolist(), "cases": [
    {"mode": mode, "size": list(size),
     "output": torch.nn.functional.interpolate(x[None], size=size, mode=mode, **({} if mode == "nearest" else {"align_corners": False}))[0].flatten().tolist()}
    for mode in ["nearest", "bilinear"] for size in [(3, 4), (9, 11)]
]}
with open(os.path.join(here, "vision.json"), "w") as f:
    json.dump(out, f)
