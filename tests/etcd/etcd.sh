#!/usr/bin/env bash
# Starts a private etcd for a test: `etcd.sh DATA_DIR CLIENT_PORT PEER_PORT`, on loopback only,
# in the foreground (the test that starts it stops it). Installs Debian's etcd-server first when
# no `etcd` is on PATH; when that cannot be done it says why and fails, so a test never passes
# without a real etcd. `etcd.sh --install` only installs.
set -euo pipefail

# Tests start etcds in parallel: one installs while the others wait for it (two apt-gets at once
# fail on dpkg's lock), then they look again.
if ! command -v etcd >/dev/null 2>&1 && command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/greeter-etcd-install.lock"
    flock 9
fi
if ! command -v etcd >/dev/null 2>&1; then
    echo "etcd.sh: no etcd on PATH; installing Debian's etcd-server" >&2
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "etcd.sh: cannot install etcd: no apt-get (install etcd 3.4+ by hand)" >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo -n"
    fi
    # Debian's package starts a system etcd on the default ports through systemd; where systemd
    # runs, that one is left alone: ours uses its own ports and data dir.
    if ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q etcd-server >&2 ||
           { $sudo apt-get update -q >&2 &&
             DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q etcd-server >&2; }; }; then
        echo "etcd.sh: cannot install etcd-server with apt-get" >&2
        exit 1
    fi
    command -v etcd >/dev/null 2>&1 || { echo "etcd.sh: etcd-server installed no etcd" >&2; exit 1; }
fi
# The lock is not held while etcd runs.
exec 9>&- 2>/dev/null || true

if [ "${1:-}" = "--install" ]; then
    exit 0
fi
if [ $# -ne 3 ]; then
    echo "usage: etcd.sh DATA_DIR CLIENT_PORT PEER_PORT | etcd.sh --install" >&2
    exit 2
fi
data="$1" client="http://127.0.0.1:$2" peer="http://127.0.0.1:$3"
exec etcd \
    --name test \
    --data-dir "$data" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "test=$peer" --initial-cluster-state new \
    --logger zap --log-level error
