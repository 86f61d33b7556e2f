#!/bin/busybox sh
# The guest's init, run by busybox from the initramfs that image.sh builds.
#
# Stage 1 (PID 1 in the initramfs): mount the host's root read-only over virtio-9p, put a
# tmpfs-backed overlay on top so the guest can write anywhere (writes vanish with the VM), mount
# proc/sys/dev and cgroup2 inside it, then switch_root into it. The guest then sees the host's
# files at their usual paths: node, /usr/lib, the project tree and its node_modules and build/.
#
# Stage 2 (PID 1 in the new root, from a copy of busybox in /run/jail-vm): lay out cgroups the
# way systemd does on a cgroup v2 host, run the command from the host's run directory, report its
# exit status, dump the kernel log, power off.
#
# Talking to the host (run-in-vm.sh): the kernel's console is the serial port (ttyS0), which the
# host only logs to a file. Once virtio_console is loaded, init sends everything it says, and
# the command's output, to the virtio serial port named jailvm.out, which the host streams.
# Lines starting with "@@JAIL_VM_" and carrying the per-run token from the kernel command line
# mark init's start, and the start and end (with the exit status) of the command's output.
# Anything else before the start marker is init's own chatter, which the host shows only on
# failure; errors from before the port exists go to the serial log, shown on failure too.
#
# Kernel command line (set by run-in-vm.sh):
#   jailvm.token=T    marker token
#   jailvm.run=DIR    host directory (visible at the same path in the guest) with cmd.sh
#   jailvm.cgroup=P   cgroup (below /sys/fs/cgroup) to run the command in; "-" for the root
#   jailvm.nomount=D  a comma-separated list of /run, /dev/shm not to cover with tmpfs
#   jailvm.timeout=S  the host's timeout; the guest powers itself off 30 s after it

BB=/bin/busybox

say() { echo "jail-vm init: $*"; }

# Any failure before the command runs: say why, and stop the VM. The host sees no start marker
# and fails loudly, showing these lines.
die() {
  echo "jail-vm init: ERROR: $*"
  # Also on the serial console, in case the virtio port is not there yet.
  [ ! -c /dev/console ] || echo "jail-vm init: ERROR: $*" >/dev/console
  poweroff_now
}

poweroff_now() {
  $BB sync 2>/dev/null
  $BB poweroff -f
  # If ACPI power-off did not work, sysrq; failing that, returning from PID 1 panics the kernel,
  # and panic=-1 with qemu's -no-reboot ends qemu.
  echo o >/proc/sysrq-trigger 2>/dev/null
  $BB sleep 5
  exit 1
}

# Reads the kernel command line as saved at the start of each stage (stage 1 moves /proc away).
cmdline_arg() {
  for arg in $CMDLINE; do
    case $arg in
      "$1"=*) echo "${arg#*=}"; return 0 ;;
    esac
  done
  return 1
}

stage1() {
  $BB mount -t proc -o nosuid,nodev,noexec proc /proc || die "mount /proc"
  $BB --install -s /bin || die "busybox --install"
  CMDLINE=$($BB cat /proc/cmdline)
  export PATH=/bin
  started=$(cut -d' ' -f1 /proc/uptime)
  token=$(cmdline_arg jailvm.token) || die "no jailvm.token= on the kernel command line"

  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || die "mount /sys"
  mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || die "mount /dev"

  while read -r m; do
    insmod "/lib/modules/$m.ko" || die "insmod $m.ko failed"
  done </lib/modules/load-order

  # A virtio serial port, not a virtio console: qemu drops console output its backend cannot
  # take at once, but holds a port's. A blocking write to the port returns once qemu has written
  # the data to the host file, so nothing is lost at power-off. Not a tty: no \r\n either.
  out=
  i=0
  while [ -z "$out" ]; do
    for p in /sys/class/virtio-ports/*; do
      [ "$(cat "$p/name" 2>/dev/null)" = jailvm.out ] && [ -c "/dev/${p##*/}" ] && out=/dev/${p##*/}
    done
    [ -n "$out" ] && break
    i=$((i + 1))
    [ $i -lt 50 ] || die "no virtio port named jailvm.out after loading virtio_console"
    sleep 0.1
  done
  exec >"$out" 2>&1 || die "cannot write to $out"
  # First line the host looks for: when the kernel started init (guest uptime).
  echo "@@JAIL_VM_INIT $token $started"

  # The 9p device is probed when virtio_pci and 9pnet_virtio load; give it a bounded moment.
  # msize: bigger messages, far fewer round trips for node's and vitest's file reads.
  # cache=loose: the share is read-only for the guest, so caching host files is safe enough
  # for one test run and saves many 9p round trips (each costly under TCG).
  i=0
  until mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /mnt/host 2>/run/9p.err; do
    i=$((i + 1))
    [ $i -lt 50 ] || die "cannot mount the host root over 9p (mount_tag hostroot): $(cat /run/9p.err)"
    sleep 0.1
  done

  mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || die "mount tmpfs for the overlay"
  mkdir -p /mnt/rw/upper /mnt/rw/work
  mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot ||
    die "mount overlay on the 9p host root"

  # Fresh kernel filesystems over the host's (which 9p would otherwise show as the host's).
  for d in proc sys dev; do
    mount --move "/$d" "/newroot/$d" || die "move /$d into the new root"
  done
  mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /newroot/sys/fs/cgroup ||
    die "mount cgroup2 on /sys/fs/cgroup"
  mkdir -p /newroot/dev/pts /newroot/dev/shm
  mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /newroot/dev/pts || die "mount /dev/pts"
  nomount=$(cmdline_arg jailvm.nomount || true)
  case ",$nomount," in *,/dev/shm,*) ;; *) mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /newroot/dev/shm || die "mount /dev/shm" ;; esac
  case ",$nomount," in *,/run,*) ;; *) mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /newroot/run || die "mount /run" ;; esac

  # Stage 2 runs from the new root, so it needs its own busybox there.
  mkdir -p /newroot/run/jail-vm/bin
  cp /bin/busybox /init /newroot/run/jail-vm/ || die "copy busybox into the new root"
  exec switch_root /newroot /run/jail-vm/busybox sh /run/jail-vm/init stage2
  die "switch_root failed"
}

