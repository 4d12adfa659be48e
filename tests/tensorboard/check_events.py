"""Reads the event files the examples wrote through TensorBoard's own EventAccumulator and checks
what a person would see in TensorBoard: the scalars, the images (decoded, their sizes), the
histograms, the text and the graph's nodes with their shapes.

    python tests/tensorboard/check_events.py CIFAR_LOGDIR LENET_LOGDIR EPOCHS

`.ci/run` runs it (see `tests/tensorboard/run.sh`) after `cifar_net --epochs EPOCHS` and
`lenet --epochs EPOCHS` logged into the two folders. Prints one line per check and
`N passed, N failed` at the end; exits non-zero if any failed.
"""
import io
import math
import sys

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

passed, failed = 0, 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what} {detail}")


def load(path):
    ea = EventAccumulator(path, size_guidance={"images": 0, "scalars": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    return ea


def shapes(node):
    return [[d.size for d in s.dim] for s in node.attr["_output_shapes"].list.shape]


cifar_dir, lenet_dir, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])

# --- seed 002's CIFAR example: images, graph, histograms, text, curves
ea = load(cifar_dir)
tags = ea.Tags()
check("cifar: image tags", set(tags["images"]) == {"input", "output"}, tags["images"])
inputs = ea.Images("input")
check("cifar: 8 steps of input images", [e.step for e in inputs] == list(range(8)), [e.step for e in inputs])
img = Image.open(io.BytesIO(inputs[0].encoded_image_string))
# 64 images of 32x32, 8 to a row: 256 x 256, RGB
check("cifar: input mosaic decodes to 256x256 RGB", (img.size, img.mode) == ((256, 256), "RGB"), (img.size, img.mode))
check("cifar: input size fields", (inputs[0].width, inputs[0].height) == (256, 256))
colours = img.getcolors(maxcolors=1 << 20)
check("cifar: input mosaic is not blank", len(colours) > 100, len(colours))
out = Image.open(io.BytesIO(ea.Images("output")[0].encoded_image_string))
# 128 three-channel 30x30 pictures (64 x 6 channels), 8 to a row: 240 wide, 16 rows = 480 high
check("cifar: conv output mosaic is 240x480", out.size == (240, 480), out.size)

graph = ea.Graph()
nodes = {n.name: n for n in graph.node}
check("cifar: graph has input, 9 layers, output", len(nodes) == 11, sorted(nodes))
conv = nodes.get("Mynn2/model1/Conv2d[0]")
check("cifar: first conv node", conv is not None and conv.op == "Conv2d" and list(conv.input) == ["input"])
check("cifar: input edge shape", shapes(nodes["input"]) == [[-1, 3, 32, 32]], shapes(nodes["input"]))
check("cifar: conv edge shape", conv is not None and shapes(conv) == [[-1, 32, 32, 32]])
flat = nodes.get("Mynn2/model1/Flatten[6]")
check("cifar: flatten edge shape", flat is not None and shapes(flat) == [[-1, 1024]])
check("cifar: output edge shape", shapes(nodes["output"]) == [[-1, 10]], shapes(nodes["output"]))
chain = [n for n in graph.node if n.name != "input"]
check("cifar: every layer fed by the one before", all(len(n.input) == 1 for n in chain))

hist_tags = set(tags["histograms"])
check("cifar: a histogram per parameter", "model1.0.weight" in hist_tags and len(hist_tags) == 10, sorted(hist_tags))
h = ea.Histograms("model1.0.weight")
check("cifar: histograms at start and end", [e.step for e in h] == [0, epochs], [e.step for e in h])
hv = h[0].histogram_value
check("cifar: histogram counts every weight", hv.num == 32 * 3 * 5 * 5 and sum(hv.bucket) == hv.num, (hv.num, sum(hv.bucket)))
check("cifar: histogram range", hv.min < 0 < hv.max and hv.bucket_limit[-1] >= hv.max)

text = ea.Tensors("config/text_summary")
check("cifar: text", len(text) == 1 and b"SGD" in text[0].tensor_proto.string_val[0])

for tag in ["loss/train", "accuracy/train", "accuracy/test"]:
    s = ea.Scalars(tag)
    check(f"cifar: {tag} per epoch", [e.step for e in s] == list(range(1, epochs + 1)), [e.step for e in s])
steps = ea.Scalars("loss/train_step")
check("cifar: a loss per step", len(steps) == epochs * math.ceil(2000 / 64) and all(math.isfinite(e.value) for e in steps), len(steps))

# --- the LeNet example's curves and graph
ea = load(lenet_dir)
test = ea.Scalars("accuracy/test")
check("lenet: test accuracy per epoch", [e.step for e in test] == list(range(1, epochs + 1)))
check("lenet: it learns (test accuracy > 0.5)", test[-1].value > 0.5, test[-1].value)
loss = ea.Scalars("loss/train")
check("lenet: loss falls", loss[-1].value < loss[0].value, [e.value for e in loss])
nodes = {n.name: n for n in ea.Graph().node}
check("lenet: graph shapes", shapes(nodes["LeNet/AvgPool2d[5]"]) == [[-1, 16, 5, 5]], sorted(nodes))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
