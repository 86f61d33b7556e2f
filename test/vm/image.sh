#!/usr/bin/env bash
# Prepares the guest for run-in-vm.sh and prints the directory that holds it:
#   vmlinuz            Debian's stock kernel (the package linux-image-amd64 depends on)
#   initramfs.cpio     busybox-static, the modules for virtio-9p and overlayfs, and init.sh
# Both are cached under $JAIL_VM_CACHE (default: <project>/.vm, git-ignored), one directory per
# kernel package, and rebuilt when missing or when an input (init.sh, this script, busybox)
# changes. Only the kernel and the few modules are kept; the unpacked package is thrown away.
#
# Environment:
#   JAIL_VM_CACHE       cache directory (default <project>/.vm)
#   JAIL_VM_KERNEL_PKG  kernel package to use instead of linux-image-amd64's dependency
set -Eeuo pipefail
# set -e alone would end the script silently; say where (die's own status 125 has said why).
trap 'rc=$?; ((rc == 125)) || printf "jail-vm image: ERROR: unexpected failure (status %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
project=$(cd "$here/../.." && pwd -P)
cache=${JAIL_VM_CACHE:-$project/.vm}

log() { printf 'jail-vm image: %s\n' "$*" >&2; }
die() { printf 'jail-vm image: ERROR: %s\n' "$*" >&2; exit 125; }

# What the guest init needs: virtio-9p to mount the host, overlay to make it writable, and
# virtio_console for the fast channel that carries the command's output (the emulated serial
# port manages only ~35 KB/s under TCG). Their dependencies (virtio, virtio_ring, 9pnet, netfs,
# fscache, ...) are found below. tun and dummy: a networked jail's link (pasta opens
# /dev/net/tun) needs the tun device and a route out, which a dummy interface gives (init.sh).
WANTED_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p overlay tun dummy)

mkdir -p "$cache"
# Two runs at once (a developer and CI, or parallel lanes) must not build into the same place.
exec {lock_fd}>"$cache/.lock"
flock -w 900 "$lock_fd" || die "another run has held $cache/.lock for 15 min"

tmp=
cleanup() { [[ -z $tmp ]] || rm -rf "$tmp"; }
trap cleanup EXIT

# The concrete kernel package, e.g. linux-image-6.1.0-56-amd64. Resolved through apt every time
# (a local look-up) so a kernel update in the archive is picked up; the package lists are
# fetched only when apt knows nothing yet (a fresh machine).
depends_of_meta() {
  # No early exit in the pipeline (head, sed q): with pipefail that turns into SIGPIPE failures.
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '!found && $1 ~ /^[|]?Depends:$/ && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; found = 1 }' || true
}

kernel_pkg() {
  if [[ -n ${JAIL_VM_KERNEL_PKG:-} ]]; then
    printf '%s\n' "$JAIL_VM_KERNEL_PKG"
    return
  fi
  local pkg
  # apt-cache takes 1-2 s just to load its cache; its answer can only change when the package
  # lists do (apt-get update replaces files in /var/lib/apt/lists, bumping its mtime).
  if [[ -s $cache/kernel-pkg && $cache/kernel-pkg -nt /var/lib/apt/lists ]]; then
    pkg=$(cat "$cache/kernel-pkg")
    if [[ -s $cache/$pkg/vmlinuz ]]; then
      printf '%s\n' "$pkg"
      return
    fi
  fi
  pkg=$(depends_of_meta)
  if [[ -z $pkg && $EUID -eq 0 ]]; then
    log "apt knows no linux-image-amd64; running apt-get update"
    timeout 300 apt-get update -q >&2 || log "apt-get update failed"
    pkg=$(depends_of_meta)
  fi
  if [[ -z $pkg ]]; then
    # Offline but with a cache from an earlier run: use the newest cached kernel.
    pkg=$(find "$cache" -mindepth 2 -maxdepth 2 -name vmlinuz -path '*/linux-image-*' 2>/dev/null |
      sed 's|.*/\(linux-image-[^/]*\)/vmlinuz$|\1|' | sort -V | tail -n 1 || true)
    [[ -n $pkg ]] && log "cannot resolve linux-image-amd64 through apt; using cached $pkg"
  fi
  [[ -z $pkg ]] || printf '%s\n' "$pkg" >"$cache/kernel-pkg"
  [[ -n $pkg ]] || die "cannot find the kernel package: 'apt-cache depends linux-image-amd64' names no linux-image-*-amd64 (is this Debian, and did apt-get update work?)"
  printf '%s\n' "$pkg"
}

