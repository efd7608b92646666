#!/usr/bin/env bash
# Slither, in its own venv (.venv-slither/, not in git), over contracts/ without contracts/mocks.
# Creates or updates the venv from toolchain/slither-requirements.txt when it is missing or the pins changed
# (a no-op otherwise), then runs toolchain/slither_check.py, passing any arguments through (see its --help).
# Needs `make compile` first: the solc shim (.solcx/solc-v0.8.28) and node_modules. Nothing is downloaded
# but the pinned PyPI packages: slither compiles with the shim, never through solc-select.
# Exit status: that of slither_check.py (0 all High/Medium results triaged, 1 untriaged ones, 2 error).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-slither
REQUIREMENTS=toolchain/slither-requirements.txt
STAMP=$VENV/.installed-requirements   # copy of the requirements the venv was built from
PYTHON=${PYTHON:-python3}

if ! cmp -s "$REQUIREMENTS" "$STAMP" || [[ ! -x $VENV/bin/slither ]]; then
  echo "slither.sh: installing $REQUIREMENTS into $VENV" >&2
  [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$STAMP"
fi

exec "$VENV/bin/python" toolchain/slither_check.py "$@"
