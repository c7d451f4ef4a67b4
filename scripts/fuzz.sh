#!/usr/bin/env bash
# Fuzzes the native parsers with libFuzzer (ASan + UBSan), Node-free harnesses in test/fuzz/.
#
#   scripts/fuzz.sh [seconds-per-target]   build, fuzz each target (default 600 s), write
#                                          test/fuzz/RESULTS.md; a crash is copied into the
#                                          target's corpus as a regression input
#   scripts/fuzz.sh --replay               build, run every corpus input through its harness
#                                          once (no new fuzzing; for CI)
#   FUZZ_TARGETS="pax objpath" ...         only these targets
#
# Needs clang and libclang-rt-dev (Debian) / clang and compiler-rt (Fedora): scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=fuzz
seconds=600
if [ "${1:-}" = "--replay" ]; then mode=replay; elif [ -n "${1:-}" ]; then seconds=$1; fi

clangxx=""
for c in clang++ clang++-14 clang++-15 clang++-16; do
  if command -v "$c" >/dev/null 2>&1; then clangxx=$c; break; fi
done
if [ -z "$clangxx" ]; then
  echo "fuzz.sh: clang++ not found; install clang and libclang-rt-dev (Fedora: clang compiler-rt), see scripts/install-deps.sh" >&2
  exit 2
fi

targets=(${FUZZ_TARGETS:-tar_reader pax objpath deflate_scan variant})
out=build/fuzz
mkdir -p "$out"
pkgs="ostree-1 glib-2.0 openssl zlib"
flags=(-g -O1 -std=c++17 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Inative $(pkg-config --cflags $pkgs))
libs=($(pkg-config --libs $pkgs))

# Native sources each harness links (all Node-free).
sources_of() {
  case $1 in
    tar_reader | pax) echo native/tar/reader.cc native/tar/writer.cc native/util/error_info.cc ;;
    objpath) echo native/util/error_info.cc ;;
    deflate_scan) echo native/codec/deflate_scan.cc ;;
    variant) echo native/util/variant_untrusted.cc native/util/error_info.cc ;;
  esac
}

build() {
  local t=$1 bin=$out/$1_fuzz
  local srcs="test/fuzz/$1_fuzz.cc $(sources_of "$1")"
  # Rebuild when a source or header is newer than the binary.
  if [ -x "$bin" ] && [ -z "$(find $srcs native/*.h native/*/*.h -newer "$bin" 2>/dev/null | head -1)" ]; then return; fi
  echo "fuzz.sh: building $bin" >&2
  # shellcheck disable=SC2086
  if ! "$clangxx" "${flags[@]}" $srcs -o "$bin" "${libs[@]}"; then
    echo "fuzz.sh: building $bin failed (the libFuzzer/ASan runtimes come with libclang-rt-dev on Debian, compiler-rt on Fedora)" >&2
    exit 2
  fi
}

for t in "${targets[@]}"; do build "$t"; done

# Leaks are findings too: GLib allocates through malloc (not its slice cache) so LeakSanitizer sees them.
export G_SLICE=always-malloc
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

if [ "$mode" = replay ]; then
  failed=0
  for t in "${targets[@]}"; do
    corpus=test/fuzz/corpus/$t
    n=$(find "$corpus" -type f | wc -l)
    # Each file once, with a per-input time limit; any crash or sanitizer report fails.
    if find "$corpus" -type f -print0 | xargs -0 -r "$out/${t}_fuzz" -timeout=10 -rss_limit_mb=1024 >"$out/$t.replay.log" 2>&1; then
      echo "fuzz.sh: $t: $n corpus inputs replayed, no findings"
    else
      echo "fuzz.sh: $t: FAILED on replay, see $out/$t.replay.log" >&2
      tail -30 "$out/$t.replay.log" >&2
      failed=1
    fi
  done
  exit $failed
fi

results=test/fuzz/RESULTS.md
{
  echo "# Fuzzing results"
  echo
  echo "Last campaign: \`scripts/fuzz.sh $seconds\` on $(date -u +%Y-%m-%d) ($(nproc) shared cores, $("$clangxx" --version | head -1))."
  echo "Harnesses in test/fuzz/*_fuzz.cc, built with -fsanitize=fuzzer,address,undefined; seed and"
  echo "regression inputs in test/fuzz/corpus/<target>/ (replayed in CI by test/integration/fuzz-replay.test.ts)."
  echo
  echo "| target | seconds | executions | exec/s | coverage (edges) | features | corpus (seed → end) | findings |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$results.new"

for t in "${targets[@]}"; do
  seed=test/fuzz/corpus/$t
  work=$out/corpus/$t
  art=$out/artifacts/$t/
  rm -rf "$work" "$art"
  mkdir -p "$work" "$art"
  cp "$seed"/* "$work"/ 2>/dev/null || true
  nseed=$(find "$seed" -type f | wc -l)
  echo "fuzz.sh: fuzzing $t for $seconds s" >&2
  set +e
  "$out/${t}_fuzz" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="$art" -print_final_stats=1 >"$out/$t.log" 2>&1
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$t.log" | awk '{print $2}' | tail -1)
  rate=$(grep -o 'exec/s: [0-9]*' "$out/$t.log" | tail -1 | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$out/$t.log" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$out/$t.log" | tail -1 | awk '{print $2}')
  nend=$(find "$work" -type f | wc -l)
  findings=()
  for f in "$art"*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    cp "$f" "$seed/$name"  # a regression input from now on
    findings+=("$name")
  done
  if [ ${#findings[@]} -eq 0 ]; then found=none; else found="${findings[*]} (see $out/$t.log)"; fi
  echo "| $t | $seconds | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $nseed → $nend | $found |" >>"$results.new"
done
# Hand-written notes (findings and their fixes) after "## History" are kept.
if [ -f "$results" ] && grep -q '^## History' "$results"; then
  { echo; sed -n '/^## History/,$p' "$results"; } >>"$results.new"
fi
mv "$results.new" "$results"
cat "$results"
