/**
 * cgroups: everything jail does with them, in one module.
 *
 *   plan.ts, plan-v1.ts, plan-v2.ts  Config × host facts -> CgroupPlan; pure (with limits.ts,
 *                                    paths.ts, name.ts)
 *   facts.ts                         the host's cgroups as the planner needs them; only reads
 *   session.ts, move.ts              apply: create and limit before launch; after the jail
 *                                    kill, read back and remove
 *   kill.ts                          kill every process of a jail, safe against pid reuse
 *   sweep.ts                         remove what supervisors that died left behind
 *   stats.ts                         peak memory, CPU time, limits hit
 *   fs.ts                            the only TypeScript that writes the cgroup filesystem
 *   errors.ts                        failures in words, with the fix
 *
 * Which side does what, and why:
 *  - src/sandbox plans with plan.ts and facts.ts only, so planning (`jail plan`, the tests) never
 *    changes the kernel.
 *  - TypeScript (session.ts, through fs.ts and the addon's one-syscall cgroup functions) makes
 *    the directories and writes the limits before the launch, and kills and removes afterwards:
 *    none of it depends on the child, and its failures need words only TypeScript has.
 *  - The addon (native/launch.cc) puts the child into its cgroups and nothing else: it writes the
 *    pid to `plan.attach`'s files, or clones into `plan.cloneInto` (CLONE_INTO_CGROUP, on the
 *    directory fd session.ts opened). That must happen in C++, between clone and the go byte:
 *    only then is the pid known while the child has not yet run a step of the jail. So the addon
 *    checks only those two fields of the plan (native/prepare.cc).
 */
export { planCgroup, chooseCgroupVersion, type CgroupPlan } from './plan';
export { openCgroupSession, type CgroupSession } from './session';
