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

targets=(${FUZZ_TARGETS:-tar_reader pax objpath deflate_scan variant derived_filter derived_import})
out=build/fuzz
mkdir -p "$out"
pkgs="ostree-1 glib-2.0 openssl zlib libzstd libdeflate"
flags=(-g -O1 -std=c++17 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Inative -Itest/fuzz $(pkg-config --cflags $pkgs))
libs=($(pkg-config --libs $pkgs))

# Native sources each harness links.
sources_of() {
  case $1 in
    tar_reader | pax) echo native/tar/reader.cc native/tar/writer.cc native/util/error_info.cc ;;
    objpath) echo native/util/error_info.cc ;;
    deflate_scan) echo native/codec/deflate_scan.cc ;;
    variant) echo native/util/variant_untrusted.cc native/util/error_info.cc ;;
    derived_filter) echo native/store/filter.cc native/tar/reader.cc native/tar/writer.cc native/util/error_info.cc ;;
    derived_import)
      echo native/layer/derived.cc native/store/filter.cc native/tar/reader.cc native/tar/writer.cc \
        native/util/error_info.cc native/repo/transaction.cc native/repo/tree.cc native/repo/sepolicy.cc native/layer/blob.cc native/io/fd_watch.cc \
        native/util/tempdir.cc native/io/prefetch.cc native/io/fd_io.cc native/codec/codec.cc native/codec/gzip.cc \
        native/codec/zstd.cc native/codec/deflate_scan.cc native/codec/media_type.cc native/scheduler.cc ;;
  esac
}

# libFuzzer options per target (replay and campaigns): memory limits that an input breaking the
# derived path's bounds trips (ASan's quarantine and shadow included in RSS), and input sizes.
# The derived import also takes gzip layers (a small input, many entries).
options_of() {
  case $1 in
    derived_filter) echo -timeout=30 -rss_limit_mb=512 -malloc_limit_mb=64 -max_len=262144 ;;
    derived_import) echo -timeout=30 -rss_limit_mb=1024 -malloc_limit_mb=128 -max_len=262144 ;;
    *) echo -timeout=10 -rss_limit_mb=1024 -max_len=65536 ;;
  esac
}

build() {
  local t=$1 bin=$out/$1_fuzz
  local srcs="test/fuzz/$1_fuzz.cc $(sources_of "$1")"
  # Rebuild when a source or header is newer than the binary.
  if [ -x "$bin" ] && [ -z "$(find $srcs test/fuzz/*.h native/*.h native/*/*.h -newer "$bin" 2>/dev/null | head -1)" ]; then return; fi
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
    # shellcheck disable=SC2046
    if find "$corpus" -type f -print0 | xargs -0 -r "$out/${t}_fuzz" $(options_of "$t") >"$out/$t.replay.log" 2>&1; then
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
  echo "Latest campaign per target (\`scripts/fuzz.sh SECONDS\`, with FUZZ_TARGETS for some; $(nproc) shared cores,"
  echo "$("$clangxx" --version | head -1)). Harnesses in test/fuzz/*_fuzz.cc, built with"
  echo "-fsanitize=fuzzer,address,undefined; libFuzzer options per target in scripts/fuzz.sh; seed and"
  echo "regression inputs in test/fuzz/corpus/<target>/ (replayed in CI by test/integration/fuzz-replay.test.ts)."
  echo
  echo "| target | date | seconds | executions | exec/s | coverage (edges) | features | corpus (seed → end) | findings |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$results.new"
rows=$(mktemp)

for t in "${targets[@]}"; do
  seed=test/fuzz/corpus/$t
  work=$out/corpus/$t
  art=$out/artifacts/$t/
  rm -rf "$work" "$art"
  mkdir -p "$work" "$art"
  cp "$seed"/* "$work"/ 2>/dev/null || true
  nseed=$(find "$seed" -type f | wc -l)
  echo "fuzz.sh: fuzzing $t for $seconds s" >&2
  dict=()
  case $t in derived_*) dict=(-dict=test/fuzz/derived.dict) ;; esac
  set +e
  # shellcheck disable=SC2046
  "$out/${t}_fuzz" "$work" -max_total_time="$seconds" $(options_of "$t") "${dict[@]}" \
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
  echo "| $t | $(date -u +%Y-%m-%d) | $seconds | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $nseed → $nend | $found |" >>"$rows"
done
# Rows of targets not fuzzed this time stay as they were.
if [ -f "$results" ]; then
  grep '^| [a-z_]* | [0-9-]* |' "$results" | while read -r row; do
    t=$(echo "$row" | awk '{print $2}')
    grep -q "^| $t |" "$rows" || echo "$row"
  done >>"$results.new"
fi
sort -t'|' -k2,2 "$rows" >>"$results.new"
rm -f "$rows"
# Hand-written notes (findings and their fixes) after "## History" are kept.
if [ -f "$results" ] && grep -q '^## History' "$results"; then
  { echo; sed -n '/^## History/,$p' "$results"; } >>"$results.new"
fi
mv "$results.new" "$results"
cat "$results"
