#!/usr/bin/env bash
# Installs every system package ostree-container needs to build, test and benchmark.
# Debian/Ubuntu (apt) and Fedora/CentOS (dnf) names are kept side by side.
set -euo pipefail

apt_pkgs=(
  pkg-config libostree-dev libglib2.0-dev ostree   # libostree + headers + CLI checker
  zlib1g-dev libzstd-dev libdeflate-dev libssl-dev # compressors + sha256 the addon links
  skopeo docker-registry                           # image proxy, test registry
  gnupg attr e2fsprogs util-linux                  # signing keys, xattrs, chattr, flock
  openssl                                          # test registry's self-signed TLS certificate
  ima-evm-utils                                    # evmctl: ima-sign
  pigz zstd time                                   # reference C tools for bench/
  g++ make python3                                 # node-gyp's toolchain for the addon
  debootstrap                                      # scripts/test-matrix.sh: the suite on other Debian releases
  bsdutils                                         # script(1): a terminal for the progress-bar test
  clang libclang-rt-dev                            # libFuzzer + ASan/UBSan runtimes (scripts/fuzz.sh)
  libasan8 libubsan1                               # sanitizer runtimes for npm run test:asan
  rpm sqlite3 db5.3-util dpkg                      # real rpm (rpmbuild) and dpkg databases for the automatic-chunking tests
)
dnf_pkgs=(
  pkgconf-pkg-config ostree-devel glib2-devel ostree
  zlib-devel libzstd-devel libdeflate-devel openssl-devel
  skopeo docker-distribution
  gnupg2 attr e2fsprogs util-linux
  openssl
  ima-evm-utils
  pigz zstd time
  gcc-c++ make python3
  debootstrap
  util-linux-script
  clang compiler-rt
  libasan libubsan
  rpm-build sqlite libdb-utils dpkg
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${apt_pkgs[@]}"
elif command -v dnf >/dev/null 2>&1; then
  "${sudo_cmd[@]}" dnf install -y "${dnf_pkgs[@]}"
else
  echo "install-deps.sh: neither apt-get nor dnf found; install by hand: ${apt_pkgs[*]}" >&2
  exit 1
fi
