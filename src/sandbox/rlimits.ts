/**
 * Config rlimit_* fields -> setrlimit values (soft = hard, as nsjail sets them).
 *
 * nsjail's units: as/core/fsize/stack in MiB, memlock in KiB, msgqueue in bytes, cpu in
 * seconds, the rest counts. SOFT/HARD mean the caller's current soft/hard limit, INF unlimited.
 */
import { fieldProblem } from '../config/finish';
import type { Config, LoadedConfig, RLimitType } from '../config/types';
import type { HostFacts } from './host';
import { RLIMIT } from './kernel';
import type { RLimitOp } from './plan';

type Name = keyof typeof RLIMIT;

const UNIT: Record<Name, bigint> = {
  as: 1n << 20n,
  core: 1n << 20n,
  cpu: 1n,
  fsize: 1n << 20n,
  nofile: 1n,
  nproc: 1n,
  stack: 1n << 20n,
  memlock: 1n << 10n,
  rtprio: 1n,
  msgqueue: 1n,
};

const FIELDS: Record<Name, [keyof Config, keyof Config]> = {
  as: ['rlimitAs', 'rlimitAsType'],
  core: ['rlimitCore', 'rlimitCoreType'],
  cpu: ['rlimitCpu', 'rlimitCpuType'],
  fsize: ['rlimitFsize', 'rlimitFsizeType'],
  nofile: ['rlimitNofile', 'rlimitNofileType'],
  nproc: ['rlimitNproc', 'rlimitNprocType'],
  stack: ['rlimitStack', 'rlimitStackType'],
  memlock: ['rlimitMemlock', 'rlimitMemlockType'],
  rtprio: ['rlimitRtprio', 'rlimitRtprioType'],
  msgqueue: ['rlimitMsgqueue', 'rlimitMsgqueueType'],
};

const RLIM_MAX = (1n << 64n) - 1n;

function toBig(v: string): bigint {
  return v === 'infinity' ? RLIM_MAX : BigInt(v);
}

function fromBig(v: bigint): string {
  return v >= RLIM_MAX ? 'infinity' : v.toString();
}

/**
 * @param canRaise whether the child may raise a hard limit (only with CAP_SYS_RESOURCE in the
 * initial user namespace: root without a user namespace).
 */
export function planRlimits(loaded: LoadedConfig, host: HostFacts, canRaise: boolean): RLimitOp[] {
  const config = loaded.config;
  if (config.disableRl) return [];
  const ops: RLimitOp[] = [];
  for (const name of Object.keys(RLIMIT) as Name[]) {
    const [valueField, typeField] = FIELDS[name];
    const type = config[typeField] as RLimitType;
    const current = host.rlimit(name);
    let value: bigint;
    if (type === 'SOFT') value = toBig(current.soft);
    else if (type === 'HARD') value = toBig(current.hard);
    else if (type === 'INF') value = RLIM_MAX;
    else value = BigInt(config[valueField] as number) * UNIT[name];
    if (value > RLIM_MAX) value = RLIM_MAX;
    const hard = toBig(current.hard);
    if (value > hard && !canRaise) {
      const field = `rlimit_${name}`;
      throw fieldProblem(
        loaded,
        [field, `${field}_type`],
        `${fromBig(value)} is above this process's hard limit ${fromBig(hard)}, and only root outside a user namespace may raise it`,
        `lower ${field}, or use 'hard' (--${field} hard) to take the current hard limit`,
      );
    }
    const text = fromBig(value);
    ops.push({ resource: RLIMIT[name], cur: text, max: text });
  }
  return ops;
}
