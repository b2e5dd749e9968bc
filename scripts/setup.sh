#!/usr/bin/env bash
# Installs what saro needs on a Debian machine, only what is missing (quick when all is there):
#   - oneDNN (libdnnl2): the BLAS saro loads at run time, and OpenBLAS (libopenblas0-pthread),
#     its fallback, which the tests also check;
#   - python3 with numpy: the reference run of `saro bench gemm`;
#   - SQLite's headers (libsqlite3-dev): GRDB builds against the system SQLite (job store);
#   - chromium: the tests check that `saro report`'s HTML renders in a headless browser.
# Later stages add their own needs here. Safe to run any number of times.
set -euo pipefail

need_apt=()
dpkg -s libdnnl2 >/dev/null 2>&1 || need_apt+=(libdnnl2)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need_apt+=(libopenblas0-pthread)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need_apt+=(libsqlite3-dev)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 -c 'import numpy' >/dev/null 2>&1; then
  echo "setup: installing numpy with pip" >&2
  python3 -m pip install --quiet numpy
fi
