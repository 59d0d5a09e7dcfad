#!/usr/bin/env bash
# Runs the Greeter's Python peer suite: grpcio (pytest) against the example server binary.
#
#   tests/python/greeter/run.sh [PYTEST ARGS…]     e.g. -v, -k quota, -x
#
# 1. the venv of tests/python/venv.sh (pinned grpcio, grpcio-tools, -status, -health-checking,
#    -reflection, pytest; made once under the cargo target dir);
# 2. `cargo build -p greeter-examples --bin greeter-server` (CARGO_TARGET_DIR and cargo's
#    config are honoured: the binary's path is the one cargo reports);
# 3. pytest on this directory, with GREETER_SERVER naming the binary. Every gRPC call has a
#    deadline and the whole run a time limit (GREETER_PYTEST_TIMEOUT, seconds, default 300).
#
# Exits non-zero when any step or any test fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

python="$("$root/tests/python/venv.sh")"

echo "run.sh: building greeter-server" >&2
# JSON on stdout (one artifact per line), compiler messages rendered on stderr.
server="$(
    cd "$root" &&
        cargo build -p greeter-examples --bin greeter-server \
            --message-format=json-render-diagnostics |
        "$python" -c '
import json, sys
found = [
    message["executable"]
    for message in map(json.loads, sys.stdin)
    if message.get("reason") == "compiler-artifact"
    and message["target"]["name"] == "greeter-server"
    and message.get("executable")
]
if len(found) != 1:
    sys.exit(f"run.sh: cargo reported {len(found)} greeter-server binaries: {found}")
print(found[0])
'
)"

# From this directory, so the only `greeter` package Python finds is the generated stubs;
# bytecode and pytest's cache stay out of the source tree.
cd "$here"
export GREETER_SERVER="$server"
export PYTHONDONTWRITEBYTECODE=1
timeout --kill-after=10 "${GREETER_PYTEST_TIMEOUT:-300}" \
    "$python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$@"
