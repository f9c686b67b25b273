#!/usr/bin/env bash
# Load test of the HTTP service: `siamedge serve` as its own process on 127.0.0.1 (port 0), driven
# by C client threads of edge/examples/load_service.rs, every loop bounded in count and time:
# N concurrent enrolls (then GET /v1/subjects and `siamedge gallery list --json` must both say N),
# verify and identify requests/s with p50/p99 latency, the same model's bare decode+embed rate on
# one thread beside them, peak RSS (VmHWM) of a server on an empty store and on 100,000
# templates, and SIGKILL mid-enroll (every 201-acknowledged subject must be in the store).
#   scripts/bench-service.sh [--json] [--clients 4] [--enrolls 200] [--requests 2000]
#                            [--seconds 20] [--workers 2] [--big 100000] [--kill-enrolls 800] ...
# A benchmark: numbers depend on the machine and its load; nothing fails on them (it exits
# non-zero only when a count is wrong or an acknowledged enroll is lost). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p siamedge-edge --bin siamedge
cargo run --quiet -p siamedge-edge --example load_service -- --bin target/debug/siamedge "$@"
