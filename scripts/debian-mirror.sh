#!/usr/bin/env bash
# Prints the Debian mirror the host's apt uses (this machine may reach only that one), or
# deb.debian.org when apt names none. With --security, the debian-security archive instead.
# Used by scripts/test-matrix.sh and bench/debian-tree.js, bench/debian-updates.js.
set -euo pipefail
archive=debian
[ "${1:-}" = --security ] && archive=debian-security
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(sed -n -E "s,^(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?|URIs:[[:space:]]*)(https?://[^[:space:]]+/$archive)/?([[:space:]].*)?\$,\3,p" "$f" | head -n1)
  if [ -n "$uri" ]; then echo "$uri"; exit 0; fi
done
echo "http://deb.debian.org/$archive"
