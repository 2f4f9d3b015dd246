#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer) on the stable toolchain: see docs/fuzzing.md.
#
#   scripts/fuzz.sh smoke                  every target for FUZZ_SECONDS (default 15) each; CI
#   scripts/fuzz.sh run TARGET [SECONDS]   one target for longer (default 1200 s)
#   scripts/fuzz.sh all [SECONDS]          every target, one after another (default 1200 s each)
#   scripts/fuzz.sh build                  build the targets only
#
# Targets are built with `-s none` (no sanitizer: AddressSanitizer needs a nightly compiler;
# the code under test is safe Rust plus the runtime's `sys` wrappers) and coverage and
# comparison tracing, which stable rustc supports. A crash stops the script with a non-zero
# status; the input is left in fuzz/artifacts/TARGET/ (add it to the crate's tests, then fix).
# The growing corpus lives in $FUZZ_CORPUS (default: beside the build), the committed seeds in
# fuzz/seeds/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

TARGETS=(layer archive sigv4 wire_decode policy)
CARGO_FUZZ_VERSION=0.13.2
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"
corpus_root="${FUZZ_CORPUS:-$target_dir/corpus}"

ensure_cargo_fuzz() {
  # Reuse an installed cargo-fuzz (any version that runs); otherwise build the pinned one.
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  fi
}

build() {
  ensure_cargo_fuzz
  cargo fuzz build -s none --target-dir "$target_dir"
}

# run TARGET SECONDS
run() {
  local t="$1" secs="$2" log
  mkdir -p "$corpus_root/$t"
  log="$(mktemp)"
  local start=$SECONDS
  # -timeout: one input may take at most 10 s; -rss_limit_mb: the targets bound their own
  # memory far below this.
  if ! cargo fuzz run -s none --target-dir "$target_dir" "$t" "$corpus_root/$t" "seeds/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)"
    rm -f "$log"
    return 1
  fi
  echo "fuzz: $t ok: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') inputs in $((SECONDS - start)) s, corpus $(find "$corpus_root/$t" -type f | wc -l)"
  rm -f "$log"
}

case "${1:-smoke}" in
  smoke)
    build
    for t in "${TARGETS[@]}"; do run "$t" "${FUZZ_SECONDS:-15}"; done
    ;;
  run)
    build
    run "${2:?target: ${TARGETS[*]}}" "${3:-1200}"
    ;;
  all)
    build
    for t in "${TARGETS[@]}"; do run "$t" "${2:-1200}"; done
    ;;
  build)
    build
    ;;
  *)
    sed -n '2,8p' "$0"
    exit 2
    ;;
esac