pkg=$(kernel_pkg)
[[ $pkg =~ ^[A-Za-z0-9.+-]+$ ]] || die "odd kernel package name '$pkg'"
dir=$cache/$pkg

# modinfo/depmod (kmod) may not be installed, and the package ships no modules.dep (depmod
# writes it at install time), so dependencies are read straight from each module's .modinfo
# section: NUL-separated key=value strings, one of them "depends=a,b,c".
module_depends() {
  tr '\0' '\n' <"$1" | awk -F= '!found && $1 == "depends" { print $2; found = 1 }' | tr ',' ' '
}

# Under TCG the bzImage's own decompressor takes ~2.5 s of emulated CPU before the kernel even
# starts. With CONFIG_PVH=y qemu can instead boot the uncompressed ELF vmlinux directly (PVH
# entry point), so decompress it once here. Any failure just leaves vmlinuz as the boot image.
extract_vmlinux() {
  local bz=$1 config=$2 out=$3 magic off
  grep -q '^CONFIG_PVH=y' "$config" 2>/dev/null || { log "kernel has no PVH entry; booting the bzImage"; return 0; }
  # Payload formats by magic: xz (Debian 12), zstd, gzip.
  for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -qdc' '\x1f\x8b\x08:gzip -dc'; do
    off=$(LC_ALL=C grep -obUaP "${magic%%:*}" "$bz" 2>/dev/null | awk -F: 'NR == 1 { print $1 }' || true)
    [[ -n $off ]] || continue
    # A decompressor also complains about the bytes after its stream; the ELF check below decides.
    tail -c +$((off + 1)) "$bz" | ${magic#*:} >"$out/vmlinux" 2>/dev/null || true
    if [[ $(head -c 4 "$out/vmlinux" | od -An -c | tr -d ' ') == 177ELF ]]; then
      return 0
    fi
  done
  rm -f "$out/vmlinux"
  log "could not extract vmlinux from $bz; booting the bzImage (about 2.5 s slower under TCG)"
}

# Unpacks the kernel package once per package version: vmlinuz plus the wanted modules,
# decompressed (busybox insmod reads plain .ko only) and listed in load order.
fetch_kernel() {
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  log "downloading $pkg"
  # APT::Sandbox::User=root: the _apt user could not write into this root-owned directory.
  (cd "$tmp" && timeout 600 apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
    die "could not download kernel package $pkg (apt-get download failed or took over 10 min)"
  local deb
  deb=$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)
  [[ -n $deb ]] || die "apt-get download $pkg produced no .deb"
  dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"

  local vmlinuz moddir
  vmlinuz=$(find "$tmp/root/boot" -maxdepth 1 -name 'vmlinuz-*' -print -quit 2>/dev/null || true)
  [[ -n $vmlinuz ]] || die "$pkg has no /boot/vmlinuz-*"
  # Debian 12 ships /lib/modules; later releases /usr/lib/modules.
  moddir=$(find "$tmp/root/lib/modules" "$tmp/root/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d -print -quit 2>/dev/null || true)
  [[ -n $moddir ]] || die "$pkg has no /lib/modules/<version>"

  # Module name -> file. Module names use '_' where file names may use '-'.
  local -A file_of=()
  local f name
  while IFS= read -r -d '' f; do
    name=${f##*/} # no basename: thousands of forks here took over a minute on a busy machine
    name=${name%%.ko*}
    file_of[${name//-/_}]=$f
  done < <(find "$moddir/kernel" -name '*.ko*' -print0)

  mkdir -p "$tmp/out/modules"
  local -A done_=()
  local order=()
  # Depth-first: a module's dependencies are appended before it, so load-order can be insmod'ed
  # top to bottom.
  add_module() {
    local m=$1 src dst dep
    [[ -n ${done_[$m]:-} ]] && return 0
    done_[$m]=1
    src=${file_of[$m]:-}
    if [[ -z $src ]]; then
      # Built into the kernel (modules.builtin lists it): nothing to load.
      grep -q "/${m//_/[_-]}\.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
      die "module $m is neither in $pkg nor built in"
    fi
    dst=$tmp/out/modules/$m.ko
    case $src in
      *.ko) cp "$src" "$dst" ;;
      *.ko.xz) xz -dc "$src" >"$dst" || die "cannot decompress $src (xz-utils installed?)" ;;
      *.ko.zst) zstd -qdc "$src" >"$dst" || die "cannot decompress $src (zstd installed?)" ;;
      *.ko.gz) gzip -dc "$src" >"$dst" || die "cannot decompress $src" ;;
      *) die "unknown module format $src" ;;
    esac
    for dep in $(module_depends "$dst"); do
      add_module "$dep"
    done
    order+=("$m")
  }
  local m
  for m in "${WANTED_MODULES[@]}"; do
    add_module "$m"
  done
  printf '%s\n' "${order[@]}" >"$tmp/out/modules/load-order"
  printf '%s\n' "${WANTED_MODULES[*]}" >"$tmp/out/modules/wanted"
  cp "$vmlinuz" "$tmp/out/vmlinuz"
  extract_vmlinux "$tmp/out/vmlinuz" "$(find "$tmp/root/boot" -maxdepth 1 -name 'config-*' -print -quit)" "$tmp/out"
  basename "$moddir" >"$tmp/out/kernel-release"
  rm -rf "$dir"
  mv "$tmp/out" "$dir"
  rm -rf "$tmp"
  tmp=
  log "kernel $(cat "$dir/kernel-release") cached in $dir (modules: ${order[*]})"
}

