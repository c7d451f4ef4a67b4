#!/usr/bin/env bash
# Runs the test suite on another Debian release in a chroot: `scripts/test-matrix.sh trixie [FILE…]`
# (FILEs: test files to run instead of the whole suite, as `npm test -- FILE…`).
#
# The chroot is made once with debootstrap (from the mirror the host's apt uses) and cached under
# $OSTREE_CONTAINER_MATRIX_CACHE (default /var/cache/ostree-container-matrix/<dist>); system packages
# come from the same scripts/install-deps.sh, Node and its headers from the distribution's own
# nodejs/npm/libnode-dev. The checkout (without node_modules, build, lib, prebuilds) is copied in and
# `npm ci && npm test` runs there as root. The host's own package (`npm pack`, its prebuild compiled
# against the host's libostree) goes in too, for test/integration/package-install.test.ts to install
# there: a prebuild must follow the libostree it runs with. Ends with the suite's "N passed, N failed" line; the exit
# status is the suite's.
set -euo pipefail

dist=${1:?usage: scripts/test-matrix.sh <debian-codename, e.g. trixie> [test files…]}
shift
src=$(cd "$(dirname "$0")/.." && pwd)
cache=${OSTREE_CONTAINER_MATRIX_CACHE:-/var/cache/ostree-container-matrix}
root=$cache/$dist

if [ "$(id -u)" -ne 0 ]; then
  echo "test-matrix.sh: must run as root (debootstrap, chroot, mounts)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "test-matrix.sh: debootstrap missing; run scripts/install-deps.sh" >&2; exit 1; }

mkdir -p "$cache"
# One run per chroot at a time: a second run waits instead of sharing mounts and the work tree.
exec 9>"$cache/$dist.lock"
flock 9

# Mounts a killed run (kill -9) left behind, deepest first; we hold the lock, so they are unused.
stale_mounts() { awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r; }
for m in $(stale_mounts); do umount -l "$m"; done

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || echo "test-matrix.sh: could not unmount ${mounts[i]}" >&2
  done
  mounts=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mnt() { # mnt <target> <mount args...>
  local target=$root$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounts+=("$target")
}
mount_all() {
  # The root a mount point of its own, as on a real system: containers-storage's layer apply and
  # `unshare --mount` change the propagation of "/", which fails on a plain directory.
  mnt / --bind "$root"
  mount --make-private "$root"
  mnt /proc -t proc proc
  mnt /sys -t sysfs sysfs
  # Private, so the mounts below it do not propagate to the host's /dev (systemd makes / shared).
  mnt /dev --bind /dev
  mount --make-private "$root/dev"
  mnt /dev/pts -t devpts -o newinstance,ptmxmode=0666 devpts
  mnt /dev/shm -t tmpfs tmpfs
  mnt /run -t tmpfs tmpfs
}
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

if [ ! -e "$root/.debootstrap-done" ]; then
  mirror=$("$src/scripts/debian-mirror.sh")
  echo "test-matrix.sh: debootstrap $dist from $mirror into $root"
  [ -z "$(stale_mounts)" ] || { echo "test-matrix.sh: still mounted under $root" >&2; exit 1; }
  rm -rf "$root"
  debootstrap --variant=minbase --include=ca-certificates "$dist" "$root" "$mirror"
  touch "$root/.debootstrap-done"
fi

# The host's CA bundle (a proxy's CA may be in it) and npm settings, so npm works as on the host.
ca=/etc/ssl/certs/ca-certificates.crt
mkdir -p "$root/etc/ssl/certs"
[ -f "$ca" ] && cp "$ca" "$root/etc/ssl/host-ca-certificates.crt"
{
  [ -f "$HOME/.npmrc" ] && grep -v -E '^(cafile|prefix|cache)[[:space:]]*=' "$HOME/.npmrc"
  echo "cafile=/etc/ssl/host-ca-certificates.crt"
} >"$root/root/.npmrc"

mount_all

# System packages: Node 20 + headers from the distribution, the rest through install-deps.sh.
# Redone only when install-deps.sh changes.
deps_stamp=$(sha256sum "$src/scripts/install-deps.sh" "$0" | sha256sum | cut -c1-16)
if [ "$(cat "$root/.deps-done" 2>/dev/null)" != "$deps_stamp" ]; then
  cp "$src/scripts/install-deps.sh" "$root/tmp/install-deps.sh"
  in_root apt-get update -q
  in_root apt-get install -y -q --no-install-recommends nodejs npm libnode-dev
  in_root bash /tmp/install-deps.sh
  echo "$deps_stamp" >"$root/.deps-done"
fi
echo "test-matrix.sh: $dist: node $(in_root node --version), $(in_root skopeo --version), libostree $(in_root pkg-config --modversion ostree-1)"

# The checkout as it is on disk (uncommitted edits included), without build products.
work=/root/ostree-container
rm -rf "$root$work"
mkdir -p "$root$work"
tar -C "$src" --exclude=./node_modules --exclude=./build --exclude=./lib --exclude=./.git \
  --exclude='./prebuilds/*' -cf - . | tar -C "$root$work" -xf -

# The host's package as a user gets it (prepack builds lib/ here; the prebuild is made if stale).
[ -d "$src/node_modules" ] || { echo "test-matrix.sh: run npm ci on the host first (npm pack needs its devDependencies)" >&2; exit 1; }
rm -rf "$root/root/host-pack"
mkdir -p "$root/root/host-pack"
(cd "$src" && node scripts/prebuild-if-stale.mjs && npm pack --silent --pack-destination "$root/root/host-pack" >/dev/null)
host_pack=$(cd "$root/root/host-pack" && ls -- *.tgz)
host_libostree=$(pkg-config --modversion ostree-1)
echo "test-matrix.sh: host package $host_pack (prebuild built against libostree $host_libostree)"

tests=""
for t in "$@"; do tests="$tests '${t//\'/\'\\\'\'}'"; done
status=0
in_root NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca-certificates.crt OSTREE_CONTAINER_PACK="/root/host-pack/$host_pack" \
  OSTREE_CONTAINER_PACK_LIBOSTREE="$host_libostree" sh -c "cd $work && npm ci && npm test${tests:+ --$tests}" \
  2>&1 | tee "$cache/$dist.log" || status=$?
echo "test-matrix.sh: $dist finished with status $status; its suite:"
grep -E '^[0-9]+ passed, [0-9]+ failed$' "$cache/$dist.log" | tail -n1 || echo "0 passed, 1 failed (no summary line: npm ci or the run failed)"
exit "$status"
