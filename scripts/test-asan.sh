#!/usr/bin/env bash
# Runs the native-heavy tests against an AddressSanitizer + UndefinedBehaviorSanitizer build of
# the addon. The sanitized addon is built into build-asan/ (build/Release, which the normal
# tests use, is left alone) and selected through node-gyp-build's OSTREE_CONTAINER_PREBUILD.
# Node itself is not instrumented, so the ASan runtime is preloaded (only it: with libubsan
# preloaded as well, uninstrumented children such as `ostree init` hang at start-up; the addon
# pulls libubsan in when it is loaded); leak detection is off
# because node never frees its heap at exit (ASan would report V8, not us). Any ASan report or
# UB finding aborts the process, which fails the test that caused it.
#   usage: scripts/test-asan.sh [vitest file ...]   (default: the native-heavy files below)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stage=$root/build-asan

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(
    test/integration/misuse.test.ts
    test/integration/repo.test.ts test/integration/repo-objects.test.ts test/integration/repo-checkout.test.ts
    test/integration/tar-import.test.ts test/integration/tar-export.test.ts test/integration/tar-bad-input.test.ts
    test/integration/tar-detached.test.ts test/integration/disk-full.test.ts
    test/integration/scheduler.test.ts test/integration/repo-sharing.test.ts test/integration/outcomes.test.ts
    test/integration/auto-chunking.test.ts
    test/integration/no-silent-loss.test.ts test/integration/thread-bounds.test.ts
    test/integration/store-derived.test.ts test/integration/store-derived-hardlinks.test.ts
    test/integration/store-derived-sparse.test.ts test/integration/store-derived-fuzz.test.ts
    test/integration/store-native.test.ts
    test/unit/proxy-seqpacket.test.ts test/unit/tar-api.test.ts test/unit/variant.test.ts
    test/integration/blob-streams.test.ts test/integration/journal.test.ts
  )
fi

asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
  [ -e "$lib" ] || { echo "test-asan: $lib not found (install libasan/libubsan: scripts/install-deps.sh)" >&2; exit 1; }
done
# the shared object itself (libasan.so is a symlink to it)
asan=$(readlink -f "$asan")

# A node-gyp project root of its own: build-asan/{binding.gyp,native,node_modules,package.json}
# point at the real ones, and node-gyp writes build-asan/build/.
mkdir -p "$stage"
for f in binding.gyp native node_modules package.json; do ln -sfn "$root/$f" "$stage/$f"; done
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
(
  cd "$stage"
  export CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined"
  gyp=$root/node_modules/.bin/node-gyp
  flock /tmp/ostree-container-build.lock sh -c \
    "'$gyp' configure --nodedir=/usr && '$gyp' build --nodedir=/usr -j 2" >/dev/null
)
nm -D "$stage/build/Release/ostree_container.node" | grep __asan_init >/dev/null || {  # no -q: with pipefail, nm would die of SIGPIPE
  echo "test-asan: build-asan/build/Release/ostree_container.node is not instrumented" >&2
  exit 1
}

npm run build:ts >/dev/null
export OSTREE_CONTAINER_PREBUILD=$stage
export LD_PRELOAD="$asan"
export OSTREE_CONTAINER_ASAN=1  # vitest.config.ts: test/helpers/asan-env.ts keeps it from children
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:suppressions=$root/scripts/asan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$root/scripts/ubsan.supp
# Programs the tests start do not get the preload (test/helpers/asan-env.ts); node children
# that load the sanitized addon get it back from test/helpers/native-child.ts.
exec npx vitest run "${files[@]}"
