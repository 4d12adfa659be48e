#!/usr/bin/env bash
# What the `mpi` feature needs to build and run: Open MPI's runtime and headers, and libclang for
# rsmpi's generated bindings, from the distribution's packages (Debian/Ubuntu), when missing.
set -euo pipefail
if command -v mpirun > /dev/null && command -v mpicc > /dev/null && ldconfig -p | grep -q libclang; then
    exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq libopenmpi-dev openmpi-bin libclang-dev > /dev/null
