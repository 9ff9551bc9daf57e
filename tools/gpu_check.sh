#!/usr/bin/env bash
# The GPU run, prepared (issue 13): every GPU figure of the project in one call, written to one JSON.
#
#   tools/gpu_check.sh [--tiny] [OUT]          (OUT defaults to gpu_check/)
#
# On a machine with one NVIDIA GPU (the project, rsl-rl, MuJoCo Warp and pytest importable; on this
# workplace's device machine carry the packages and kernels first, tools/device_carry_warp.sh):
#   0. the first use of each task's kernels (a fresh machine compiles them: the cold-start cost, timed);
#   1. the Warp backend's agreement test with CPU MuJoCo on cuda:0;
#   2. tools/benchmark.py at 1,024, 4,096 and 8,192 environments for both tasks: task, raw physics, PPO;
#   3. tools/benchmark_push.py: Push throughput at 8,192 states, and its share of a Warp step at 4,096 envs;
#   4. a timed RFS training run (rfs_hand_arm on the shipped prior, 4,096 environments, 40 iterations).
# Each part runs under its own time limit (about 9 minutes in all), so that one slow part cannot starve the
# others (a fresh machine compiles kernels for minutes: carry them compiled, tools/warp_kernel_cache.py); a
# part that fails or runs out of time is recorded as such and the run goes on. OUT/gpu_check.json holds every
# figure, and each part's output is in OUT/<part>.log.
# --tiny runs the same parts on Warp's CPU device with tiny sizes (CI runs it: .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."

TINY=0
if [[ "${1:-}" == "--tiny" ]]; then
    TINY=1
    shift
fi
OUT=${1:-gpu_check}
if [[ -e "$OUT" && ! -d "$OUT" ]]; then
    echo "error: $OUT exists and is not a folder" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 2
PY=${PYTHON:-python3}
export MUJOCO_GL=${MUJOCO_GL:-disable} # nothing here renders; a GPU server may have no libEGL

if ((TINY)); then
    DEVICE=cpu SIZES=(4) STEPS=4 ROUNDS=1 PPO=1 PUSH_STATES=64 PUSH_ENVS=4 TRAIN_ENVS=4 TRAIN_ITERATIONS=2
    LIMIT_COMPILE=600 LIMIT_AGREE=600 LIMIT_BENCH=600 LIMIT_PUSH=300 LIMIT_TRAIN=600
else
    DEVICE=cuda:0 SIZES=(1024 4096 8192) STEPS=40 ROUNDS=3 PPO=5 PUSH_STATES=8192 PUSH_ENVS=4096 TRAIN_ENVS=4096 TRAIN_ITERATIONS=40
    LIMIT_COMPILE=60 LIMIT_AGREE=45 LIMIT_BENCH=40 LIMIT_PUSH=25 LIMIT_TRAIN=90 # 520 s in all
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "error: no CUDA GPU visible to torch; use --tiny to check the script on Warp's CPU device" >&2
        exit 2
    fi
fi

status() { # part name, exit code -> status.json entry
    local code=$2 state=ok
    ((code == 124)) && state=timed_out
    ((code != 0 && code != 124)) && state="failed ($code)"
    echo "{\"part\": \"$1\", \"status\": \"$state\", \"seconds\": $SECONDS}" >>"$OUT/status.jsonl"
}
: >"$OUT/status.jsonl"

for task in Leap-Grasp-v0 Orca-Cube-Rotate-v0; do
    SECONDS=0
    timeout "$LIMIT_COMPILE" "$PY" tools/benchmark.py --task "$task" --backend mujoco_warp --device "$DEVICE" --num_envs 4 \
        --num_steps 2 --rounds 1 --ppo_iterations 1 >"$OUT/compile_${task}.log" 2>&1
    status "first use $task" $?
done

SECONDS=0
timeout "$LIMIT_AGREE" "$PY" -m pytest -q -p no:cacheprovider tests/test_warp_backend.py -k every_device >"$OUT/agreement.log" 2>&1
status agreement $?

for task in Leap-Grasp-v0 Orca-Cube-Rotate-v0; do
    for n in "${SIZES[@]}"; do
        SECONDS=0
        timeout "$LIMIT_BENCH" "$PY" tools/benchmark.py --task "$task" --backend mujoco_warp --device "$DEVICE" --num_envs "$n" \
            --num_steps "$STEPS" --rounds "$ROUNDS" --ppo_iterations "$PPO" --out "$OUT/bench_${task}_${n}.json" \
            >"$OUT/bench_${task}_${n}.log" 2>&1
        status "benchmark $task $n" $?
    done
done

SECONDS=0
timeout "$LIMIT_PUSH" "$PY" tools/benchmark_push.py --task Leap-Grasp-v0 --num_states "$PUSH_STATES" --num_envs "$PUSH_ENVS" \
    --backend mujoco_warp --device "$DEVICE" --out "$OUT/push.json" >"$OUT/push.log" 2>&1
status push $?

SECONDS=0
timeout "$LIMIT_TRAIN" "$PY" tools/train.py --task Leap-Grasp-v0 --backend mujoco_warp --device "$DEVICE" \
    --num_envs "$TRAIN_ENVS" --max_iterations "$TRAIN_ITERATIONS" --action_space rfs_hand_arm \
    --prior_checkpoint checkpoints/leap_grasp_prior_hand_arm.pt --log_root "$OUT/train" --headless >"$OUT/train.log" 2>&1
status "rfs training" $?

"$PY" - "$OUT" "$TRAIN_ENVS" <<'EOF'
import glob, json, os, re, sys

out, train_envs = sys.argv[1], int(sys.argv[2])
figures = {"status": [json.loads(line) for line in open(os.path.join(out, "status.jsonl"))]}
try:
    import torch

    figures["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (Warp's CPU device)"
except ImportError:
    figures["gpu"] = None
figures["benchmarks"] = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "bench_*.json")))]
if os.path.isfile(os.path.join(out, "push.json")):
    figures["push"] = json.load(open(os.path.join(out, "push.json")))
log = open(os.path.join(out, "train.log")).read() if os.path.isfile(os.path.join(out, "train.log")) else ""
rates = [float(x) for x in re.findall(r"Steps per second: (\d+)", log)]
success = re.findall(r"Metrics/success_rate: ([0-9.]+)", log)
figures["rfs_training"] = {
    "num_envs": train_envs,
    "iterations": len(rates),
    "env_steps_per_s_median": sorted(rates)[len(rates) // 2] if rates else None,
    "last_success_rate": float(success[-1]) if success else None,
}
with open(os.path.join(out, "gpu_check.json"), "w") as f:
    json.dump(figures, f, indent=2)
failed = [s for s in figures["status"] if s["status"] != "ok"]
print(json.dumps({"parts": len(figures["status"]), "not_ok": failed}, indent=2))
print(f"Wrote {os.path.join(out, 'gpu_check.json')}")
sys.exit(1 if failed else 0)
EOF
