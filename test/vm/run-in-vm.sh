#!/usr/bin/env bash
# Runs a command inside a throw-away VM whose every cgroup controller is on cgroup v2, and exits
# with the command's exit status. The host this project is developed on has its controllers on
# cgroup v1; most users' hosts are v2, so the v2 code paths are tested here.
#
#   test/vm/run-in-vm.sh [options] [--] CMD [ARG...]
#
# How: qemu-system-x86_64 under TCG (software emulation: nested KVM hangs guests on this host)
# boots Debian's stock kernel with cgroup_no_v1=all and a busybox initramfs (image.sh, init.sh).
# The guest sees the host's whole filesystem read-only over virtio-9p at the same paths, with a
# tmpfs overlay on top so it can write anywhere (writes are lost when it ends). So the command
# finds node, the project tree, its node_modules and build/ where they are on the host, and runs
# in the caller's current directory, as root, with stdin from /dev/null. Its stdout and stderr
# (merged) are streamed to this script's stdout over a virtio serial port; boot messages (kernel
# console on the serial port, init's own lines) go to stderr only with --verbose or when
# something fails.
#
# Exit status: the command's; 124 when a timeout expired; 125 when the VM could not be set up
# or booted, or ended without reporting a status (each with a message on stderr); 2 for bad usage.
#
# Options (each also settable through the environment variable shown):
#   --timeout SECONDS   JAIL_VM_TIMEOUT       limit for the whole VM run (default 600)
#   --boot-timeout S    JAIL_VM_BOOT_TIMEOUT  limit for reaching the command (default 120)
#   --mem MB            JAIL_VM_MEM           guest memory (default 2048)
#   --smp N             JAIL_VM_SMP           guest CPUs (default 2)
#   --cgroup PATH       JAIL_VM_CGROUP        cgroup below /sys/fs/cgroup the command runs in,
#                                             set up like systemd would (default
#                                             system.slice/jail-vm.scope); "-" = root cgroup
#   --verbose           JAIL_VM_VERBOSE=1     show the boot console and qemu's messages
# Environment only:
#   JAIL_VM_ENV         names of extra variables to pass into the guest (PATH, HOME, LANG,
#                       LC_ALL, TZ, CI, NODE_OPTIONS, NO_COLOR and FORCE_COLOR always are;
#                       JAIL_VM=1 is set)
#   JAIL_VM_APPEND      extra kernel command-line arguments
#   JAIL_VM_KERNEL      boot this kernel image instead of the cached Debian one
#   JAIL_VM_KERNEL_PKG  Debian kernel package to use (default: what linux-image-amd64 depends on)
#   JAIL_VM_CACHE       cache for kernel and initramfs (default <project>/.vm); the last run's
#                       logs are kept there: last-console.log (init and command, then the
#                       guest's dmesg) and last-serial.log (kernel console)
set -Eeuo pipefail
# set -e alone would end the script silently; say where (die's own status 125 has said why).
trap 'rc=$?; ((rc == 125)) || printf "jail-vm: ERROR: unexpected failure (status %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
project=$(cd "$here/../.." && pwd -P)
cache=${JAIL_VM_CACHE:-$project/.vm}

log() { printf 'jail-vm: %s\n' "$*" >&2; }
die() {
  printf 'jail-vm: ERROR: %s\n' "$*" >&2
  exit 125
}
usage() { sed -n '/^#   test\/vm/,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" || true; }

timeout_s=${JAIL_VM_TIMEOUT:-600}
boot_timeout_s=${JAIL_VM_BOOT_TIMEOUT:-120}
mem=${JAIL_VM_MEM:-2048}
smp=${JAIL_VM_SMP:-2}
cgroup=${JAIL_VM_CGROUP:-system.slice/jail-vm.scope}
verbose=${JAIL_VM_VERBOSE:-0}

while (($#)); do
  case $1 in
    --timeout) timeout_s=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --boot-timeout) boot_timeout_s=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --boot-timeout=*) boot_timeout_s=${1#*=}; shift ;;
    --mem) mem=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --mem=*) mem=${1#*=}; shift ;;
    --smp) smp=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --smp=*) smp=${1#*=}; shift ;;
    --cgroup) cgroup=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --cgroup=*) cgroup=${1#*=}; shift ;;
    -v | --verbose) verbose=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) printf 'jail-vm: unknown option %s\n' "$1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
