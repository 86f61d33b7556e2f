#!/usr/bin/env bash
# The playground image lane (issue 11): builds Dockerfile.playground with podman from a base made
# here from Debian's packages, then runs the README's "Playground image" commands in it and checks
# from inside what /sandbox.cfg (= examples/python-playground.cfg) promises.
#
#   bash test/container/playground.sh            # as root; the last part of npm test
#
# No image registry is used: the base is `debootstrap --variant=minbase bookworm` from the Debian
# mirror this machine's apt uses, plus this machine's Node.js (>= 20: Debian 12's is 18), imported
# as localhost/jail-base:ci. Everything lives in one throw-away directory (podman's storage
# included, through --root/--runroot, so the machine's own podman images are never touched) and in
# two throw-away network namespaces; all of it is removed at the end, on failure too.
#
# Network: nothing here talks to a real address. The build steps use the host's network (apt and
# npm, the package registries this machine reaches); every container runs in the lane's own
# network namespace LAB, whose only link is a veth to the namespace WORLD holding two test hosts:
# a public-looking one (198.51.100.10, a documentation range jail treats as public) and a private
# one (10.1.2.3). The playground config's "internet" preset must reach the first and never the
# second.
#
# What this machine needs from podman (the CI machine: Debian 12, cgroup v1 with an empty v2
# hierarchy beside it, root without CAP_SYS_RESOURCE) is in containers.conf below; the flags given
# to `podman run` are the README's, plus the network namespace and, on cgroup v1, a memory cgroup
# directory bound writable (see the README: runtimes mount cgroupfs read-only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$(pwd -P)

say() { printf '[playground] %s\n' "$*" >&2; }
skip_or_fail() {
  if [[ ${CI:-} == true ]]; then
    say "FAIL: $*"
    exit 1
  fi
  say "skipped: $*"
  exit 0
}

[[ $(id -u) -eq 0 ]] || skip_or_fail "needs root (podman, network namespaces, cgroups)"
for tool in podman debootstrap ip curl timeout; do
  command -v "$tool" >/dev/null || skip_or_fail "$tool is not installed (.ci/run installs it)"
done
NODE=$(command -v node)
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || skip_or_fail "node >= 20 is needed for the base image"

START=$(date +%s)
W=$(mktemp -d /tmp/jail-playground-lane.XXXXXX)
LAB=jpl-lab-$$
WORLD=jpl-world-$$
CG_V1=""
WORLD_PID=""
PASSED=0
FAILED=0

pm() {
  podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" "$@"
}

cleanup() {
  local rc=$?
  set +e
  say "cleaning up"
  if [[ -d $W/storage ]]; then
    timeout 60 podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" rm --all --force --time 0 >/dev/null 2>&1
    timeout 60 podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" system reset --force >/dev/null 2>&1
  fi
  [[ -n $WORLD_PID ]] && kill "$WORLD_PID" 2>/dev/null
  ip netns del "$LAB" 2>/dev/null
  ip netns del "$WORLD" 2>/dev/null
  if [[ -n $CG_V1 ]]; then
    # jail removes its own cgroups; anything left (a killed run) goes deepest first.
    for c in memory pids; do
      [[ -d /sys/fs/cgroup/$c/$CG_V1 ]] && find "/sys/fs/cgroup/$c/$CG_V1" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  fi
  # Overlay mounts podman may have left under the directory, then the directory (rootfs too).
  grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$W"
  local left=""
  ip netns list | grep -q -e "$LAB" -e "$WORLD" && left="$left netns"
  [[ -e $W ]] && left="$left $W"
  [[ -n $CG_V1 && -e /sys/fs/cgroup/memory/$CG_V1 ]] && left="$left /sys/fs/cgroup/memory/$CG_V1"
  [[ -n $CG_V1 && -e /sys/fs/cgroup/pids/$CG_V1 ]] && left="$left /sys/fs/cgroup/pids/$CG_V1"
  if [[ -n $left ]]; then
    say "FAIL: left behind:$left"
    rc=1
  fi
  say "done in $(($(date +%s) - START)) s: $PASSED passed, $FAILED failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- podman's configuration for this machine ------------------------------------------------
# - runtime runc: crun 1.8 (Debian 12) refuses "hybrid" cgroups (controllers on v1 and one on
#   the v2 hierarchy too, as here: hugetlb); runc handles them.
# - ulimits: podman asks the runtime for nofile and nproc of 1048576, and root here lacks
#   CAP_SYS_RESOURCE, so raising them fails ("setrlimit RLIMIT_NOFILE: Operation not permitted");
#   the current hard limits (nproc: a modest 4096) are what containers get instead.
# - cgroupfs and a file for events: there is no systemd here.
cat >"$W/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF
export CONTAINERS_CONF=$W/containers.conf

# ---- the base: Debian 12 minbase + this machine's Node.js -----------------------------------
MIRROR=$(grep -h -o -E 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | tr -d ' ' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
say "debootstrap bookworm from $MIRROR"
t0=$(date +%s)
ROOTFS=$W/rootfs
timeout 600 debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$W/debootstrap.log" 2>&1 || {
  tail -n 20 "$W/debootstrap.log" >&2
  exit 1
}
# Node as node:20-bookworm-slim has it: /usr/local/bin/node, npm in /usr/local/lib/node_modules.
# It links only libc, libm, libstdc++ and libgcc_s, which minbase has (apt needs them).
NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$NODE")")")
install -D -m 0755 "$(readlink -f "$NODE")" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules" "$ROOTFS/usr/local/include"
cp -a "$NODE_PREFIX/lib/node_modules/npm" "$ROOTFS/usr/local/lib/node_modules/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
# node-gyp builds the addon against these headers (it would download them otherwise).
cp -a "$NODE_PREFIX/include/node" "$ROOTFS/usr/local/include/"
# This machine's CA bundle: the registries may be reached through a TLS proxy it trusts.
ENVS=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'ENV npm_config_nodedir=/usr/local')
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOTFS/usr/local/share/jail-ci/ca.crt"
  ENVS+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/jail-ci/ca.crt')
