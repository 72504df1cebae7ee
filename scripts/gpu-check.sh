#!/usr/bin/env bash
# The first check on a machine with a CUDA GPU, at most 8 minutes, no internet and no weights:
#   1. the paper profile's training (profile=paper: full-size SimSwap 224 teacher, IR-SE [3,4,23,3]
#      identity network, VGG19, BiSeNet, ResNet-18 Q, batch 16) for STEPS steps at 224 in
#      bf16-mixed, on a VGGFace2-shaped tree made from the bundled photos: steps per second,
#      peak GPU memory, the last losses and whether they are finite;
#   2. mfs bench --device cuda (the baked student and SimSwap on the GPU, and the video pipeline);
# then one JSON, $OUT/gpu-check.json. The frozen networks are random, of their real
# architectures: the numbers measure speed and memory, not quality.
# Without a CUDA GPU it says so in one line and exits 0.
#
#   scripts/gpu-check.sh                      # on the GPU machine; OUT=folder (default gpu-check)
#   STEPS=3 BATCH=2 scripts/gpu-check.sh --cpu   # the training part alone on the CPU, to try it here
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check}
STEPS=${STEPS:-300}
BATCH=${BATCH:-16}
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=offline HYDRA_FULL_ERROR=0
cpu=false
[ "${1:-}" = "--cpu" ] && cpu=true

if ! "$PY" -c "import torch, mobilefaceswap" 2>/dev/null; then
    echo "gpu-check: error: $PY cannot import torch and mobilefaceswap (make install, or PYTHON=<a python with them>)" >&2
    exit 1
fi
if ! $cpu && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu-check: no CUDA GPU on this machine (torch.cuda.is_available() is false): nothing measured"
    exit 0
fi
start=$(date +%s)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PY" -c "from mobilefaceswap.data.sample_vggface2 import write_vggface2_tree as w; print('identities:', w('$work/vggface2'))"

if $cpu; then
    device=(trainer=cpu trainer.precision=32 data.num_workers=0)
else
    device=(trainer=gpu trainer.precision=bf16-mixed data.num_workers=8)
fi
# Every frozen network random (pretrained=null) and no paper scorers (eval.fallback=dlib): nothing to download.
# 3 of the 7 identities held out: the learning curve takes one face of each, and needs 3.
train_status=0
timeout 330 "$PY" -m mobilefaceswap.train profile=paper "${device[@]}" \
    teacher.pretrained=null identity.pretrained=null perceptual.pretrained=null face_parser.pretrained=null \
    quality.pretrained=null eval.fallback=dlib eval.cosface=null eval.hopenet=null paths.inception=null \
    data.root="$work/vggface2" data.cache="$work/cache" data.val_identities=3 data.val_pairs=4 data.batch_size="$BATCH" \
    trainer.max_steps="$STEPS" trainer.log_every_n_steps=10 logger=csv \
    callbacks.swap_metrics.max_pairs=2 callbacks.learning_curve.max_faces=3 \
    +callbacks.throughput._target_=mobilefaceswap.callbacks.TrainingThroughput \
    +callbacks.throughput.path="$OUT/train.json" +callbacks.throughput.warmup_steps=$((STEPS < 60 ? STEPS / 3 : 20)) \
    hydra.run.dir="$work/run" >"$OUT/train.log" 2>&1 || train_status=$?

bench_status=skipped
if ! $cpu; then
    bench_status=0
    timeout 150 "$PY" -m mobilefaceswap bench --device cuda --json --output "$OUT/bench.json" --quiet \
        --threads 8 --seconds 1 --frames 30 --memory-seconds 2 4 >"$OUT/bench.log" 2>&1 || bench_status=$?
fi

"$PY" - "$OUT" "$train_status" "$bench_status" "$(( $(date +%s) - start ))" "$STEPS" "$BATCH" <<'EOF'
import json, sys
from pathlib import Path

import torch

out, train_status, bench_status, seconds, steps, batch = sys.argv[1:]
out = Path(out)

def part(name, status):
    path = out / f"{name}.json"
    if status == "0" and path.is_file():
        return json.loads(path.read_text())
    log = (out / f"{name}.log").read_text().splitlines() if (out / f"{name}.log").is_file() else []
    return {"status": status, "error": "timed out" if status == "124" else "failed", "log_tail": log[-15:]}

report = {
    "what": f"profile=paper training at 224 (batch {batch}, {steps} steps) on a VGGFace2-shaped tree made from the "
    "bundled photos" + ("" if bench_status == "skipped" else ", then mfs bench --device cuda"),
    "networks": "random frozen networks of their real architectures (no weights, no internet): speed and memory, not quality",
    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    "torch": torch.__version__,
    "seconds": int(seconds),
    "train": part("train", train_status),
    "bench": part("bench", bench_status) if bench_status != "skipped" else "skipped (--cpu)",
}
(out / "gpu-check.json").write_text(json.dumps(report, indent=2) + "\n")
train = report["train"]
rate = train.get("steps_per_second")
rate = "too few steps to time" if rate is None else f"{rate:.2f} steps/s"
print(f"gpu-check: {out / 'gpu-check.json'} ({report['seconds']} s); training:",
      f"{rate}, losses finite: {train['losses_finite']}" if "steps" in train else train["error"])
sys.exit(0 if "steps" in train and train["losses_finite"] and bench_status in ("0", "skipped") else 1)
EOF
