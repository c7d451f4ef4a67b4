// Only under scripts/test-asan.sh (vitest.config.ts adds this file when OSTREE_CONTAINER_ASAN is
// set): the ASan runtime is preloaded into the test process, and programs the tests start must
// not inherit it — GPGME's gpg under ASan never answers, so in-process signing hangs. The preload
// moves to OSTREE_CONTAINER_ASAN_PRELOAD, which test/helpers/native-child.ts hands on to the node
// children that load the sanitized addon on purpose.
const preload = process.env.LD_PRELOAD;
if (preload) {
  process.env.OSTREE_CONTAINER_ASAN_PRELOAD = preload;
  delete process.env.LD_PRELOAD;
}
