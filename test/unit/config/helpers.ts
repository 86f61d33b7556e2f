import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatError } from '../../../src/errors';
import { scratchDir } from '../../helpers/scratch';
import { thrown } from '../../helpers/thrown';

/** A scratch directory with a small passwd and group file, so name lookups are deterministic. */
export const dir = scratchDir('jail-config-test-');

export function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

export const idFiles = {
  passwd: file('passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nalice:x:1001:1001::/home/alice:/bin/sh\n'),
  group: file('group', 'root:x:0:\nnogroup:x:65534:\nstaff:x:50:alice\n'),
};

export { thrown };

/** The error text as the CLI prints it. */
export const printed = (fn: () => unknown): string => formatError(thrown(fn));

/** Each reported message (without spans). */
export function messages(fn: () => unknown): string[] {
  const e = thrown(fn);
  return (e.errors.length ? e.errors : [e]).map((x) => x.message);
}
