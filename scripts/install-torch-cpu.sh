#!/usr/bin/env bash
# Install the CPU build of torch into the active Python environment (scripts/demo.sh and .ci/run
# call this first). A bare `torch` requirement from PyPI is the multi-GB CUDA build, so:
#   1. a CPU wheel pip can find without an index (our machines keep one in pip's find-links,
#      /opt/wheels), then its dependencies from the usual index;
#   2. else (an ordinary Linux machine) the PyTorch CPU package index.
# TORCH_VERSION (default 2.13.0) pins the version; TORCH_INDEX_URL overrides the CPU index.
set -euo pipefail
version="${TORCH_VERSION:-2.13.0}"
index="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
if python -m pip install --quiet --no-index --no-deps "torch==$version" 2>/dev/null; then
    echo "torch $version: the local CPU wheel"
    python -m pip install --quiet "torch==$version"   # its dependencies
else
    echo "torch $version: from the PyTorch CPU index ($index)"
    python -m pip install --quiet "torch==$version" --index-url "$index"
fi
