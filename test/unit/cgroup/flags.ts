/** LoadedConfig from jail's command-line flags (a command is added), as the CLI parses them. */
import type { LoadedConfig } from '../../../src/config/types';
import { fromFlags } from '../../helpers/config';

export function configOfFlags(args: string[]): LoadedConfig {
  return fromFlags([...args, '--', '/bin/true']).loaded;
}
