#!/usr/bin/env bash
# The TensorBoard proof: the CIFAR (seed 002) and LeNet examples log a short run each, then
# TensorBoard's own EventAccumulator reads the files (tests/tensorboard/check_events.py).
# TensorBoard is installed with pip into target/tensorboard-venv the first time (a Python 3
# with venv is needed: Debian's python3-venv, installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/tensorboard-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import tensorboard, PIL" 2> /dev/null; then
    if ! python3 -m venv --help > /dev/null 2>&1 || ! python3 -c "import ensurepip" 2> /dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv > /dev/null
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet tensorboard pillow
fi
logs=$(mktemp -d)
epochs=2
cargo build --quiet --release --example cifar_net --example lenet
target/release/examples/cifar_net --epochs $epochs --logdir "$logs/cifar" > /dev/null
target/release/examples/lenet --epochs $epochs --logdir "$logs/lenet" > /dev/null
"$venv/bin/python" tests/tensorboard/check_events.py "$logs/cifar" "$logs/lenet" $epochs
rm -r "$logs"
