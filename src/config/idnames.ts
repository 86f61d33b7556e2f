/**
 * User and group names -> ids, read from /etc/passwd and /etc/group (`name:x:id:...`), as
 * nsjail's getpwnam/getgrnam would answer for local accounts. Reading the files keeps the
 * config stage free of native code; NSS sources such as LDAP are not consulted.
 */
import { readFileSync } from 'fs';

export interface IdFiles {
  passwd?: string;
  group?: string;
}

export const DEFAULT_ID_FILES: Required<IdFiles> = { passwd: '/etc/passwd', group: '/etc/group' };

/** name -> id from a passwd- or group-format file; an unreadable file gives an empty map. */
export function readIdNames(file: string): Map<string, number> {
  const names = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    const parts = line.split(':');
    if (parts.length < 3 || parts[0] === '' || line.startsWith('#')) continue;
    const id = Number(parts[2]);
    if (/^\d+$/.test(parts[2]) && !names.has(parts[0])) names.set(parts[0], id);
  }
  return names;
}
