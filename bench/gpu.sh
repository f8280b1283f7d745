#!/usr/bin/env bash
# The prepared GPU check: M1/M3 at Jigsaw scale on CUDA (float32, bf16, fp16), under DDP over NCCL
# on every GPU (2 or more), Run.predict rows/s and the serve load; one JSON in bench/results/.
# Installs nothing: run it from a checkout whose environment already has rnnlab (pip install -e '.[serve]').
#   bench/gpu.sh                 # on the CUDA machine (< 5 minutes on one modern GPU)
#   bench/gpu.sh --dry-run       # the same plumbing on the CPU with tiny data (gloo, no fp16)
# Other options: python bench/gpu.py --help. Not yet run on a GPU (docs/benchmarks.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [[ " $* " == *" --dry-run "* ]]; then
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" CUDA_VISIBLE_DEVICES=""
fi
exec "${PYTHON:-python}" "$here/gpu.py" "$@"
