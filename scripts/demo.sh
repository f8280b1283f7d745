#!/usr/bin/env bash
# The demo from nothing: a virtual environment (.venv in this checkout, or $RNNLAB_VENV), the CPU
# build of torch (scripts/install-torch-cpu.sh), rnnlab with its runtime dependencies only (no test
# extras), then `rnnlab demo ARGS...` in the current folder (e.g. --threads 1, --full, --data FILE;
# see docs/cli.md). Data: --data, else $RNNLAB_IMDB, else ../shared/data/imdb/aclImdb_train.csv.gz
# beside the checkout when it is there, else the official IMDB download (cached in ~/.cache/rnnlab).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${RNNLAB_VENV:-$root/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
"$root/scripts/install-torch-cpu.sh"
python -m pip install --quiet -e "$root"
shared="$root/../shared/data/imdb/aclImdb_train.csv.gz"
if [ -z "${RNNLAB_IMDB:-}" ] && [ -f "$shared" ]; then
    export RNNLAB_IMDB="$shared"
    echo "IMDB data: $shared"
fi
exec rnnlab demo "$@"
