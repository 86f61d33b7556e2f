/**
 * The full, ordered mount list nsjail builds from a config: the --chroot bind first, then
 * every `mount` entry, then /proc last when mount_proc is on (read-only unless --proc_rw).
 * The root tmpfs under all of them is the planner's business.
 */
import { defaultsOf, MOUNT_PT } from './schema';
import type { Config, MountPt } from './types';

function mountPt(fields: Partial<MountPt>): MountPt {
  return { ...(defaultsOf(MOUNT_PT) as unknown as MountPt), ...fields };
}

export function effectiveMounts(config: Config): MountPt[] {
  const out: MountPt[] = [];
  if (config.chroot !== undefined) out.push(mountPt({ src: config.chroot, dst: '/', isBind: true, rw: config.rw, isDir: true }));
  out.push(...config.mount);
  if (config.mountProc) out.push(mountPt({ dst: config.procPath, fstype: 'proc', rw: config.procRw, isDir: true }));
  return out;
}
