/**
 * User namespace id maps: Config uidmap/gidmap -> the exact text written to /proc/PID/uid_map,
 * gid_map and setgroups, and the ids the program runs as.
 *
 * As root any host id may be mapped (nsjail's behaviour, setgroups stays "allow"). Unprivileged,
 * the kernel accepts one line mapping the caller's own id, and only after setgroups is "deny";
 * wider maps go through the setuid helpers newuidmap/newgidmap (-U/-G, use_newidmap).
 */
import { fieldProblem } from '../config/finish';
import type { IdMap, LoadedConfig } from '../config/types';
import type { HostFacts } from './host';
import type { JailPlan } from './plan';

export interface IdPlan {
  idmap: JailPlan['idmap'];
  uid: number;
  gid: number;
  groups: number[];
  /** The jail's uid and gid as the host's user namespace sees them; null when a helper maps them. */
  hostUid: number | null;
  hostGid: number | null;
  warnings: string[];
}

interface ResolvedMap {
  inside: number;
  outside: number;
  count: number;
  useNewidmap: boolean;
}

const MAX_ID = 0xfffffffe;

function resolveId(text: string, callerId: number, field: string, loaded: LoadedConfig): number {
  if (text === '') return callerId;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n <= MAX_ID) return n;
  }
  throw fieldProblem(
    loaded,
    [field],
    `'${text}' is not a numeric id (0-${MAX_ID}) or a known name`,
    'use a number, or a name that exists in /etc/passwd (uids) or /etc/group (gids)',
  );
}

function resolveMaps(maps: IdMap[], callerId: number, field: string, loaded: LoadedConfig): ResolvedMap[] {
  return maps.map((m, i) => ({
    inside: resolveId(m.insideId, callerId, `${field}.${i}.inside_id`, loaded),
    outside: resolveId(m.outsideId, callerId, `${field}.${i}.outside_id`, loaded),
    count: Math.max(1, m.count),
    useNewidmap: m.useNewidmap,
  }));
}

/** "inside outside count" lines, one write (the kernel takes the whole map at once). */
function mapText(maps: ResolvedMap[]): string {
  return maps.map((m) => `${m.inside} ${m.outside} ${m.count}`).join('\n');
}

function helperArgv(helper: string, maps: ResolvedMap[]): string[] {
  return [helper, ...maps.flatMap((m) => [String(m.inside), String(m.outside), String(m.count)])];
}

export function planIds(loaded: LoadedConfig, host: HostFacts): IdPlan {
  const config = loaded.config;
  const warnings: string[] = [];
  const uidMaps = resolveMaps(config.uidmap, host.euid, 'uidmap', loaded);
  const gidMaps = resolveMaps(config.gidmap, host.egid, 'gidmap', loaded);
  const uid = uidMaps[0]?.inside ?? host.euid;
  const gid = gidMaps[0]?.inside ?? host.egid;

  if (!config.cloneNewuser) {
    if (host.euid !== 0) {
      throw fieldProblem(
        loaded,
        ['clone_newuser'],
        'clone_newuser is off, which needs root: without a user namespace only root can set up the jail',
        'run as root, or keep the user namespace (drop --disable_clone_newuser)',
      );
    }
    // Without a user namespace the "maps" only name the ids to switch to; extra gids become
    // supplementary groups, as in nsjail.
    return {
      idmap: { uidMap: '', gidMap: '', setgroups: '', newuidmap: null, newgidmap: null },
      uid,
      gid,
      groups: gidMaps.slice(1).map((m) => m.inside),
      hostUid: uid,
      hostGid: gid,
      warnings,
    };
  }

  const viaHelper = (maps: ResolvedMap[]) => maps.some((m) => m.useNewidmap);
  if (host.euid !== 0) {
    const check = (maps: ResolvedMap[], callerId: number, field: string) => {
      if (viaHelper(maps)) return;
      const bad = maps.find((m) => m.outside !== callerId || m.count !== 1) ?? (maps.length > 1 ? maps[1] : undefined);
      if (bad) {
        throw fieldProblem(
          loaded,
          [field],
          `an unprivileged user can map only its own id ${callerId} (count 1), got '${bad.inside} ${bad.outside} ${bad.count}'`,
          'run as root, or use -U/-G (use_newidmap) with ranges from /etc/subuid and /etc/subgid',
        );
      }
    };
    check(uidMaps, host.euid, 'uidmap');
    check(gidMaps, host.egid, 'gidmap');
  }

  const outsideOf = (maps: ResolvedMap[], inside: number) =>
    maps.find((m) => inside >= m.inside && inside < m.inside + m.count);
  const hostIdOf = (maps: ResolvedMap[], inside: number) => {
    const m = maps.find((r) => inside >= r.inside && inside < r.inside + r.count);
    return m && !m.useNewidmap ? m.outside + (inside - m.inside) : null;
  };
  const hostUid = hostIdOf(uidMaps, uid);
  const hostGid = hostIdOf(gidMaps, gid);
  const uidOut = outsideOf(uidMaps, uid);
  if (uidOut && uidOut.outside + (uid - uidOut.inside) === 0) {
    warnings.push(`the jailed process runs as uid ${uid}, which is uid 0 (root) in the host user namespace`);
  }
  const gidOut = outsideOf(gidMaps, gid);
  if (gidOut && gidOut.outside + (gid - gidOut.inside) === 0) {
    warnings.push(`the jailed process runs as gid ${gid}, which is gid 0 (root) in the host user namespace`);
  }

  const uidHelper = viaHelper(uidMaps);
  const gidHelper = viaHelper(gidMaps);
  return {
    idmap: {
      uidMap: uidHelper ? '' : mapText(uidMaps),
      gidMap: gidHelper ? '' : mapText(gidMaps),
      // The kernel refuses an unprivileged gid_map write until setgroups is denied; root keeps
      // setgroups usable inside, as nsjail does.
      setgroups: host.euid === 0 || gidHelper ? '' : 'deny',
      newuidmap: uidHelper ? helperArgv('/usr/bin/newuidmap', uidMaps) : null,
      newgidmap: gidHelper ? helperArgv('/usr/bin/newgidmap', gidMaps) : null,
    },
    uid,
    gid,
    groups: [],
    hostUid,
    hostGid,
    warnings,
  };
}
