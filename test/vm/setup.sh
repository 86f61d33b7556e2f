#!/usr/bin/env bash
# Installs the host tools the VM lane needs, from Debian's archive, when they are missing:
#   qemu-system-x86  qemu-system-x86_64 (TCG; no KVM needed)
#   busybox-static   the guest's init and tools; must be the static build because the
#                    initramfs holds no shared libraries
#   cpio             packs the initramfs
# apt-get, apt-cache and dpkg-deb (kernel download and unpacking) come with every Debian.
# Idempotent and quiet when everything is there, so run-in-vm.sh calls it on every run.
set -euo pipefail

log() { printf 'jail-vm setup: %s\n' "$*" >&2; }
die() { printf 'jail-vm setup: ERROR: %s\n' "$*" >&2; exit 125; }

for tool in apt-get apt-cache dpkg-deb dpkg-query timeout flock; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found: the VM lane needs a Debian host (apt, dpkg, coreutils, util-linux)"
done

installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
# Debian's plain `busybox` package is dynamically linked and would not run in the initramfs.
installed busybox-static && [[ -x /bin/busybox ]] || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)

((${#need[@]} == 0)) && exit 0

[[ $EUID -eq 0 ]] ||
  die "missing packages: ${need[*]}; run as root, or install them first: apt-get install --no-install-recommends ${need[*]}"

log "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Bounded: a hung mirror must fail the lane, not stall CI until its global limit.
timeout 300 apt-get update -q >&2 || die "apt-get update failed or took over 5 min"
timeout 900 apt-get install -y -q --no-install-recommends "${need[@]}" >&2 ||
  die "apt-get install ${need[*]} failed or took over 15 min"

command -v qemu-system-x86_64 >/dev/null 2>&1 || die "qemu-system-x86_64 still missing after install"
installed busybox-static && [[ -x /bin/busybox ]] || die "/bin/busybox (busybox-static) still missing after install"
command -v cpio >/dev/null 2>&1 || die "cpio still missing after install"
log "installed ${need[*]}"
