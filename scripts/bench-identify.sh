#!/usr/bin/env bash
# 1:N identification: siamedge's GalleryIndex against numpy brute force and faiss IndexFlatL2 on the
# same vectors, same threads, same run (edge/examples/bench_identify.rs, scripts/research/identify_peers.py).
# Usage: scripts/bench-identify.sh [bench_identify flags, e.g. --sizes 1000,10000 --probes 50]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
out=${BENCH_OUT:-target/bench-identify}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# Pinned peers (PyPI): numpy 2.3.5, faiss-cpu 1.15.1, threadpoolctl 3.6.0.
"$venv/bin/pip" install -q numpy==2.3.5 faiss-cpu==1.15.1 threadpoolctl==3.6.0
cargo run -q -p siamedge-edge --example bench_identify -- --out "$out" "$@"
# numpy as people run it: this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for the peers only.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" scripts/research/identify_peers.py "$out"