fi
env -u NODE_EXTRA_CA_CERTS chroot "$ROOTFS" /usr/local/bin/node -e 'process.exit(0)'
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | pm import "${ENVS[@]}" --change 'CMD ["node"]' - localhost/jail-base:ci >/dev/null
rm -rf "$ROOTFS"
say "base image in $(($(date +%s) - t0)) s"

# ---- the image ------------------------------------------------------------------------------
t0=$(date +%s)
timeout 900 podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" build --network=host \
  -f Dockerfile.playground --build-arg BASE=localhost/jail-base:ci -t jail-playground:ci . >"$W/build.log" 2>&1 || {
  tail -n 40 "$W/build.log" >&2
  exit 1
}
say "jail-playground:ci built in $(($(date +%s) - t0)) s ($(pm image inspect --format '{{.Size}}' jail-playground:ci) bytes)"

# ---- the lane's network: LAB (containers) <-veth-> WORLD (test hosts) -----------------------
ip netns add "$LAB"
ip netns add "$WORLD"
# The veth is made inside LAB with its peer moved straight into WORLD: nothing in the host's
# namespace, ever.
ip -n "$LAB" link add veth0 type veth peer name veth1 netns "$WORLD"
ip -n "$LAB" link set lo up
ip -n "$LAB" addr add 198.51.100.2/24 dev veth0
ip -n "$LAB" link set veth0 up
ip -n "$LAB" route add default via 198.51.100.1
ip -n "$WORLD" link set lo up
ip -n "$WORLD" addr add 198.51.100.1/24 dev veth1
ip -n "$WORLD" link set veth1 up
ip -n "$WORLD" addr add 198.51.100.10/32 dev lo
ip -n "$WORLD" addr add 10.1.2.3/32 dev lo
ip -n "$WORLD" route add 198.51.100.0/24 dev veth1 2>/dev/null || true
mkdir -p "$W/www"
echo "world" >"$W/www/index.html"
ip netns exec "$WORLD" /usr/bin/python3 -m http.server 80 --bind 0.0.0.0 --directory "$W/www" >"$W/world.log" 2>&1 &
WORLD_PID=$!
for _ in $(seq 50); do
  ip netns exec "$WORLD" curl -s -m 1 -o /dev/null http://198.51.100.10/ && break
  sleep 0.1
done
ip netns exec "$WORLD" curl -s -m 2 http://10.1.2.3/ | grep -q world

