#!/usr/bin/env bash
# Installs saro: PREFIX/bin/saro and its resources in PREFIX/share/saro/ (policy, prompts, seed
# sets, GSM8K, XSTest, suites), so the binary runs from any folder with no checkout beside it.
#
#   scripts/install.sh                      # release build into ~/.local (bin/saro on PATH there)
#   scripts/install.sh --prefix /usr/local  # elsewhere
#   scripts/install.sh --configuration debug --no-build   # copy what `swift build` already made
#
# The machine also needs the run-time libraries setup.sh installs (oneDNN or OpenBLAS, SQLite,
# python3 with pip for fetching the model and data packages); the script runs setup.sh first
# unless --no-setup is given.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${HOME}/.local"
configuration=release
build=1
setup=1
while (($#)); do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --configuration) configuration="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-setup) setup=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$configuration" in debug|release) ;; *) echo "install.sh: --configuration is debug or release" >&2; exit 2 ;; esac
((setup)) && scripts/setup.sh
((build)) && swift build -c "$configuration" --product saro
products=".build/$configuration"
[ -x "$products/saro" ] || { echo "install.sh: $products/saro is not built (run without --no-build)" >&2; exit 1; }

mkdir -p "$prefix/bin" "$prefix/share/saro"
# Each folder is copied beside its final place and then renamed into it, so an interrupted
# install leaves the previous one whole.
for bundle in "$products"/saro_*.resources; do
  name=$(basename "$bundle")
  case "$name" in *Tests.resources) continue ;; esac
  rm -rf "$prefix/share/saro/.$name.new"
  cp -R "$bundle" "$prefix/share/saro/.$name.new"
  rm -rf "$prefix/share/saro/$name"
  mv "$prefix/share/saro/.$name.new" "$prefix/share/saro/$name"
done
cp "$products/saro" "$prefix/bin/.saro.new"
mv "$prefix/bin/.saro.new" "$prefix/bin/saro"
echo "installed $prefix/bin/saro (resources in $prefix/share/saro)"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "add $prefix/bin to PATH to run it as 'saro'" ;; esac
