#!/usr/bin/env bash
# The GPU check of unetexp (benchmarks/README.md, "The GPU check"): table 1 one job at a time,
# then the 36-run study (+sweep=all seed=0,1,2) with N jobs sharing the GPU, on Keras's JAX
# backend, timed, with the MLflow stores and the timings left in $OUT.
#
#   bash benchmarks/gpu.sh [WHEELS_DIR]
#
# WHEELS_DIR: wheels of what the machine lacks (benchmarks/gpu-wheels.txt), installed with
# `pip install --no-index --no-deps --target` (no network needed); none: use what is installed.
# Settings, by environment: BACKEND (jax), EPOCHS (10), DEPTHS (1,2,3,4,5: table 1), SWEEP
# (all: the study's twelve configs), SEEDS (0,1,2), N_JOBS (4: jobs sharing the GPU), EXTRA
# (more overrides for every command), OUT (./gpu-out). Tiny, on CPU: EPOCHS=1 DEPTHS=1,2
# SWEEP=convs SEEDS=0 N_JOBS=2 EXTRA="data=synthetic data.count=24 data.size=16" bash
# benchmarks/gpu.sh
set -euo pipefail

cd "$(dirname "$0")/.."
WHEELS=${1:-}
BACKEND=${BACKEND:-jax}
EPOCHS=${EPOCHS:-10}
DEPTHS=${DEPTHS:-1,2,3,4,5}
SWEEP=${SWEEP:-all}
SEEDS=${SEEDS:-0,1,2}
N_JOBS=${N_JOBS:-4}
EXTRA=${EXTRA:-}
OUT=${OUT:-$PWD/gpu-out}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/unetexp-gpu-XXXXXX")
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if [ -n "$WHEELS" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$WORK/site" "$WHEELS"/*.whl
    export PYTHONPATH="$PYTHONPATH:$WORK/site"
fi
KERAS_BACKEND=$BACKEND python3 - "$BACKEND" <<'EOF' || { echo "gpu.sh: a package is missing (benchmarks/gpu-wheels.txt)" >&2; exit 2; }
import importlib, sys
for name in ("keras", "hydra", "omegaconf", "mlflow", "sklearn", "scipy", "pandas", "PIL",
             "matplotlib", "hydra_plugins.hydra_joblib_launcher", sys.argv[1]):
    importlib.import_module(name)
EOF
{ nvidia-smi || echo "no nvidia-smi"; python3 --version; python3 -m pip list 2>/dev/null \
    | grep -i -E '^(jax|jaxlib|keras|torch|mlflow|hydra-core|numpy) '; } > "$OUT/machine.txt" 2>&1

echo "step,seconds" > "$OUT/timings.csv"
# one timed multirun into its own store: no step reuses another's runs
step() {
    local name=$1
    shift
    local start end
    start=$(date +%s.%N)
    # shellcheck disable=SC2086  # EXTRA is a list of overrides
    python3 -m unetexp -m train.backend="$BACKEND" train.epochs="$EPOCHS" $EXTRA \
        tracking.uri="sqlite:///$WORK/$name/mlflow.db" "$@" 2>&1 | tee "$OUT/$name.log" | tail -3
    end=$(date +%s.%N)
    echo "$name,$(python3 -c "print(round($end - $start, 1))")" | tee -a "$OUT/timings.csv"
    python3 -m unetexp export --tracking-uri "sqlite:///$WORK/$name/mlflow.db" -o "$OUT/$name.csv"
}

step table1 model.depth="$DEPTHS"
step study +sweep="$SWEEP" seed="$SEEDS" hydra/launcher=joblib hydra.launcher.n_jobs="$N_JOBS"

tar -czf "$OUT/stores.tar.gz" -C "$WORK" table1 study  # both MLflow stores, artifacts included
rm -rf "$WORK"
ls -l "$OUT"
