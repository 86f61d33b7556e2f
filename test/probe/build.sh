#!/bin/sh
# Builds the static probe into test/probe/bin/probe when it is missing or older
# than probe.c (or this script), then prints its absolute path on stdout.
# Usage: test/probe/build.sh [--force]      CC overrides the compiler (default cc).
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
src="$dir/probe.c"
out="$dir/bin/probe"
cc=${CC:-cc}

if [ "${1:-}" != "--force" ] && [ -x "$out" ] && [ ! "$src" -nt "$out" ] && [ ! "$0" -nt "$out" ]; then
	echo "$out"
	exit 0
fi

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "probe/build.sh: C compiler '$cc' not found; install gcc (Debian: apt-get install gcc libc6-dev) or set CC" >&2
	exit 1
fi
libc=$("$cc" -print-file-name=libc.a 2>/dev/null || true)
case "$libc" in
/*) [ -f "$libc" ] || libc= ;;
*) libc= ;;
esac
if [ -z "$libc" ]; then
	echo "probe/build.sh: static glibc (libc.a) not found for '$cc'; install it (Debian: apt-get install libc6-dev)" >&2
	exit 1
fi

mkdir -p "$dir/bin"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT INT TERM
if ! "$cc" -static -O2 -Wall -Wextra -o "$tmp" "$src"; then
	echo "probe/build.sh: compiling $src failed (see the compiler output above)" >&2
	exit 1
fi
mv -f "$tmp" "$out" # atomic: concurrent builds never see a half-written file
trap - EXIT INT TERM
echo "$out"
