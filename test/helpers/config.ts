/**
 * LoadedConfig from nsjail command-line flags, the way the CLI builds it (commander + the flag
 * recorder), without running the CLI. Name lookups use a small passwd/group pair so results do
 * not depend on the machine.
 */
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromFlags, defineJailFlags } from '../../src/config/flags';
import type { LoadedConfig } from '../../src/config/types';
import { scratchDir } from './scratch';

const idDir = scratchDir('jail-test-ids-');
writeFileSync(join(idDir, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n');
writeFileSync(join(idDir, 'group'), 'root:x:0:\nnogroup:x:65534:\nalice:x:1000:\n');

export const ID_FILES = { passwd: join(idDir, 'passwd'), group: join(idDir, 'group') };

/** `jail [flags] -- command` -> the config and the command after `--`. */
export function fromFlags(argv: string[], cwd = '/'): { loaded: LoadedConfig; command: string[] } {
  const cmd = new Command('jail')
    .exitOverride()
    .argument('[command...]')
    .passThroughOptions()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  const recorder = defineJailFlags(cmd);
  cmd.parse(argv, { from: 'user' });
  return { loaded: configFromFlags(recorder.events, { cwd, env: {}, idFiles: ID_FILES }), command: cmd.args };
}
