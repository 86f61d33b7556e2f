#!/usr/bin/env bash
# The cgroup v2 lane: runs the integration tests of cgroups, the core and the hardening inside a
# VM where every controller is on cgroup v2 (run-in-vm.sh), against this project tree, and exits
# with vitest's status. This host's controllers are on cgroup v1, so these tests only meet v2
# (and an older kernel, Debian's) here.
#
#   test/vm/cgroup-v2.sh [VITEST ARGS...]     e.g. -t 'oom' or --reporter verbose
#
# The guest runs as root and reads node_modules and the built addon (build/) from the host tree
# through 9p, so install and build on the host first (npm ci). Everything the tests write
# (vitest's cache, temporary files) lands in the guest's throw-away overlay.
#
# The whole lane (boot + tests) is bounded by JAIL_VM_TIMEOUT, default 1500 s here (software
# emulation is slow; CI's budget is 90 minutes); run-in-vm.sh's other variables apply too.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
project=$(cd "$here/../.." && pwd -P)

die() {
  printf 'jail-vm cgroup-v2: ERROR: %s\n' "$*" >&2
  exit 125
}

[[ -x $project/node_modules/.bin/vitest ]] ||
  die "$project/node_modules/.bin/vitest missing: run 'npm ci' in $project first"
compgen -G "$project/build/Release/*.node" >/dev/null ||
  die "no built addon in $project/build/Release: run 'npm ci' (or 'npm run build') in $project first"

export JAIL_VM_TIMEOUT=${JAIL_VM_TIMEOUT:-1500}
cd "$project"
# The project's own vitest, as `npx vitest` would find it, but without npx: loading npm costs
# 20-60 s under TCG. (The guest has no network, and needs none.)
exec "$here/run-in-vm.sh" -- node_modules/.bin/vitest run --project integration test/integration/cgroup test/integration/core test/integration/hardening "$@"
