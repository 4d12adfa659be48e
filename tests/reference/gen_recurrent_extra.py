"""Writes `lstm_net.safetensors`: the state dict of a small PyTorch module holding an LSTM
(2 layers, bidirectional, batch first) and a Linear, plus a fixed input `x` and the module's
output `y` (stored under `input.x` and `output.y`, which the Rust test removes before loading
the weights), to check that a PyTorch state dict loads into a `#[derive(Module)]` struct with
the same field names and reproduces its outputs.

    python tests/reference/gen_recurrent_extra.py tests/reference
"""
import sys

import torch
from safetensors.torch import save_file


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = torch.nn.Linear(10, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


def main(out):
    torch.manual_seed(7)
    net = Net()
    x = torch.randn(3, 6, 4)
    with torch.no_grad():
        y = net(x)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    tensors["input.x"] = x
    tensors["output.y"] = y
    save_file(tensors, f"{out}/lstm_net.safetensors")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
