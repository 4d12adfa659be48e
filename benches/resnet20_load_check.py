# Checks by hand that `cargo run --release --example resnet -- --save FILE` writes weights a
# torchvision-style CIFAR ResNet-20 loads strictly: `python benches/resnet20_load_check.py FILE`
# (needs torch and safetensors; kept out of the project's dependencies).
import sys, torch, torch.nn as nn
from safetensors.torch import load_file
class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x))); out = self.bn2(self.conv2(out))
        if self.downsample is not None: identity = self.downsample(x)
        return self.relu(out + identity)
def stage(i, o, stride):
    ds = None if stride == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))
    return nn.Sequential(BasicBlock(i, o, stride, ds), BasicBlock(o, o), BasicBlock(o, o))
class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False); self.bn1 = nn.BatchNorm2d(16); self.relu = nn.ReLU(inplace=True)
        self.layer1 = stage(16, 16, 1); self.layer2 = stage(16, 32, 2); self.layer3 = stage(32, 64, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1); self.fc = nn.Linear(64, 10)
    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))
m = ResNet20()
sd = load_file(sys.argv[1])
print(m.load_state_dict(sd, strict=True), len(sd), "tensors; params", sum(p.numel() for p in m.parameters()))
