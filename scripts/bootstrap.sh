#!/usr/bin/env bash
# From a fresh clone to a running job: sets up whatever is missing, then runs the job.
#
#   scripts/bootstrap.sh demo [ladder demo options]   ladderdata alone (no torch), then `ladder demo`
#   scripts/bootstrap.sh test [pytest options]        everything (CPU torch, train, dev, ray), then the tests
#   scripts/bootstrap.sh env                          only the environment of `test`
#
# Paths are relative to the repository root. Environment:
#   TORCH=cpu (default) | cuda   which torch build `test` installs (docs/install.md)
#   PYTHON=python3.X             the interpreter for .venv (default python3.11, else python3 if >= 3.11)
# Idempotent: a stamp in .venv (keyed on pyproject.toml, this script and TORCH) skips the setup next time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TORCH_VERSION=2.13.0
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
TEST_EXTRAS=train,dev,ray,audit,report,fast
# open3d's libOpen3D.so links libusb, libGL and libEGL (import fails without them); OpenMP for the CPU kernels
SYSTEM_PACKAGES=(libusb-1.0-0 libgl1 libegl1 libgomp1)
# `test` only: a real headless browser renders report.html (tests/test_report_html.py). Measured on the 2-core
# machines: 113 MB downloaded, 414 MB installed, 78 s (`apt-get install -y --no-install-recommends chromium`)
TEST_SYSTEM_PACKAGES=(chromium)
VENV=.venv

say() { echo "bootstrap: $*" >&2; }
die() {
  say "$*"
  exit 1
}

job=${1:-}
case "$job" in
  demo | test | env) shift ;;
  *) die "usage: scripts/bootstrap.sh demo|test|env [options for ladder demo / pytest]" ;;
esac
TORCH=${TORCH:-cpu}
case "$TORCH" in
  cpu | cuda) ;;
  *) die "TORCH must be cpu or cuda, not '$TORCH'" ;;
esac
start=$SECONDS

# ---------------------------------------------------------------------------------------------- Python
python=""
for candidate in ${PYTHON:-} python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
[ -n "$python" ] || die "needs Python >= 3.11 (Debian 12 / Ubuntu 24.04: apt-get install -y python3 python3-venv)"

# ------------------------------------------------------------------------------------- system packages
missing=()
wanted=("${SYSTEM_PACKAGES[@]}")
[ "$job" = demo ] || wanted+=("${TEST_SYSTEM_PACKAGES[@]}")
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  # Debian's Python leaves venv's pip bootstrap (ensurepip) to a separate package
  if [ ! -x "$VENV/bin/python" ] && ! "$python" -c 'import ensurepip' 2>/dev/null; then
    missing+=("$("$python" -c 'import sys; print(f"python3.{sys.version_info[1]}-venv")')")
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing system packages ${missing[*]}: run  sudo apt-get install -y ${missing[*]}  and try again"
  fi
fi

# -------------------------------------------------------------------------------------- virtualenv
export PIP_DISABLE_PIP_VERSION_CHECK=1
base_key=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
demo_stamp=$VENV/.bootstrap-demo
test_stamp=$VENV/.bootstrap-test
pip() { "$VENV/bin/python" -m pip "$@"; }

install_torch() {
  # torch FIRST, pinned: `pip install torch==2.13.0` from PyPI is the CUDA build (about 3 GB with the nvidia-*
  # wheels it pulls); once torch is installed, the train extra's `torch>=2.3` is satisfied and pulls no other.
  local want_cpu=1
  [ "$TORCH" = cpu ] || want_cpu=0
  if "$VENV/bin/python" -W ignore -c "import sys, torch; sys.exit(not (torch.__version__.split('+')[0] == '$TORCH_VERSION'
      and (torch.version.cuda is None) == bool($want_cpu)))" 2>/dev/null; then
    return
  fi
  pip uninstall -q -y torch 2>/dev/null || true # another version or build
  if [ "$TORCH" = cuda ]; then
    say "installing torch==$TORCH_VERSION (CUDA build, from PyPI)"
    pip install -q "torch==$TORCH_VERSION"
  elif "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('$TORCH_CPU_INDEX/torch/', timeout=10)" 2>/dev/null
  then
    say "installing torch==$TORCH_VERSION (CPU build, from $TORCH_CPU_INDEX)"
    pip install -q "torch==$TORCH_VERSION" --extra-index-url "$TORCH_CPU_INDEX"
  else
    say "$TORCH_CPU_INDEX unreachable: installing torch==$TORCH_VERSION from your configured package index"
    pip install -q "torch==$TORCH_VERSION"
  fi
  if [ "$TORCH" = cpu ] && ! "$VENV/bin/python" -W ignore -c "import sys, torch; sys.exit(torch.version.cuda is not None)"; then
    say "warning: got torch's CUDA build (it runs on CPU too); for the small CPU build see docs/install.md"
  fi
}

if [ "$job" = demo ]; then
  grep -qs "^$base_key" "$demo_stamp" "$test_stamp" && ready=1 || ready=0
else
  [ "$(cat "$test_stamp" 2>/dev/null)" = "$base_key $TORCH" ] && ready=1 || ready=0
fi
if [ "$ready" = 0 ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $python ($("$python" --version))"
    "$python" -m venv "$VENV"
  fi
  rm -f "$demo_stamp" "$test_stamp"
  if [ "$job" = demo ]; then
    say "installing ladderdata and its report extra (no torch needed)"
    pip install -q -e ".[report]"
    echo "$base_key" >"$demo_stamp"
  else
    install_torch
    say "installing ladder with the $TEST_EXTRAS extras"
    pip install -q -e ".[$TEST_EXTRAS]"
    echo "$base_key $TORCH" >"$test_stamp"
  fi
  say "environment ready in $((SECONDS - start)) s (activate it with: . $VENV/bin/activate)"
fi

# ------------------------------------------------------------------------------------------------ job
case "$job" in
  demo) exec "$VENV/bin/ladder" demo "$@" ;;
  test) exec "$VENV/bin/python" -m pytest -q -n 2 "$@" ;;
  env) ;;
esac
