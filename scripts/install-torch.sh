#!/usr/bin/env bash
# Installs PyTorch into the given Python environment for songscope's neural models, unless
# torch is already importable. On a machine without an NVIDIA GPU it takes the CPU build from
# PyTorch's CPU index (never the multi-GB CUDA build); with a GPU, the default build.
set -eu
PY="$1"
VERSION="${SONGSCOPE_TORCH_VERSION:-2.13.0}"
if "$PY" -c "import torch" >/dev/null 2>&1; then
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  "$PY" -m pip install --quiet "torch==$VERSION"
else
  "$PY" -m pip install --quiet --timeout 15 --retries 0 \
    --index-url https://download.pytorch.org/whl/cpu "torch==$VERSION"
fi
