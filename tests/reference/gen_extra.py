"""Extra PyTorch reference cases for parameter combinations `gen.py` does not cover.

Run with a Python that has torch, from this folder:
    python gen_extra.py            # writes layers_extra, loss_extra, schedule_extra, optim_extra, norm_extra .json here
Same format as the other files (FORMAT.md); every value computed in float64.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402  (sets the seed, provides module_case)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.manual_seed(1234)
rnd = gen.rnd
mc = gen.module_case


def cases():
    cs = []
    # convolutions
    cs.append(mc("conv1d_groups_dilation_reflect", nn.Conv1d(4, 6, 3, stride=1, padding=2, dilation=2, groups=2, padding_mode="reflect"), rnd(2, 4, 9), "Conv1d", {}))
    cs.append(mc("conv1d_same_even_kernel", nn.Conv1d(2, 3, 4, padding="same", dilation=2), rnd(2, 2, 10), "Conv1d", {}))
    cs.append(mc("conv1d_circular_stride", nn.Conv1d(2, 2, 3, stride=2, padding=2, padding_mode="circular"), rnd(1, 2, 7), "Conv1d", {}))
    cs.append(mc("conv2d_same_rect", nn.Conv2d(2, 2, (2, 3), padding="same", dilation=(2, 1)), rnd(2, 2, 5, 6), "Conv2d", {}))
    cs.append(mc("conv2d_valid_nobias", nn.Conv2d(3, 4, 3, padding="valid", bias=False), rnd(1, 3, 6, 5), "Conv2d", {}))
    cs.append(mc("conv2d_replicate_groups", nn.Conv2d(4, 4, 3, padding=(1, 2), groups=2, padding_mode="replicate"), rnd(2, 4, 5, 4), "Conv2d", {}))
    cs.append(mc("conv3d_groups_rect", nn.Conv3d(4, 2, (2, 3, 2), stride=(1, 2, 2), padding=(1, 0, 1), dilation=(1, 1, 2), groups=2), rnd(1, 4, 3, 7, 6), "Conv3d", {}))
    cs.append(mc("conv3d_circular", nn.Conv3d(1, 2, 3, padding=1, padding_mode="circular"), rnd(1, 1, 3, 4, 4), "Conv3d", {}))
    cs.append(mc("conv_transpose1d_full", nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2), rnd(2, 4, 5), "ConvTranspose1d", {}))
    cs.append(mc("conv_transpose2d_rect", nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2)), rnd(1, 2, 4, 3), "ConvTranspose2d", {}))
    cs.append(mc("linear_rank3_nobias", nn.Linear(4, 3, bias=False), rnd(2, 5, 4), "Linear", {}))
    # pooling
    cs.append(mc("maxpool1d_ceil_dilation", nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True), rnd(2, 3, 10), "MaxPool1d", {}))
    cs.append(mc("maxpool3d_pad", nn.MaxPool3d((2, 2, 3), stride=(1, 2, 2), padding=(1, 1, 1), return_indices=True), rnd(1, 2, 3, 5, 6), "MaxPool3d", {}))
    cs.append(mc("avgpool1d_ceil_nopad", nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), rnd(2, 2, 8), "AvgPool1d", {}))
    cs.append(mc("avgpool3d_divisor", nn.AvgPool3d(2, stride=(1, 2, 2), padding=1, divisor_override=3), rnd(1, 2, 3, 4, 5), "AvgPool3d", {}))
    cs.append(mc("avgpool2d_ceil_include_pad", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), rnd(1, 2, 6, 5), "AvgPool2d", {}))
    cs.append(mc("adaptive_avg_pool1d_7_3", nn.AdaptiveAvgPool1d(3), rnd(2, 2, 7), "AdaptiveAvgPool1d", {}))
    cs.append(mc("adaptive_max_pool1d_7_3", nn.AdaptiveMaxPool1d(3, return_indices=True), rnd(2, 2, 7), "AdaptiveMaxPool1d", {}))
    cs.append(mc("adaptive_avg_pool2d_up", nn.AdaptiveAvgPool2d((5, 4)), rnd(1, 2, 3, 3), "AdaptiveAvgPool2d", {}))
    cs.append(mc("adaptive_max_pool2d_up", nn.AdaptiveMaxPool2d((4, 5), return_indices=True), rnd(1, 2, 3, 3), "AdaptiveMaxPool2d", {}))
    # padding
    cs.append(mc("zero_pad1d", nn.ZeroPad1d((2, 1)), rnd(2, 2, 4), "ZeroPad1d", {}))
    cs.append(mc("constant_pad1d", nn.ConstantPad1d((1, 3), -2.5), rnd(2, 2, 4), "ConstantPad1d", {}))
    cs.append(mc("reflection_pad1d", nn.ReflectionPad1d((3, 2)), rnd(2, 2, 4), "ReflectionPad1d", {}))
    cs.append(mc("replication_pad1d", nn.ReplicationPad1d((0, 3)), rnd(2, 2, 4), "ReplicationPad1d", {}))
    cs.append(mc("circular_pad1d", nn.CircularPad1d((4, 1)), rnd(2, 2, 4), "CircularPad1d", {}))
    cs.append(mc("circular_pad2d", nn.CircularPad2d((1, 2, 3, 0)), rnd(1, 2, 3, 4), "CircularPad2d", {}))
    # pixel (un)shuffle, from their own seed so the cases above and the files after keep theirs
    with torch.random.fork_rng():
        torch.manual_seed(4321)
        cs.append(mc("pixel_shuffle_r2", nn.PixelShuffle(2), rnd(2, 8, 3, 4), "PixelShuffle", {"upscale_factor": 2}))
        cs.append(mc("pixel_shuffle_r3_unbatched", nn.PixelShuffle(3), rnd(9, 2, 1), "PixelShuffle", {"upscale_factor": 3}))
        cs.append(mc("pixel_unshuffle_r2", nn.PixelUnshuffle(2), rnd(2, 3, 4, 6), "PixelUnshuffle", {"downscale_factor": 2}))
    return cs


def loss_cases():
    import torch.nn.functional as F
    fc = gen.fn_case
    cs = []
    x, lp, prob = rnd(4, 5), torch.log_softmax(rnd(4, 5), 1), torch.softmax(rnd(4, 5), 1)
    tgt = torch.tensor([1, 4, 0, 4])
    cs.append(fc("nll_weight_ignore", lambda x, target: F.nll_loss(x, target, weight=torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64), ignore_index=0), {"x": lp, "target": tgt}, "NLLLoss", {"weight": [1.0, 2.0, 0.5, 1.0, 3.0], "ignore_index": 0}))
    cs.append(fc("nll_none", lambda x, target: F.nll_loss(x, target, reduction="none"), {"x": lp, "target": tgt}, "NLLLoss", {"reduction": "none"}))
    cs.append(fc("ce_weight_ignore_smooth", lambda x, target: F.cross_entropy(x, target, weight=torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64), ignore_index=4, label_smoothing=0.2), {"x": x, "target": tgt}, "CrossEntropyLoss", {"weight": [1.0, 2.0, 0.5, 1.0, 3.0], "ignore_index": 4, "label_smoothing": 0.2}))
    cs.append(fc("ce_probs_weight_smooth", lambda x, target: F.cross_entropy(x, target, weight=torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=torch.float64), label_smoothing=0.1), {"x": x, "target": prob}, "CrossEntropyLoss", {"weight": [1.0, 2.0, 0.5, 1.0, 3.0], "label_smoothing": 0.1}, grad_inputs=("x",)))
    cs.append(fc("ce_probs_sum", lambda x, target: F.cross_entropy(x, target, reduction="sum"), {"x": x, "target": prob}, "CrossEntropyLoss", {"reduction": "sum"}))
    cs.append(fc("ce_spatial_none_smooth", lambda x, target: F.cross_entropy(x, target, reduction="none", label_smoothing=0.3), {"x": rnd(2, 3, 2, 2), "target": torch.tensor([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])}, "CrossEntropyLoss", {"reduction": "none", "label_smoothing": 0.3}))
    p = torch.sigmoid(rnd(3, 4)); p[0, 0] = 0.0; p[1, 1] = 1.0
    t01 = torch.rand(3, 4, dtype=torch.float64)
    cs.append(fc("bce_mean", lambda x, target: F.binary_cross_entropy(x, target), {"x": torch.sigmoid(rnd(3, 4)), "target": t01}, "BCELoss", {}))
    cs.append(fc("bce_sum_clamped", lambda x, target: F.binary_cross_entropy(x, target, reduction="sum"), {"x": p, "target": torch.round(t01)}, "BCELoss", {"reduction": "sum"}))
    cs.append(fc("bce_logits_pos_weight", lambda x, target: F.binary_cross_entropy_with_logits(x, target, pos_weight=torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)), {"x": rnd(3, 4) * 5, "target": t01}, "BCEWithLogitsLoss", {"pos_weight": [1.0, 2.0, 0.5, 3.0]}))
    cs.append(fc("bce_logits_none_extreme", lambda x, target: F.binary_cross_entropy_with_logits(x, target, reduction="none"), {"x": torch.tensor([[-1000.0, -3.0, 0.0, 1000.0]], dtype=torch.float64), "target": torch.tensor([[0.0, 1.0, 0.5, 1.0]], dtype=torch.float64)}, "BCEWithLogitsLoss", {"reduction": "none"}))
    cs.append(fc("smooth_l1_beta", lambda x, target: F.smooth_l1_loss(x, target, beta=0.5), {"x": rnd(3, 4), "target": rnd(3, 4)}, "SmoothL1Loss", {"beta": 0.5}))
    cs.append(fc("huber_delta_sum", lambda x, target: F.huber_loss(x, target, delta=0.7, reduction="sum"), {"x": rnd(3, 4), "target": rnd(3, 4)}, "HuberLoss", {"delta": 0.7, "reduction": "sum"}))
    tp = prob.clone(); tp[0, 1] = 0.0
    cs.append(fc("kl_div_batchmean", lambda x, target: F.kl_div(x, target, reduction="batchmean"), {"x": lp, "target": tp}, "KLDivLoss", {"reduction": "batchmean"}))
    cs.append(fc("kl_div_log_target_mean", lambda x, target: F.kl_div(x, target, reduction="mean", log_target=True), {"x": lp, "target": torch.log_softmax(rnd(4, 5), 1)}, "KLDivLoss", {"reduction": "mean", "log_target": True}))
    return cs


def schedule_cases():
    """Learning rates (and momenta) of each schedule over its first steps."""
    import torch.optim as optim
    cs = []

    def run(name, make, opt_kind="sgd", steps=12, config=None):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = optim.SGD([p], lr=0.5, momentum=0.9) if opt_kind == "sgd" else optim.Adam([p], lr=0.5)
        sched = make(opt)
        lrs, moms = [], []
        for _ in range(steps):
            g = opt.param_groups[0]
            lrs.append(g["lr"])
            moms.append(g["momentum"] if "momentum" in g else g["betas"][0])
            opt.step()
            sched.step()
        cs.append({"name": name, "kind": type(sched).__name__, "config": config or {}, "optimizer": opt_kind, "base_lr": 0.5, "lrs": lrs, "momenta": moms})

    run("step_lr", lambda o: optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5))
    run("multistep_lr", lambda o: optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.3))
    run("exponential_lr", lambda o: optim.lr_scheduler.ExponentialLR(o, gamma=0.8))
    run("cosine_lr", lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01), steps=16)
    run("linear_lr", lambda o: optim.lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6))
    run("linear_lr_default", lambda o: optim.lr_scheduler.LinearLR(o))
    run("one_cycle", lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=2.0, total_steps=12))
    run("one_cycle_linear_three_phase", lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=2.0, total_steps=12, anneal_strategy="linear", three_phase=True, pct_start=0.25))
    run("one_cycle_adam", lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10), opt_kind="adam", steps=10)
    return cs


def optim_cases():
    """Optimizer settings gen.py does not cover: amsgrad, maximize, RMSprop variants."""
    import torch.optim as optim
    cs = []

    def run(name, kind, make, config):
        p0 = rnd(5)
        p = torch.nn.Parameter(p0.clone())
        opt = make([p])
        grads, after = [], []
        for _ in range(3):
            g = rnd(5)
            p.grad = g.clone()
            opt.step()
            grads.append(gen.t(g))
            after.append(gen.t(p))
        cs.append({"name": name, "kind": kind, "config": config, "param": gen.t(p0), "grads": grads, "after_each_step": after})

    run("adam_amsgrad_maximize", "Adam", lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=1e-6, amsgrad=True, maximize=True), {"lr": 0.05, "betas": [0.8, 0.95], "eps": 1e-6, "amsgrad": True, "maximize": True})
    run("adamw_amsgrad", "AdamW", lambda ps: optim.AdamW(ps, lr=0.02, amsgrad=True), {"lr": 0.02, "amsgrad": True})
    run("rmsprop", "RMSprop", lambda ps: optim.RMSprop(ps, lr=0.01), {"lr": 0.01})
    run("rmsprop_centered_momentum_wd", "RMSprop", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1), {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1})
    run("sgd_maximize_wd", "SGD", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.2, maximize=True), {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.2, "maximize": True})
    return cs


def norm_cases():
    """Running-statistics paths gen.py does not cover."""
    cs = []
    bn = nn.BatchNorm1d(3, momentum=None)
    bn.num_batches_tracked.fill_(3)
    bn.running_mean.copy_(torch.tensor([0.5, -0.5, 1.0]))
    bn.running_var.copy_(torch.tensor([2.0, 0.5, 1.0]))
    cs.append(mc("batchnorm1d_cumulative", bn, rnd(5, 3, 4), "BatchNorm1d", {"num_features": 3, "eps": 1e-5, "momentum": None, "affine": True}))
    cs.append(mc("instancenorm1d_track_train", nn.InstanceNorm1d(2, momentum=0.2, track_running_stats=True), rnd(3, 2, 5), "InstanceNorm1d", {"num_features": 2, "eps": 1e-5, "momentum": 0.2, "affine": False, "track_running_stats": True}))
    inn = nn.InstanceNorm2d(2, affine=True, track_running_stats=True)
    inn.running_mean.copy_(torch.tensor([0.3, -0.1]))
    inn.running_var.copy_(torch.tensor([1.5, 0.7]))
    cs.append(mc("instancenorm2d_track_eval", inn, rnd(2, 2, 3, 3), "InstanceNorm2d", {"num_features": 2, "eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}, train=False))
    bn3 = nn.BatchNorm3d(2, momentum=0.3)
    with torch.no_grad():
        bn3.weight.copy_(torch.tensor([1.5, -0.5]))
        bn3.bias.copy_(torch.tensor([0.25, 0.1]))
    cs.append(mc("batchnorm3d_train", bn3, rnd(3, 2, 2, 3, 2), "BatchNorm3d", {"num_features": 2, "eps": 1e-5, "momentum": 0.3, "affine": True}))
    return cs


def write(name, cs):
    out = {"family": name, "torch": torch.__version__, "cases": cs}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {len(cs)} cases to {path}")


if __name__ == "__main__":
    write("layers_extra", cases())
    write("loss_extra", loss_cases())
    write("schedule_extra", schedule_cases())
    write("optim_extra", optim_cases())
    write("norm_extra", norm_cases())