# ---- run options ----------------------------------------------------------------------------
# The README's options (what jail itself needs in a container):
NOTUN=(--security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt unmask=ALL)
FLAGS=("${NOTUN[@]}" --device /dev/net/tun)
# This lane's own: its network namespace; on cgroup v1 a memory and a pids cgroup of its own,
# bound writable (jail's limits go below them; `jail doctor` tries memory and pids).
LANE=(--network "ns:/run/netns/$LAB")
if [[ $(stat -f -c %T /sys/fs/cgroup) != cgroup2fs ]]; then
  CG_V1=jail-playground-lane-$$
  for c in memory pids; do
    mkdir "/sys/fs/cgroup/$c/$CG_V1"
    LANE+=(-v "/sys/fs/cgroup/$c/$CG_V1:/sys/fs/cgroup/$c")
  done
fi
IMAGE=jail-playground:ci
SANDBOX=(jail --chroot / --config /sandbox.cfg)

# prun ARGS...: podman run --rm with the README's flags and the lane's, 120 s at most.
prun() {
  timeout 120 podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" run --rm "${FLAGS[@]}" "${LANE[@]}" "$@"
}

# prun_notun ARGS...: the same without --device /dev/net/tun.
prun_notun() {
  timeout 120 podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" run --rm "${NOTUN[@]}" "${LANE[@]}" "$@"
}
# on_stdin SNIPPET: echo SNIPPET | podman run --rm -i FLAGS IMAGE (the image's default command).
on_stdin() {
  printf '%s\n' "$1" | prun -i "$IMAGE"
}

# check NAME EXPECTED-REGEX COMMAND...: runs COMMAND, its stdout and stderr must match (grep -E).
check() {
  local name=$1 want=$2
  shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if grep -q -E -- "$want" <<<"$out"; then
    PASSED=$((PASSED + 1))
    say "ok   $name"
  else
    FAILED=$((FAILED + 1))
    say "FAIL $name (exit $rc): wanted /$want/, got:"
    sed 's/^/    | /' <<<"$out" | head -n 40 >&2
  fi
}
# refute NAME REGEX COMMAND...: the output must NOT match.
refute() {
  local name=$1 bad=$2
  shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if grep -q -E -- "$bad" <<<"$out" || [[ -z $out && $rc -ne 0 ]]; then
    FAILED=$((FAILED + 1))
    say "FAIL $name (exit $rc): matched /$bad/:"
    sed 's/^/    | /' <<<"$out" | head -n 40 >&2
  else
    PASSED=$((PASSED + 1))
    say "ok   $name"
  fi
}
# status: runs a command and prints "exit N" after its output.
status() {
  local rc=0
  "$@" || rc=$?
  echo "exit $rc"
}

t0=$(date +%s)
# ---- the seed's commands, verbatim ------------------------------------------------------------
check 'python3 --version' '^Python 3\.11\.[0-9]+' prun "$IMAGE" "${SANDBOX[@]}" -- python3 --version
check 'python3 /examples/hello.py: uid/gid 65534, cwd and HOME /data' \
  'hello from uid 65534 gid 65534 on playground' prun "$IMAGE" "${SANDBOX[@]}" -- python3 /examples/hello.py
HELLO=$(prun "$IMAGE" "${SANDBOX[@]}" -- /usr/bin/python3 -Su /examples/hello.py 2>&1 || true)
check '/usr/bin/python3 -Su /examples/hello.py' 'hello from uid 65534 gid 65534 on playground' echo "$HELLO"
check '  cwd /data, HOME=/data' 'cwd /data, HOME=/data' echo "$HELLO"
check '  /data writable' '^/data: writable' echo "$HELLO"
check '  /tmp writable' '^/tmp: writable' echo "$HELLO"
check '  /usr read-only' '^/usr: read-only' echo "$HELLO"
check 'a snippet on stdin by default (the image CMD)' '^1$' on_stdin 'print(1)'
check 'the default CMD: examples/hello.py from /data (the $PWD/examples bind)' 'hello from uid 65534' on_stdin 'exec(open("examples/hello.py").read())'

check 'an interactive way in: bash in the jail (-i; -it with a terminal)' '^65534 /data$' sh -c \
  "echo 'echo \$(id -u) \$PWD' | timeout 120 podman --root '$W/storage' --runroot '$W/run' --tmpdir '$W/libpod' run --rm -i ${FLAGS[*]} ${LANE[*]} $IMAGE jail --chroot / --config /sandbox.cfg -- /bin/bash 2>/dev/null"

