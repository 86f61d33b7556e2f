#!/bin/sh
# Self-test of the probe outside any jail: builds it, runs it with a spread of
# arguments and checks each output's last line is valid JSON with sensible values.
# With root or unprivileged user namespaces, also runs it under unshare(1).
# Usage: test/probe/selftest.sh        (needs node)
set -u
dir=$(cd "$(dirname "$0")" && pwd)
probe=$("$dir/build.sh") || exit 1
fails=0
n=0
input=

# check DESCRIPTION JS-EXPRESSION [COMMAND-PREFIX...] -- PROBE-ARGS...
# The expression sees j (parsed last line), rc (exit status), lines (all stdout lines).
check() {
	desc=$1
	expr=$2
	shift 2
	prefix=
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		prefix="$prefix $1"
		shift
	done
	[ $# -gt 0 ] && shift
	n=$((n + 1))
	out=$( { printf '%s' "$input" | $prefix "$probe" "$@"; } 2>/dev/null)
	rc=$?
	if printf '%s' "$out" | node -e '
		const [expr, rc] = process.argv.slice(1);
		const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
		let j;
		try { j = JSON.parse(lines[lines.length - 1]); } catch (e) { console.error("  invalid JSON: " + e.message); process.exit(1); }
		const ok = new Function("j", "rc", "lines", "return (" + expr + ");")(j, Number(rc), lines);
		if (!ok) { console.error("  failed: " + expr + "\n  rc=" + rc + "\n  " + lines.join("\n  ").slice(0, 3000)); process.exit(1); }
	' "$expr" "$rc"; then
		echo "ok   $desc"
	else
		echo "FAIL $desc"
		fails=$((fails + 1))
	fi
}

check "full picture parses" 'rc === 0 && j.probe === 1 && j.pid > 1 && typeof j.hostname === "string" && Array.isArray(j.mounts) && Array.isArray(j.net) && j.rlimits.nofile.cur !== undefined && /^[0-9a-f]{16}$/.test(j.caps.effective) && Array.isArray(j.env) && j.fds.includes(1)' -- 
check "section selection" 'rc === 0 && "uid" in j && !("mounts" in j) && !("env" in j) && "caps" in j' -- ids caps
check "none prints only the header" 'Object.keys(j).join() === "probe,args"' -- none
check "paths" 'j.paths["/"].type === "dir" && j.paths["/nonexistent-probe"].exists === false && j.paths["/nonexistent-probe"].lstatErrno === "ENOENT" && j.paths["/dev/null"].type === "other" && j.paths["/dev/null"].writeErrno === null' -- none path:/ path:/nonexistent-probe path:/dev/null
check "syscall in child" 'j.syscalls.getppid.ret === j.pid && j.syscalls.uname.ok === true && j.syscalls.perf_event_open.errno === "EFAULT"' -- none ids syscall:getppid syscall:uname syscall:perf_event_open
check "syscall:all" 'Object.keys(j.syscalls).length > 30 && Object.values(j.syscalls).every(r => "ret" in r || "signal" in r || "error" in r)' -- none syscall:all
check "connect refused" 'j.connect["127.0.0.1:1"].ok === false && j.connect["127.0.0.1:1"].errno === "ECONNREFUSED"' -- none connect:127.0.0.1:1
check "listen on loopback" 'j.listen.ok === true && j.listen.port > 0' -- none listen:0
tmpf=$(mktemp)
check "write" 'j.write.written === 12345 && j.write.errno === null' -- none "write:$tmpf:12345"
rm -f "$tmpf"
check "alloc" 'j.alloc.gotMiB === 20 && j.alloc.ok' -- none alloc:20
check "fork" 'j.fork.forked === 3 && j.fork.errno === null' -- none fork:3
check "spin" 'j.spin.wallMs >= 200 && j.spin.userMs > 20' -- none spin:0.2
check "sleep" 'j.sleep.wallMs >= 100' -- none sleep:0.1
check "daemonize" 'j.daemonPid > 0 && j.daemon.sid !== j.pid && j.daemon.pid === j.daemonPid' -- none daemonize:0.2
input='hello probe'
check "stdin sha1" 'j.stdin.bytes === 11 && j.stdin.text === "hello probe" && j.stdin.sha1 === require("crypto").createHash("sha1").update("hello probe").digest("hex")' -- none stdin
input=
check "print lines come before the JSON" 'lines.length === 3 && lines[0] === "one" && lines[1] === "two words"' -- none print:one "print:two words" stderr:err
check "exit code" 'rc === 7' -- none exit:7
check "kill" 'rc === 128 + 15' -- none kill:TERM
check "killself" 'rc === 128 + 9' -- none killself:9
check "segv" 'rc === 128 + 11' -- none segv
check "exec" 'rc === 0 && lines.length === 1' -- none exec:/bin/true
check "bad args exit 2" 'rc === 2 && j.badArgs.length === 2' -- none bogus fork:x
PROBE_T=$(printf 'a"b\\c\nd\001\377') && export PROBE_T
check "JSON escaping" 'j.env.includes("PROBE_T=a\"b\\c\nd\u0001\ufffd")' -- env
unset PROBE_T

# Namespaces: only where unshare works here (root, or unprivileged userns allowed).
if unshare -Ur true 2>/dev/null; then
	check "unshare -Urmpf --mount-proc: pid 1, own userns" 'j.pid === 1 && j.uid === 0 && j.pidsVisible === 1 && /^ *0 +[0-9]+ +1$/.test(j.userns.uidMap.trim()) && j.userns.setgroups.trim() === "deny"' unshare -Urmpf --mount-proc -- ids pids userns
	check "unshare -Urpf: PID 1 survives its own SIGKILL" 'rc === 0' unshare -Urpf -- none killself:9
	check "unshare -Urn: only lo, down; connect fails" 'j.net.length === 1 && j.net[0].name === "lo" && j.net[0].up === false && j.connect["127.0.0.1:1"].errno === "ENETUNREACH"' unshare -Urn -- none net connect:127.0.0.1:1
	# Minimal jail: chroot into a read-only tmpfs holding only the probe (no /proc, /dev, /tmp).
	wrap=$(mktemp)
	PROBE_ROOT=$(mktemp -d) && export PROBE_ROOT
	cat >"$wrap" <<'WRAP'
probe=$1; shift
root=$PROBE_ROOT
mount -t tmpfs probe-root "$root" && cp "$probe" "$root/probe" && mount -o remount,ro "$root" || exit 99
exec chroot "$root" /probe "$@"
WRAP
	check "minimal jail: no /proc, read-only root" 'rc === 0 && j.procMounted === false && j.mounts === null && j.fdsSource === "fcntl" && j.caps.source === "syscall" && j.pidsVisible === null && j.paths["/"].writeErrno === "EROFS" && j.syscalls.mount_tmpfs.ok === true && j.syscalls.mount_tmpfs.umountErrno === null && j.write.errno === "EROFS"' unshare -Urm sh "$wrap" -- path:/ syscall:mount_tmpfs write:/x:1
	rm -f "$wrap"
	rmdir "$PROBE_ROOT"
	unset PROBE_ROOT
else
	echo "skip unshare checks: user namespaces unavailable"
fi

echo "$((n - fails))/$n passed"
[ "$fails" -eq 0 ]
