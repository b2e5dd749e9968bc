#!/usr/bin/env bash
# Makes the Python environment that recipes with `trainer: {engine: trl}` train in: a virtual
# environment with pinned versions of torch, transformers, peft, trl, accelerate and datasets.
# saro's own trainer needs none of this; run it only for TRL.
#
#   scripts/setup-trl.sh            # into $SARO_HOME/trl-venv (default ~/.cache/saro/trl-venv)
#   scripts/setup-trl.sh DIR        # elsewhere (then give the recipe trainer.python: DIR/bin/python)
#   scripts/setup-trl.sh --deepspeed [DIR]   # also DeepSpeed, for recipes/accelerate/deepspeed-*.yaml
#
# torch comes from a CPU wheel on disk when one is there (TORCH_WHEEL, or /opt/wheels/torch-2.13*),
# else from PyPI (on a GPU machine, PyPI's default torch build has CUDA). Safe to run again: an
# environment that already has these versions is left as it is.
set -euo pipefail
cache="${SARO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/saro}"
torch_version=2.13.0
pins=(transformers==5.24.0 trl==1.16.0 peft==0.21.2 accelerate==1.15.0 datasets==5.2.0)
venv=""
while (($#)); do
  case "$1" in
    --deepspeed) pins+=(deepspeed==0.19.8); shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "setup-trl: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) venv="$1"; shift ;;
  esac
done
venv="${venv:-$cache/trl-venv}"

want="torch $torch_version ${pins[*]}"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.saro-pins" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv --help >/dev/null 2>&1 || { echo "setup-trl: python3's venv module is missing (apt-get install python3-venv)" >&2; exit 1; }
wheel="${TORCH_WHEEL:-}"
if [ -z "$wheel" ]; then
  wheel=$(ls /opt/wheels/torch-${torch_version}*.whl 2>/dev/null | head -1 || true)
fi
torch="torch==$torch_version"
[ -n "$wheel" ] && torch="$wheel"
echo "setup-trl: making $venv (torch from ${wheel:-PyPI}; ${pins[*]})" >&2
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$torch" "${pins[@]}"
echo "$want" > "$venv/.saro-pins"
