/** Small helpers shared by the policy tests. */
import { auditFromName, type SeccompData } from '../../../src/policy';
import type { Input } from './cases';

export function toData([arch, nr, ...args]: Input): SeccompData {
  const audit = auditFromName(arch) ?? Number(BigInt(arch));
  return { arch: audit, nr, args };
}
