#!/usr/bin/env bash
# The torch and jax benchmarks on an NVIDIA GPU, in under five minutes; writes bench/results/gpu.md.
#
#   bench/gpu.sh [--dry-run] [--out FILE]
#
# Runs with $PYTHON (default: .venv/bin/python if there is one, else python3),
# which needs numpy, opt_einsum and at least one of torch (a CUDA build) and
# jax (with its CUDA plugin). It installs nothing: a CUDA build of torch is
# several GB, so where one is missing it says what to install and stops.
# einigc's own dependencies (lark, black, jinja2) let it compile
# bench/cases.ein there; without them it measures the checked-in modules in
# bench/results/generated/ (the report says so).
#
# Each framework runs in its own process (JAX would take 75 % of the GPU's
# memory beside torch) under a time limit: torch 170 s, jax 110 s (cases not
# started by then are skipped and listed), then the report is written.
# --dry-run: the same steps on the CPU at tiny sizes, to test this script
# where there is no GPU; its gpu.md says it is a dry run.
set -euo pipefail

cd "$(dirname "$0")/.."
DRY=""
OUT="bench/results/gpu.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY="--dry-run" ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "bench/gpu.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=2

if ! "$PYTHON" -c "import numpy, opt_einsum" 2>/dev/null; then
    echo "bench/gpu.sh: $PYTHON lacks numpy or opt_einsum: pip install numpy opt_einsum" >&2
    exit 3
fi

if [ -z "$DRY" ]; then
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
        echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi finds none); --dry-run tests the script on the CPU" >&2
        exit 3
    fi
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

# One line per framework: "torch gpu H200", "jax nogpu ...", "torch missing ...".
FRAMEWORKS=()
while read -r name state detail; do
    echo "bench/gpu.sh: $name: $state ($detail)"
    if [ "$state" = gpu ] || { [ -n "$DRY" ] && [ "$state" = nogpu ]; }; then
        FRAMEWORKS+=("$name")
    fi
done < <("$PYTHON" bench/gpu.py --probe)

if [ ${#FRAMEWORKS[@]} -eq 0 ]; then
    cat >&2 <<EOF
bench/gpu.sh: neither torch nor jax sees a GPU through $PYTHON, and this script installs nothing.
  torch: pip install torch            (a CUDA build, several GB; check torch.cuda.is_available())
  jax:   pip install "jax[cuda12]"    (jaxlib with its CUDA plugin)
then run it again, with PYTHON=/path/to/that/python if it is another environment.
EOF
    exit 3
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REPORTS=()
for name in "${FRAMEWORKS[@]}"; do
    if [ "$name" = torch ]; then limit=170; else limit=110; fi
    echo "bench/gpu.sh: $name (at most ${limit} s)"
    # The deadline stops starting cases; `timeout` is the backstop (20 s later).
    if timeout $((limit + 20)) "$PYTHON" bench/gpu.py --framework "$name" --json "$WORK/$name.json" \
        --deadline-s "$limit" $DRY; then
        REPORTS+=("$WORK/$name.json")
    else
        echo "bench/gpu.sh: $name failed or ran out of time (exit $?); the report leaves it out" >&2
    fi
done

"$PYTHON" bench/gpu.py --report "${REPORTS[@]}" --out "$OUT" $DRY
