#!/usr/bin/env bash
# Fetches the PyPI corpus of the `plugin` benchmark: every .proto of the googleapis-common-protos
# and grpcio-tools wheels, extracted into bench/.cache/pypi/{googleapis-common-protos,grpc_tools}.
# The grpcio-tools wheel carries google/protobuf/*.proto under grpc_tools/_proto, so both trees
# together resolve every import.
set -euo pipefail
bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wheels="$bench_dir/.cache/wheels"
out="$bench_dir/.cache/pypi"
python="${PYTHON:-python3}"
mkdir -p "$wheels"
if ! ls "$wheels"/googleapis_common_protos-*.whl >/dev/null 2>&1 \
  || ! ls "$wheels"/grpcio_tools-*.whl >/dev/null 2>&1; then
  "$python" -m pip download --quiet --no-deps --only-binary=:all: \
    googleapis-common-protos grpcio-tools -d "$wheels"
fi
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
"$python" - "$wheels" "$out.tmp" <<'PY'
import pathlib, sys, zipfile

wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for wheel in sorted(wheels.glob("*.whl")):
    if wheel.name.startswith("googleapis_common_protos-"):
        root, strip = out / "googleapis-common-protos", ""
    elif wheel.name.startswith("grpcio_tools-"):
        root, strip = out / "grpc_tools", "grpc_tools/_proto/"
    else:
        continue
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.endswith(".proto") or not name.startswith(strip):
                continue
            target = root / name[len(strip):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
            count += 1
    print(f"{wheel.name}: {count} .proto files -> {root}")
PY
rm -rf "$out"
mv "$out.tmp" "$out"
