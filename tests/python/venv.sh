#!/usr/bin/env bash
# Makes (once) the venv of the Python test peers and prints its interpreter's path.
#
# The venv lives under the cargo target dir (CARGO_TARGET_DIR, else target/ at the workspace
# root), named by a hash of requirements.txt, so a new pin makes a new one and an old one is
# reused. It is built under a lock and marked complete at the end, so concurrent callers wait
# for it and an interrupted install is redone. Needs python3 (PYTHON3 overrides) with venv and
# pip.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target/python"
target="$(cd "$target/python" && pwd)"
hash="$(sha256sum "$here/requirements.txt" | cut -c1-12)"
venv="$target/venv-$hash"
python="$venv/bin/python"

if [ -x "$python" ] && [ -f "$venv/.complete" ]; then
    echo "$python"
    exit 0
fi

exec 9>"$target/venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
    # An unfinished venv (an interrupted install) has no .complete: start it again.
    rm -rf "$venv"
    "${PYTHON3:-python3}" -m venv "$venv" >&2
    "$python" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$here/requirements.txt" >&2
    touch "$venv/.complete"
fi
echo "$python"
