#!/usr/bin/env bash
# Installs the peer plugins the `plugin` benchmark compares against (protoc-gen-prost and
# protoc-gen-tonic, the pair users run for prost messages + tonic services) into bench/.tools,
# unless they are there already. Their build uses its own target dir so it does not contend
# with the workspace's builds.
set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$bench_dir/.tools"
export CARGO_TARGET_DIR="${PEERS_TARGET_DIR:-/work/target-peers}"
for spec in protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0; do
  name="${spec%@*}"
  if [ -x "$root/bin/$name" ]; then
    continue
  fi
  cargo install --locked --root "$root" "$spec"
done
ls -l "$root/bin"
