/**
 * A precondition of the integration suite, checked once: its jails run as unprivileged ids
 * (uid 65534, a throw-away test user), and, as in nsjail, a jail's mounts are made as the jailed
 * user, so those ids must be able to reach the project tree (the probe, the examples, the CLI).
 * A directory above the tree without the "others may traverse" bit (mktemp -d, /root) would fail
 * dozens of tests with unrelated-looking errors; say it once, with the fix, instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export default function setup(): void {
  const repo = path.resolve(__dirname, '..', '..');
  const blocked: string[] = [];
  for (let dir = repo; ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) blocked.push(dir);
    if (dir === path.dirname(dir)) break;
  }
  if (blocked.length > 0) {
    throw new Error(
      `the integration tests run jails as unprivileged users, which cannot reach ${repo}: ` +
        `${blocked.join(', ')} ${blocked.length > 1 ? 'are' : 'is'} not traversable by others. ` +
        `Clone the project under a traversable directory, or run: chmod o+x ${blocked.join(' ')}`,
    );
  }
}
