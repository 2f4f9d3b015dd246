# Sourced by the benchmark scripts (`. scripts/bench-peers.sh FERROGATE_PORT MOTO_PORT`):
# builds Ferrogate and the load generator, starts Ferrogate on 127.0.0.1:FERROGATE_PORT with a
# fresh data directory and, when installed, moto's server (the peer) on 127.0.0.1:MOTO_PORT.
# Sets BIN, WORK, MOTO (non-empty when moto runs), AK/SK (Ferrogate's root key) and MAK/MSK
# (the key moto accepts). Both servers and the data directory go away when the script exits.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ferrogate-target}"
cargo build --release -q -p ferrogate -p ferrogate-bench
BIN="$CARGO_TARGET_DIR/release"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

"$BIN/ferrogate" serve --listen "127.0.0.1:$1" --data-dir "$WORK/data" > "$WORK/ferrogate.log" 2>&1 &
MOTO=""
if command -v moto_server >/dev/null 2>&1; then
  moto_server -p "$2" > "$WORK/moto.log" 2>&1 &
  MOTO=yes
fi
sleep 2
AK=$(sed -n 's/^aws_access_key_id=//p' "$WORK/data/credentials")
SK=$(sed -n 's/^aws_secret_access_key=//p' "$WORK/data/credentials")
MAK=AKIAIOSFODNN7EXAMPLE
MSK=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
