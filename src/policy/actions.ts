/** Seccomp return values (include/uapi/linux/seccomp.h) and their kafel names. */

export const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

const ACTION_MASK = 0xffff0000;
const DATA_MASK = 0x0000ffff;

/** `ALLOW`, `ERRNO(1)`, `KILL_PROCESS`, `TRAP(3)`, … for a 32-bit seccomp return value. */
export function actionName(ret: number): string {
  const action = (ret & ACTION_MASK) >>> 0;
  const data = ret & DATA_MASK;
  switch (action) {
    case RET.KILL_PROCESS:
      return 'KILL_PROCESS';
    case RET.KILL_THREAD:
      return 'KILL_THREAD';
    case RET.TRAP:
      return `TRAP(${data})`;
    case RET.ERRNO:
      return `ERRNO(${data})`;
    case RET.USER_NOTIF:
      return 'USER_NOTIF';
    case RET.TRACE:
      return `TRACE(${data})`;
    case RET.LOG:
      return 'LOG';
    case RET.ALLOW:
      return 'ALLOW';
    default:
      return `UNKNOWN(0x${(ret >>> 0).toString(16).padStart(8, '0')})`;
  }
}
