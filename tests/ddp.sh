#!/usr/bin/env bash
# Data-parallel training over MPI: installs Open MPI and libclang when missing
# (scripts/install-mpi.sh), builds the `ddp` test and the `lenet_ddp` example with the `mpi`
# feature, and runs both under `mpirun -np 2` (as root in a container: --allow-run-as-root
# --oversubscribe).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-mpi.sh
mpirun=(mpirun -np 2)
if [ "$(id -u)" = 0 ]; then
    mpirun+=(--allow-run-as-root --oversubscribe)
fi
# the test binary's path, from cargo's own account of what it built
bin=$(cargo test --release --features mpi --test ddp --no-run --message-format=json 2> /dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "ddp" and m.get("executable"):
        print(m["executable"])')
"${mpirun[@]}" "$bin"
# the module's doc examples, each a world of one (MPI's singleton start, no mpirun)
cargo test --quiet --release --features mpi --doc -- distributed SyncBatchNorm
cargo build --quiet --release --features mpi --example lenet_ddp
RAYON_NUM_THREADS=1 "${mpirun[@]}" target/release/examples/lenet_ddp --epochs 2
