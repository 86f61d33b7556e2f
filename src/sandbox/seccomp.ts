/**
 * The plan's seccomp section: the compiled policy, and, when the policy notifies (kafel's
 * USER_NOTIF) or the config asks for seccomp_unotify, the listener filter stacked under it
 * (src/policy/unotify.ts).
 */
import { fieldProblem } from '../config/finish';
import type { LoadedConfig } from '../config/types';
import type { Filter, SockFilter } from '../policy/types';
import { SECCOMP_FILTER_FLAG_LOG } from './kernel';
import type { SeccompPlan } from './plan';
import { NET_WATCH_POLICY } from '../net/watch';

const rows = (insns: readonly SockFilter[]) => insns.map((i) => [i.code, i.jt, i.jf, i.k] as [number, number, number, number]);

/** `watchNetwork`: the jail has a network link, whose connections the supervisor reports (src/net/watch.ts). */
export function planSeccomp(loaded: LoadedConfig, filter: Filter | null, watchNetwork: boolean): SeccompPlan | null {
  const config = loaded.config;
  if (filter === null && !config.seccompUnotify && !watchNetwork) return null;
  const flags = config.seccompLog ? SECCOMP_FILTER_FLAG_LOG : 0;
  if (!filter?.usesUserNotif && !config.seccompUnotify && !watchNetwork) return { insns: rows(filter!.insns), flags, listener: [] };
  if (config.mode === 'EXECVE') {
    throw fieldProblem(
      loaded,
      [config.seccompUnotify ? 'seccomp_unotify' : 'seccomp_string', 'mode'],
      '-Me (execve mode) has no supervisor left to answer seccomp user notifications (seccomp_unotify, USER_NOTIF)',
      'use the default mode (-Mo), or a policy without USER_NOTIF',
    );
  }
  // Loaded on demand: the compiler and its syscall tables are most of jail's code.
  const { compilePolicy, hostArch, stackForListener, unotifyPolicySource } = require('../policy') as typeof import('../policy');
  const archs = filter?.archs ?? [hostArch()];
  const watches = [
    ...(config.seccompUnotify ? [compilePolicy(unotifyPolicySource(archs), { archs, file: '<seccomp_unotify>' })] : []),
    // The host's architecture only: the addon decodes connect/sendto of that one (native/unotify.cc).
    ...(watchNetwork ? [compilePolicy(NET_WATCH_POLICY, { archs: [hostArch()], file: '<network watch>' })] : []),
  ];
  const stacked = stackForListener(filter, watches)!;
  return { insns: rows(stacked.policy), flags, listener: rows(stacked.listener) };
}