# ---- what the config promises, checked from inside ----------------------------------------------
IDS='import os; print("ids", os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups())'
check 'ids 65534 (real, effective, groups)' '^ids 65534 65534 65534 65534 \[(65534)?\]$' prun "$IMAGE" "${SANDBOX[@]}" -- python3 -c "$IDS"
check 'no capabilities' '^CapEff:[[:space:]]+0+$' prun "$IMAGE" "${SANDBOX[@]}" -- grep CapEff /proc/self/status
# /data: private to each run. Two jails in one container: the second does not see the first's file,
# and the container's /data (the mount point) stays empty.
check '/data private per run' '^second run sees: False; container /data: \[\]$' prun "$IMAGE" sh -c '
  jail --chroot / --config /sandbox.cfg -- python3 -c "open(\"/data/mark\", \"w\").write(\"x\")" 2>/dev/null &&
  jail --chroot / --config /sandbox.cfg -- python3 -c "import os; print(\"second run sees:\", os.path.exists(\"/data/mark\"), end=\"; \")" 2>/dev/null &&
  python3 -c "import os; print(\"container /data:\", os.listdir(\"/data\"))"'
check '/tmp a private tmpfs per run' '^tmpfs rw,nosuid,nodev.*; container /tmp: \[\]$' prun "$IMAGE" sh -c '
  jail --chroot / --config /sandbox.cfg -- python3 -c "