if (($# == 0)); then
  printf 'jail-vm: no command given\n' >&2
  usage >&2
  exit 2
fi
for n in timeout_s boot_timeout_s mem smp; do
  [[ ${!n} =~ ^[1-9][0-9]*$ ]] || { printf 'jail-vm: %s must be a positive integer, got "%s"\n' "$n" "${!n}" >&2; exit 2; }
done
[[ $verbose == 1 ]] || verbose=0
cgroup=${cgroup#/}
[[ $cgroup == - || $cgroup =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]] ||
  { printf 'jail-vm: --cgroup "%s": use a relative path of plain names, or -\n' "$cgroup" >&2; exit 2; }

"$here/setup.sh"
img=$("$here/image.sh") || exit 125
# The uncompressed vmlinux (PVH boot) when image.sh could extract it: boots ~2.5 s faster.
if [[ -n ${JAIL_VM_KERNEL:-} ]]; then
  kernel=$JAIL_VM_KERNEL
elif [[ -s $img/vmlinux ]]; then
  kernel=$img/vmlinux
else
  kernel=$img/vmlinuz
fi
initrd=$img/initramfs.cpio
[[ -r $kernel ]] || die "kernel image $kernel not readable"
[[ -r $initrd ]] || die "initramfs $initrd not readable"

# The run directory holds the command for the guest, which reads it through the 9p share at the
# same path; the kernel command line carries that path, so keep it free of spaces and quotes.
tmpbase=${TMPDIR:-/tmp}
[[ $tmpbase =~ ^[A-Za-z0-9._/-]+$ && -d $tmpbase ]] || tmpbase=/tmp
run=$(mktemp -d "$tmpbase/jail-vm.XXXXXX")
run=$(cd "$run" && pwd -P)
qemu_pid=
filter_pid=
# kill -0 also succeeds on a zombie; and tail --pid (below) keeps following until qemu is reaped.
qemu_alive() {
  local st=
  { read -r _ _ st _ <"/proc/$qemu_pid/stat"; } 2>/dev/null || return 1
  [[ $st != Z ]]
}
cleanup() {
  # Never leave a VM behind: TERM, then KILL if qemu has not gone within 3 s; then reap it.
  if [[ -n $qemu_pid ]]; then
    if qemu_alive; then
      kill -TERM "$qemu_pid" 2>/dev/null || true
      for _ in {1..30}; do
        qemu_alive || break
        sleep 0.1
      done
      kill -KILL "$qemu_pid" 2>/dev/null || true
    fi
    wait "$qemu_pid" 2>/dev/null || true
  fi
  # awk ends on its own at EOF once qemu is gone; this is for the paths that did not wait.
  [[ -z $filter_pid ]] || kill "$filter_pid" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'log "hangup"; exit 129' HUP

token=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

# The command as a bash script, run in the guest by the host's own bash (visible through 9p).
{
  echo '# written by test/vm/run-in-vm.sh'
  for var in PATH HOME LANG LC_ALL TZ CI NODE_OPTIONS NO_COLOR FORCE_COLOR ${JAIL_VM_ENV:-}; do
    [[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "JAIL_VM_ENV: '$var' is not a variable name"
    [[ -v $var ]] && printf 'export %s=%q\n' "$var" "${!var}"
  done
  echo 'export JAIL_VM=1 TERM=dumb'
  printf 'cd -- %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$run/cmd.sh"

# tmpfs on the guest's /run and /dev/shm would hide the working directory if it lives there.
nomount=
for d in /run /dev/shm; do
  case "$PWD/" in "$d"/*) nomount+=${nomount:+,}$d ;; esac
done

append="console=ttyS0 cgroup_no_v1=all panic=-1 mitigations=off rdinit=/init"
append+=" jailvm.token=$token jailvm.run=$run jailvm.cgroup=$cgroup jailvm.timeout=$timeout_s"
[[ -z $nomount ]] || append+=" jailvm.nomount=$nomount"
((verbose)) || append+=" quiet"
append+=" ${JAIL_VM_APPEND:-}"

qemu=(
  qemu-system-x86_64 -name jail-vm
  -accel tcg,thread=multi -machine pc -cpu max -smp "$smp" -m "$mem"
  -nodefaults -no-user-config -display none -no-reboot
  # Kernel console: the emulated serial port, to a file (shown on failure or with --verbose).
  -serial "file:$run/serial.log"
  # Init's messages and the command's output: a virtio serial port (not a virtconsole, whose
  # data qemu may drop) into a regular file, followed below. A file, not a pipe: qemu's writes
  # to it always complete, so a guest write returns only once its data is on the host, and
  # nothing is lost when the guest powers off right after.
  -device virtio-serial-pci -chardev "file,id=out,path=$run/console.out"
  -device virtserialport,chardev=out,name=jailvm.out
  -kernel "$kernel" -initrd "$initrd" -append "$append"
  # The host root, read-only; multidevs=remap keeps inode numbers unique across host mounts.
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
)

console_log=$run/console.log
events=$run/events
: >"$console_log"
: >"$events"
: >"$run/console.out"
((verbose)) && log "${qemu[*]}"
started=${EPOCHREALTIME/./}
# setpriv --pdeathsig: should this script be SIGKILLed (no trap runs), the kernel kills qemu too.
pdeath=()
[[ $(setpriv --help 2>/dev/null || true) != *--pdeathsig* ]] || pdeath=(setpriv --pdeathsig KILL --)
# stdin from /dev/null: qemu must not grab the terminal (or read CI's missing stdin).
"${pdeath[@]}" "${qemu[@]}" </dev/null >"$run/qemu.out" 2>"$run/qemu.err" &
qemu_pid=$!

# tail follows the guest's output file until qemu is gone (checking every 0.2 s), then prints
# what is left and ends. awk, not a bash read loop (which reads a pipe one byte per system call,
# ~60 KB/s here), passes the command's lines through as they come, keeps the whole stream in
# console.log and notes the markers in $events for the loop below.
filter='
function event(s) { print s >> events; close(events) }
BEGIN { phase = "boot"; end_marker = "@@JAIL_VM_END " token " " }
{
  sub(/\r$/, "")
  print >> logfile
  fflush(logfile)
  if (index($0, "@@JAIL_VM_INIT " token " ")) { n = split($0, f, " "); event("INIT " f[n]); phase = "init"; next }
  if (index($0, "@@JAIL_VM_BEGIN " token " ")) { n = split($0, f, " "); event("BEGIN " f[n]); phase = "run"; next }
  if ((i = index($0, end_marker))) {
    # The last line of output may lack a newline and so carry the marker at its end.
    if (i > 1) { print substr($0, 1, i - 1); fflush() }
    event("END " substr($0, i + length(end_marker)))
    phase = "done"
    next
  }
  if (phase == "run") { print; fflush() }
  else if (phase != "done" && verbose) { print > "/dev/stderr"; fflush("/dev/stderr") }
}'
# mawk (Debian's awk) fills its whole input buffer before it processes a line, unless told
# -W interactive; without it the output would arrive in bursts, or only at the end.
awk=(awk)
! command -v mawk >/dev/null 2>&1 || awk=(mawk -W interactive)
tail -n +1 -s 0.2 -f --pid="$qemu_pid" "$run/console.out" |
  "${awk[@]}" -v token="$token" -v verbose="$verbose" -v logfile="$console_log" -v events="$events" "$filter" &
filter_pid=$!

elapsed() { # seconds since qemu started, e.g. 4.2
  local us=$((${EPOCHREALTIME/./} - started))
  printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

show_tail() {
  if [[ -s $console_log ]]; then
    printf 'jail-vm: ---- guest init, last lines ----\n' >&2
    grep -v "@@JAIL_VM_" "$console_log" | tail -n 40 >&2 || true
  fi
  if [[ -s $run/serial.log ]]; then
    printf 'jail-vm: ---- kernel console, last lines ----\n' >&2
    tr -d '\r' <"$run/serial.log" | tail -n 40 >&2 || true
  fi
  if [[ -s $run/qemu.err ]]; then
    printf 'jail-vm: ---- qemu stderr ----\n' >&2
    tail -n 20 "$run/qemu.err" >&2
  fi
  printf 'jail-vm: ----\n' >&2
}

keep_log() {
  cp "$console_log" "$cache/last-console.log" 2>/dev/null || true
  [[ ! -f $run/serial.log ]] || tr -d '\r' <"$run/serial.log" >"$cache/last-serial.log" || true
  if ((verbose)) && [[ -s $run/serial.log ]]; then
    printf 'jail-vm: ---- kernel console ----\n' >&2
    tr -d '\r' <"$run/serial.log" >&2 || true
  fi
}

# Phases: boot (until init's first line), init (until the command starts), run, done (after the
# command's status, while the guest dumps dmesg and powers off).
phase=boot
status=
t_init= t_begin= guest_init= guest_begin= guest_end=
n_events=0
read_events() {
  local ev=()
  mapfile -t ev <"$events"
  while ((n_events < ${#ev[@]})); do
    # A line awk is still writing fails these patterns; it is read again next time.
    case ${ev[n_events]} in
      INIT\ *) guest_init=${ev[n_events]#INIT } phase=init t_init=$(elapsed) ;;
      BEGIN\ *) guest_begin=${ev[n_events]#BEGIN } phase=run t_begin=$(elapsed) ;;
      END\ *\ *)
        read -r status guest_end <<<"${ev[n_events]#END }"
        phase=done
        done_deadline=$((SECONDS + 60))
        ;;
      *) break ;;
    esac
    n_events=$((n_events + 1))
  done
}
boot_deadline=$((SECONDS + boot_timeout_s))
deadline=$((SECONDS + timeout_s))
done_deadline=
timed_out=0
qrc=
while :; do
  read_events
  if ! qemu_alive; then
    wait "$qemu_pid" && qrc=0 || qrc=$?
    qemu_pid=
    # tail notices within 0.2 s, prints the rest and ends; then awk ends.
    for _ in {1..100}; do
      kill -0 "$filter_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$filter_pid" 2>/dev/null || true
    wait "$filter_pid" || true
    filter_pid=
    read_events
    break
  fi
  case $phase in
    boot | init) limit=$((boot_deadline < deadline ? boot_deadline : deadline)) ;;
    run) limit=$deadline ;;
    done) limit=$done_deadline ;;
  esac
  if ((SECONDS >= limit)); then
    timed_out=1
    break
  fi
  sleep 0.2
done

keep_log
if [[ $phase == done ]]; then
  ((!timed_out)) || log "warning: the guest did not power off within 60 s after the command; killing qemu"
  [[ $status =~ ^[0-9]+$ ]] || die "the guest reported a malformed exit status '$status'"
  # Guest times are its uptime when init started and when the command started and ended; host
  # times count from qemu's start (seen up to ~0.4 s late through tail and the 0.2 s poll).
  log "$(printf 'guest uptime: init %ss, command start %ss, command ran %ss; host: init seen %ss, command start seen %ss, total %ss; exit status %s' \
    "$guest_init" "$guest_begin" \
    "$(awk -v a="$guest_begin" -v b="$guest_end" 'BEGIN { printf "%.1f", b - a }')" \
    "$t_init" "$t_begin" "$(elapsed)" "$status")"
  exit "$status"
fi

if ((timed_out)); then
  case $phase in
    boot) log "ERROR: timed out: the VM did not reach init within $((boot_timeout_s < timeout_s ? boot_timeout_s : timeout_s)) s" ;;
    init) log "ERROR: timed out: the VM reached init but did not start the command within $((boot_timeout_s < timeout_s ? boot_timeout_s : timeout_s)) s" ;;
    run) log "ERROR: timed out: the command did not finish within $timeout_s s (--timeout / JAIL_VM_TIMEOUT); killing the VM" ;;
  esac
  [[ $phase == run ]] || show_tail
  exit 124
fi

# qemu ended without the end marker.
init_error=$(cat "$console_log" "$run/serial.log" 2>/dev/null | tr -d '\r' | grep -m 1 'jail-vm init: ERROR' || true)
case $phase in
  boot) what="before its init reported in${init_error:+ ($init_error)} (kernel or initramfs problem?)" ;;
  init) what="before the command started${init_error:+ ($init_error)}" ;;
  run) what="while the command was running, without its exit status (guest crash?)" ;;
esac
show_tail
die "the VM ended ${what}; qemu exit status ${qrc:-unknown}"
