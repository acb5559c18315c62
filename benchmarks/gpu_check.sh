#!/usr/bin/env bash
# GPU check, ready to run on a machine with an NVIDIA GPU and nothing of samis installed:
#   bash benchmarks/gpu_check.sh                        # install, then time every family (SAM, SAM 2.1, HQ-SAM, EfficientViT-SAM, SAM 3)
#   bash benchmarks/gpu_check.sh --device cpu --quick   # the CPU dry path (test-size models, 2 images)
# It installs requirements.txt, then prints, within 8 minutes in all, the images per second of
# automatic mask generation on 200x200 SD-saliency-900 images (random weights, thresholds 0, bf16
# and fp32), samis's engine vs the stock generator, and peak GPU memory (benchmarks/bench_gpu.py;
# extra arguments go to it). SKIP_INSTALL=1 skips the installation; PYTHON picks the interpreter.
#
# sam2==1.1.0 is an sdist with an optional CUDA extension. SAM2_BUILD_CUDA=0 tells its setup.py not
# to compile it (samis does not need it: without it, samis gives min_mask_region_area's hole filling
# inside the sam2 predictor OpenCV's connected components). It is installed with --no-build-isolation after the
# rest, so it builds against the torch just installed instead of downloading torch a second time
# into an isolated build environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TOTAL_S=480
started=$(date +%s)

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  echo "== installing requirements (SAM2_BUILD_CUDA=0: no CUDA extension is compiled)"
  export SAM2_BUILD_CUDA=0
  without_sam2=$(mktemp)
  trap 'rm -f "$without_sam2"' EXIT
  grep -v '^sam2==' requirements.txt > "$without_sam2"
  "$PYTHON" -m pip install --disable-pip-version-check -q setuptools wheel
  "$PYTHON" -m pip install --disable-pip-version-check -q -r "$without_sam2"
  "$PYTHON" -m pip install --disable-pip-version-check -q --no-build-isolation -r requirements.txt
fi
installed=$(( $(date +%s) - started ))
echo "== install: ${installed} s"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

left=$(( TOTAL_S - installed - 15 ))
if [ "$left" -lt 60 ]; then
  echo "the installation took ${installed} s: less than a minute is left of the 8 for timing; timing anyway" >&2
  left=60
fi
echo "== timing (deadline ${left} s)"
"$PYTHON" benchmarks/bench_gpu.py --deadline-s "$(( left - 90 ))" "$@"
# SAM 3: the official builder's key -> shape map against samis's assembly (CUDA only), the test-size SAM 3 timed
# on text prompts, and SAM 3 itself when SAM3_CHECKPOINT names its gated weights (benchmarks/sam3_gpu_check.py)
device=cuda
for arg in "$@"; do [ "$arg" = cpu ] && device=cpu; done
echo "== SAM 3 (${device})"
timeout 90 "$PYTHON" benchmarks/sam3_gpu_check.py --device "$device" --images 3 || echo "SAM 3 check failed or ran out of time" >&2
echo "== gpu_check: $(( $(date +%s) - started )) s in all"