[[ -s $dir/vmlinuz && -s $dir/modules/load-order &&
  $(cat "$dir/modules/wanted" 2>/dev/null) == "${WANTED_MODULES[*]}" ]] || fetch_kernel

# The initramfs depends on these inputs; a change to any of them rebuilds it.
busybox=/bin/busybox
[[ -x $busybox ]] || die "$busybox missing (apt-get install busybox-static)"
stamp=$(cat "$here/init.sh" "$here/image.sh" "$busybox" "$dir/modules/load-order" | sha256sum | cut -d' ' -f1)

if [[ ! -s $dir/initramfs.cpio || $(cat "$dir/initramfs.stamp" 2>/dev/null) != "$stamp" ]]; then
  command -v cpio >/dev/null 2>&1 || die "cpio missing (apt-get install cpio)"
  tmp=$(mktemp -d "$cache/.initramfs.XXXXXX")
  root=$tmp/root
  mkdir -p "$root"/{bin,dev,proc,sys,run,newroot,mnt/host,mnt/rw,lib/modules}
  cp "$busybox" "$root/bin/busybox"
  cp "$here/init.sh" "$root/init"
  chmod 0755 "$root/init" "$root/bin/busybox"
  cp "$dir"/modules/* "$root/lib/modules/"
  # The kernel opens /dev/console for init's stdio before init runs. Debian's kernel has a
  # built-in initramfs with that node too, so this is belt and braces (and needs root).
  [[ $EUID -ne 0 ]] || mknod -m 0600 "$root/dev/console" c 5 1
  # Uncompressed: a few MB, and decompressing under TCG would only cost boot time.
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) \
    >"$tmp/initramfs.cpio" || die "cpio failed"
  mv "$tmp/initramfs.cpio" "$dir/initramfs.cpio"
  printf '%s\n' "$stamp" >"$dir/initramfs.stamp"
  rm -rf "$tmp"
  tmp=
  log "initramfs built: $dir/initramfs.cpio ($(du -k "$dir/initramfs.cpio" | cut -f1) KiB)"
fi

printf '%s\n' "$dir"
