# Shared by the bench-*.sh scripts (sourced, not run): the release build, a work directory
# removed at exit, the servers, and the load generator's table rows.

# moto's fixed credentials (any pair is accepted; these are the ones its docs use).
MOTO_AK=AKIAIOSFODNN7EXAMPLE
MOTO_SK=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

# Builds the server and the load generator (sets BIN; with BINDIR set, uses the binaries
# there and builds nothing, for comparing builds) and makes WORK (mktemp -d with the
# arguments given), stopping the servers and removing it at exit, after SETTLE seconds (tasks'
# volumes are torn down asynchronously).
bench_setup() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ferrogate-target}"
  if [ -n "${BINDIR:-}" ]; then
    BIN=$BINDIR
  else
    cargo build --release -q -p ferrogate -p ferrogate-bench
    BIN="$CARGO_TARGET_DIR/release"
  fi
  WORK=$(mktemp -d "$@")
  local settle=${SETTLE:-0}
  trap 'kill $(jobs -p) 2>/dev/null; sleep '"$settle"'; rm -rf "$WORK"' EXIT
}

# Starts Ferrogate on 127.0.0.1:$1 with its data in $WORK/data and any further arguments;
# its process id is in FERROGATE_PID.
bench_serve() {
  "$BIN/ferrogate" serve --listen "127.0.0.1:$1" --data-dir "$WORK/data" "${@:2}" > "$WORK/ferrogate.log" 2>&1 &
  FERROGATE_PID=$!
}

# Starts moto on port $1 if it is installed and NO_PEER is not set (sets MOTO=yes), waits for the servers, and reads
# Ferrogate's root credentials into AK and SK.
bench_peer_and_keys() {
  MOTO=""
  if [ -z "${NO_PEER:-}" ] && command -v moto_server >/dev/null 2>&1; then
    moto_server -p "$1" > "$WORK/moto.log" 2>&1 &
    MOTO_PID=$!
    MOTO=yes
  fi
  sleep 2
  AK=$(sed -n 's/^aws_access_key_id=//p' "$WORK/data/credentials")
  SK=$(sed -n 's/^aws_secret_access_key=//p' "$WORK/data/credentials")
}

# The table's header: the given columns, then the load generator's (with BENCH_CPU=1, also
# CPU time per request: the server's, its busiest threads', the load generator's).
bench_header() {
  local cols="|" rule="|" c extra=()
  if [ -n "${BENCH_CPU:-}" ]; then extra=("server CPU µs/req" "server threads µs/req" "load generator CPU µs/req"); fi
  for c in "$@" req/s "p50 ms" "p99 ms" errors "${extra[@]}"; do
    cols="$cols $c |"
    rule="$rule---|"
  done
  echo "$cols"
  echo "$rule"
}

# One load-generator run: endpoint key secret op concurrency [server-pid]; prints
# "req/s | p50 ms | p99 ms | errors" (and, with BENCH_CPU=1, the CPU columns).
bench_run() {
  local out pid=()
  if [ -n "${BENCH_CPU:-}" ] && [ -n "${6:-}" ]; then pid=(--server-pid "$6"); fi
  out=$("$BIN/ferrogate-bench" --endpoint "$1" --access-key "$2" --secret "$3" --op "$4" --concurrency "$5" --seconds "$SECS" "${pid[@]}")
  get() { echo "$out" | tr ' ' '\n' | sed -n "s|^$1=||p"; }
  local row="$(get req/s) | $(get p50_ms) | $(get p99_ms) | $(get errors)"
  if [ -n "${BENCH_CPU:-}" ]; then
    row="$row | $(get server_cpu_us) | $(get threads | tr ',' ' ') | $(get client_cpu_us)"
  fi
  echo "$row"
}

# A table row: name endpoint key secret op concurrency [server-pid] (the operation shown
# without its argument).
bench_row() {
  echo "| $1 | ${5%%:*} | $6 | $(bench_run "$2" "$3" "$4" "$5" "$6" "${7:-}") |"
}
