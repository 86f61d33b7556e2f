/** LoadedConfig from jail's command-line flags, parsed the way the CLI parses them. */
import { Command } from 'commander';
import { configFromFlags, defineJailFlags } from '../../../src/config/flags';
import type { LoadedConfig } from '../../../src/config/types';

export function configOfFlags(args: string[]): LoadedConfig {
  const cmd = new Command('jail')
    .exitOverride()
    .argument('[command...]')
    .passThroughOptions()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  const recorder = defineJailFlags(cmd);
  cmd.parse([...args, '--', '/bin/true'], { from: 'user' });
  return configFromFlags(recorder.events, { cwd: '/', env: {} });
}