stage2() {
  BB=/run/jail-vm/busybox
  $BB --install -s /run/jail-vm/bin || die "busybox --install in the new root"
  export PATH=/run/jail-vm/bin
  CMDLINE=$(cat /proc/cmdline)
  token=$(cmdline_arg jailvm.token)
  run=$(cmdline_arg jailvm.run) || die "no jailvm.run= on the kernel command line"
  cg=$(cmdline_arg jailvm.cgroup || echo system.slice/jail-vm.scope)
  [ -r "$run/cmd.sh" ] || die "$run/cmd.sh not readable through the 9p share"

  # Like a systemd host: mounts shared, loopback up, a hostname.
  mount --make-rshared /
  hostname jail-vm
  ip link set lo up 2>/dev/null || say "warning: cannot bring up lo"
  # A route out, to nowhere: pasta (a networked jail's link) wants an interface with a default
  # route to take its addresses from. A dummy interface drops what is sent; the guest has no
  # network and the tests send nothing out of it (their lab is test/integration/net, host only).
  { ip link add uplink0 type dummy && ip addr add 192.0.2.1/24 dev uplink0 && ip link set uplink0 up &&
    ip route add default via 192.0.2.254 dev uplink0; } 2>/dev/null || say "warning: cannot make the dummy uplink"

  cgroot=/sys/fs/cgroup
  controllers=$(cat $cgroot/cgroup.controllers)
  say "cgroup.controllers: $controllers"
  for c in cpu memory pids; do
    case " $controllers " in *" $c "*) ;; *) die "controller $c is not on cgroup v2 (cgroup_no_v1=all missing?)" ;; esac
  done

  # systemd keeps PID 1 in init.scope and services in leaves under system.slice, with controllers
  # enabled down to each leaf's parent. Running the command in such a leaf means code under test
  # meets what it meets on a real v2 host: a non-root cgroup that already holds processes, so it
  # must move itself into a leaf before enabling controllers for children.
  if [ "$cg" != - ]; then
    mkdir -p $cgroot/init.scope && echo $$ >$cgroot/init.scope/cgroup.procs || die "cannot move PID 1 into init.scope"
    path=$cgroot
    rest=$cg
    while [ -n "$rest" ]; do
      for c in $(cat "$path/cgroup.controllers"); do
        echo "+$c" >"$path/cgroup.subtree_control" 2>/dev/null || say "warning: cannot enable $c in $path"
      done
      part=${rest%%/*}
      [ "$part" = "$rest" ] && rest= || rest=${rest#*/}
      path=$path/$part
      mkdir -p "$path" || die "cannot create cgroup $path"
    done
    say "command cgroup: /$cg ($(cat "$path/cgroup.controllers"))"
  fi

  # Watchdog: should the host side vanish without killing qemu, the guest still powers itself
  # off a little after the host's own timeout.
  limit=$(cmdline_arg jailvm.timeout || echo 600)
  (sleep $((limit + 30)) && echo "jail-vm init: ERROR: guest watchdog: still running after $((limit + 30)) s" && poweroff_now) &

  # Printing to the serial console is synchronous and slow under TCG: a burst of kernel
  # messages (OOM reports from the tests) would stall the guest. Keep only emergencies there;
  # the log is dumped to the host after the end marker instead.
  echo 1 >/proc/sys/kernel/printk

  # The command writes into a pipe, so node and vitest see no tty and print plain CI-style
  # output instead of terminal redraws; cat forwards it to the port.
  mkfifo /run/jail-vm/out
  cat /run/jail-vm/out &
  catpid=$!
  echo "@@JAIL_VM_BEGIN $token $(cut -d' ' -f1 /proc/uptime)"
  if [ "$cg" != - ]; then
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$path" env -i /bin/bash "$run/cmd.sh" \
      </dev/null >/run/jail-vm/out 2>&1
  else
    env -i /bin/bash "$run/cmd.sh" </dev/null >/run/jail-vm/out 2>&1
  fi
  status=$?
  # Processes the command left behind still hold the pipe open: kill them so cat ends.
  if [ "$cg" != - ]; then
    echo 1 >"$path/cgroup.kill" 2>/dev/null
  fi
  i=0
  while kill -0 $catpid 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  kill -9 -1 2>/dev/null
  wait $catpid 2>/dev/null
  echo "@@JAIL_VM_END $token $status $(cut -d' ' -f1 /proc/uptime)"
  dmesg | tail -n 300
  poweroff_now
}

case ${1:-} in
  stage2) stage2 ;;
  *) stage1 ;;
esac
