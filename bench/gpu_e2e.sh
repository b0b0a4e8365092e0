#!/usr/bin/env bash
# The whole pipeline on a CUDA GPU, one benchmark row: the generated demo room at full size
# (40 views at 320x240), openclip:ViT-B-16 + dino:dino_vits8 (random weights of the real
# architectures, built offline), the default training preset with its own step count, then query,
# objects and ask, every stage on the GPU. Seconds, peak RSS and peak GPU memory per stage come
# from bench/real_encoders.py; the row is printed and written to WORK/rows.md.
#
#     bash bench/gpu_e2e.sh [WORK]        # WORK defaults to outputs/gpu_e2e
#
# Environment: PYTHON (default .venv/bin/python, else python3), DEVICE (default cuda), THREADS
# (CPU threads, default: all cores). Without a usable CUDA device it stops before any work, exit 2.
set -euo pipefail

cd "$(dirname "$0")/.."
WORK="${1:-outputs/gpu_e2e}"
DEVICE="${DEVICE:-cuda}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
THREADS="${THREADS:-$(nproc)}"

if ! "$PYTHON" - "$DEVICE" <<'PY'
import sys

import torch

device = sys.argv[1]
if not device.startswith("cuda") or not torch.cuda.is_available():
    sys.exit(f"bench/gpu_e2e.sh: no CUDA device (torch {torch.__version__}, device {device!r}, "
             f"torch.cuda.is_available() = {torch.cuda.is_available()}); this benchmark needs a GPU")
torch.zeros(1, device=device)  # fails here, not mid-run, when the device cannot be used
print(f"GPU: {torch.cuda.get_device_name(torch.device(device))}, torch {torch.__version__}")
PY
then
    exit 2
fi

"$PYTHON" bench/real_encoders.py --work "$WORK" --room demo --preset default --steps 0 \
    --device "$DEVICE" --threads "$THREADS" --only-real --header
echo "row written to $WORK/rows.md"
