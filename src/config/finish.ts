/**
 * nsjail's post-parse rules, applied to every config whatever its source (file, flags,
 * object), after the last flag or file was read:
 *  - uid/gid names are resolved to numbers; a count below 1 means 1;
 *  - without any uid (gid) map, the caller's id maps to itself (inside_id "" -> outside_id "");
 *  - `daemon` without a log target logs to /var/log/nsjail.log;
 *  - cgroup_mem_memsw_max > 0 together with cgroup_mem_swap_max >= 0 is an error;
 *  - a seccomp policy file and seccomp_string together are an error.
 * The /proc and --chroot mounts are placed by effectiveMounts (mounts.ts).
 */
import { JailError } from '../errors';
import { displayKey } from './build';
import { DEFAULT_ID_FILES, readIdNames, type IdFiles } from './idnames';
import { defaultsOf, ID_MAP } from './schema';
import type { IdMap, LoadedConfig } from './types';

export interface FinishOptions {
  /** passwd/group files for user and group names (tests point these elsewhere). */
  idFiles?: IdFiles;
}

/**
 * A problem with one or more fields, reported against the flag or file line that set them
 * ("flag -B: ..." or "mount[2].src: ..." with the file's span). The sandbox stage reports its
 * findings through it too.
 */
export function fieldProblem(loaded: LoadedConfig, paths: string[], message: string, hint?: string): JailError {
  const candidates = (p: string) => {
    const parts = p.split('.');
    return parts.map((_, i) => parts.slice(0, parts.length - i).join('.'));
  };
  for (const p of paths) {
    for (const c of candidates(p)) {
      const flag = loaded.flags?.get(c);
      if (flag) return new JailError('flag', `flag ${flag}: ${message}`, { hint });
    }
  }
  for (const p of paths) {
    for (const c of candidates(p)) {
      const span = loaded.spans.get(c);
      if (span) return new JailError('config', `${displayKey(p)}: ${message}`, { span, hint });
    }
  }
  return new JailError('config', `${displayKey(paths[0])}: ${message}`, { hint });
}

const MAX_ID = 4294967294; // (uid_t)-1 means "no change" to the kernel, so it is not an id
/** The kernel takes at most this many lines in a uid_map or gid_map (Linux 4.15+). */
const MAX_MAP_LINES = 340;

function resolveIds(loaded: LoadedConfig, list: 'uidmap' | 'gidmap', files: Required<IdFiles>, errors: JailError[]): void {
  const maps: IdMap[] = loaded.config[list];
  const file = list === 'uidmap' ? files.passwd : files.group;
  const what = list === 'uidmap' ? 'user' : 'group';
  let names: Map<string, number> | undefined;
  if (maps.length > MAX_MAP_LINES) {
    errors.push(
      fieldProblem(loaded, [`${list}.${MAX_MAP_LINES}`], `${maps.length} ${list} entries: the kernel takes at most ${MAX_MAP_LINES} lines in a ${what === 'user' ? 'uid' : 'gid'}_map`, 'map ranges with count instead of one entry per id'),
    );
  }
  maps.forEach((m, i) => {
    for (const key of ['insideId', 'outsideId'] as const) {
      const id = m[key];
      const path = `${list}.${i}.${key === 'insideId' ? 'inside_id' : 'outside_id'}`;
      if (id === '') continue;
      if (/^\d+$/.test(id)) {
        if (Number(id) > MAX_ID) errors.push(fieldProblem(loaded, [path], `${id} is not a valid ${what} id (0..${MAX_ID})`));
        continue;
      }
      names ??= readIdNames(file);
      const n = names.get(id);
      if (n === undefined) errors.push(fieldProblem(loaded, [path], `unknown ${what} ${JSON.stringify(id)} (not in ${file})`));
      else m[key] = String(n);
    }
    if (m.count < 1) m.count = 1;
  });
  if (maps.length === 0) maps.push(defaultsOf(ID_MAP) as unknown as IdMap);
}

/** Applies the post-parse rules in place and returns `loaded`; throws every problem at once. */
export function finishConfig(loaded: LoadedConfig, opts: FinishOptions = {}): LoadedConfig {
  const errors: JailError[] = [];
  const c = loaded.config;
  const files = { ...DEFAULT_ID_FILES, ...opts.idFiles };
  resolveIds(loaded, 'uidmap', files, errors);
  resolveIds(loaded, 'gidmap', files, errors);
  if (c.daemon && c.logFile === undefined && c.logFd === undefined) c.logFile = '/var/log/nsjail.log';
  if (c.cgroupMemMemswMax > 0 && c.cgroupMemSwapMax >= 0) {
    errors.push(
      fieldProblem(
        loaded,
        ['cgroup_mem_memsw_max', 'cgroup_mem_swap_max'],
        'cgroup_mem_memsw_max and cgroup_mem_swap_max cannot be used together: set memory+swap with cgroup_mem_memsw_max, or swap alone with cgroup_mem_swap_max',
      ),
    );
  }
  if (c.seccompPolicyFile !== undefined && c.seccompString.length > 0) {
    errors.push(
      fieldProblem(
        loaded,
        ['seccomp_string', 'seccomp_policy_file'],
        'a seccomp policy file and seccomp_string cannot be used together: put the whole policy in one of them',
      ),
    );
  }
  JailError.throwAll(errors);
  return loaded;
}