open(\"/tmp/mark\", \"w\").write(\"x\")
for l in open(\"/proc/self/mountinfo\"):
    f = l.split()
    if f[4] == \"/tmp\": print(f[f.index(\"-\") + 1], f[5], end=\"; \")" 2>/dev/null &&
  python3 -c "import os; print(\"container /tmp:\", [n for n in os.listdir(\"/tmp\") if n == \"mark\"])"'
RO='
import errno
for p in ("/usr/x", "/etc/x", "/opt/jail/x", "/sandbox.cfg", "/x"):
    try:
        open(p, "w")
        print(p, "WRITABLE", end=" ")
    except OSError as e:
        print(p, errno.errorcode[e.errno], end=" ")'
check 'system read-only (EROFS everywhere outside /data and /tmp)' '^/usr/x EROFS /etc/x EROFS /opt/jail/x EROFS /sandbox.cfg EROFS /x EROFS ' prun "$IMAGE" "${SANDBOX[@]}" -- python3 -c "$RO"
# 1 GiB: touching 1.5 GiB gets the jail killed by the memory cgroup (exit 137, outcome oom).
check 'OOM at the memory limit (1 GiB): outcome oom, exit 137' '"outcome":"oom".*exit 137$' prun "$IMAGE" sh -c \
  'out=$(jail --chroot / --config /sandbox.cfg --report json -- python3 -c "b = b\"x\" * (1536 << 20); print(\"survived\")" 2>&1); rc=$?; echo "$out" | tr "\n" " "; echo "exit $rc"'
refute '  ... and the program did not survive it' '^survived' prun "$IMAGE" "${SANDBOX[@]}" -- python3 -c 'b = b"x" * (1536 << 20); print("survived")'
check 'under the limit: 512 MiB is fine' '^fine$' prun "$IMAGE" "${SANDBOX[@]}" -- python3 -c 'b = b"x" * (512 << 20); print("fine")'
# The time limit: the config's is 30 s; --time_limit narrows it to keep the lane short.
check 'the time limit kills the jail (exit 137, outcome timeout)' '"outcome":"timeout".*exit 137' prun "$IMAGE" sh -c \
  'out=$(jail --chroot / --config /sandbox.cfg --time_limit 2 --report json -- python3 -c "import time; time.sleep(60)" 2>&1); rc=$?; echo "$out" | tr "\n" " "; echo "exit $rc"'
ENVPY='import os; print(sorted(k + "=" + v for k, v in os.environ.items()))'
ENV_OUT=$(prun -e HF_TOKEN=hf-lane -e HF_HOME=/data/hf -e AWS_SECRET_ACCESS_KEY=nope -e OTHER=nope "$IMAGE" "${SANDBOX[@]}" -- python3 -c "$ENVPY" 2>&1 || true)
check 'environment: the listed variables pass through' "'HF_HOME=/data/hf', 'HF_TOKEN=hf-lane'" echo "$ENV_OUT"
refute 'environment: nothing else does' 'AWS_SECRET|OTHER=|WANDB|HF_DATASETS|container=' echo "$ENV_OUT"
refute 'environment: unset listed variables are skipped without a warning' '\[W\].*(WANDB_API_KEY|HF_DATASETS_CACHE)' echo "$ENV_OUT"

# ---- network: the "internet" preset -----------------------------------------------------------
GET='
import sys, urllib.request
for url in sys.argv[1:]:
    try:
        print(url, urllib.request.urlopen(url, timeout=5).read().decode().strip())
    except Exception as e:
        print(url, "error", getattr(e, "reason", e))'
check 'the container itself reaches both test hosts (control)' '^http://10\.1\.2\.3/ world$' prun "$IMAGE" python3 -c "$GET" http://198.51.100.10/ http://10.1.2.3/
NET_OUT=$(prun "$IMAGE" "${SANDBOX[@]}" -- python3 -c "$GET" http://198.51.100.10/ http://10.1.2.3/ 2>&1 || true)
check 'net internet: a public-looking test host is reachable from the jail' '^http://198\.51\.100\.10/ world$' echo "$NET_OUT"
check 'net internet: a private test host is not' '^http://10\.1\.2\.3/ error .*(unreachable|Errno 101)' echo "$NET_OUT"
check 'net internet: the container host (its own address) is not' '^http://198\.51\.100\.2:1/ error .*(unreachable|Errno 101)' \
  prun "$IMAGE" "${SANDBOX[@]}" -- python3 -c "$GET" http://198.51.100.2:1/
check 'without /dev/net/tun the run fails closed with the fix' '/dev/net/tun.*exit 255$' prun_notun "$IMAGE" sh -c \
  'out=$(jail --chroot / --config /sandbox.cfg -- python3 -c 1 2>&1); rc=$?; echo "$out" | tr "\n" " "; echo "exit $rc"'


# ---- jail doctor --------------------------------------------------------------------------------
DOCTOR=$(prun "$IMAGE" sh -c 'jail doctor; echo "exit $?"' 2>&1 || true)
printf '%s\n' "$DOCTOR" >"$W/doctor.txt"
check 'jail doctor: exits 0 in the container' '^exit 0$' echo "$DOCTOR"
refute 'jail doctor: no check fails' '^FAIL' echo "$DOCTOR"
check 'jail doctor: cgroup limits, a fresh /proc and networked jails work' '^ok   networked jails' echo "$DOCTOR"

# ---- jail serve: a POST /v1/run from outside the container -------------------------------------
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/token"
chmod 0644 "$W/token"
TOKEN=$(cat "$W/token")
pm run -d --name jail-serve-lane "${FLAGS[@]}" "${LANE[@]}" -v "$W/token:/run/jail-token:ro" "$IMAGE" \
  jail serve --config /sandbox.cfg --listen 0.0.0.0:8080 --token-file /run/jail-token >/dev/null
for _ in $(seq 100); do
  ip netns exec "$WORLD" curl -s -m 1 -o /dev/null -H "Authorization: Bearer $TOKEN" http://198.51.100.2:8080/v1/health && break
  sleep 0.2
done
SERVE() { ip netns exec "$WORLD" curl -s -m 30 "$@"; }
check 'jail serve: POST /v1/run answers from the host side' '"stdout":"42\\n"' \
  SERVE -H "Authorization: Bearer $TOKEN" http://198.51.100.2:8080/v1/run -d '{"code": "print(6*7)", "language": "python"}'
check 'jail serve: runs are the playground (uid 65534)' '"stdout":"65534 /' \
  SERVE -H "Authorization: Bearer $TOKEN" http://198.51.100.2:8080/v1/run -d '{"code": "import os; print(os.getuid(), os.getcwd())", "language": "python"}'
check 'jail serve: no token, 401' '^401$' SERVE -o /dev/null -w '%{http_code}' http://198.51.100.2:8080/v1/run -d '{"code": "print(1)", "language": "python"}'
pm logs jail-serve-lane >"$W/serve.log" 2>&1 || true
timeout 60 podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/libpod" stop --time 10 jail-serve-lane >/dev/null 2>&1 || true
say "checks in $(($(date +%s) - t0)) s"

if ((FAILED > 0)); then
  say "doctor's output:"
  sed 's/^/    | /' "$W/doctor.txt" >&2
  exit 1
fi
# The closing line CI reads.
echo "playground: $PASSED passed, $FAILED failed"
