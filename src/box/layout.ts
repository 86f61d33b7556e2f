/**
 * Where things are inside every box: its user and the two directories it works in. Kept apart
 * from the jail config (jail-config.ts) so that `box exec` loads no more than it needs.
 */

/** The box's user inside: uid/gid 1000, mapped to the record's host ids. */
export const BOX_UID = 1000;
export const BOX_HOME = '/home/user';
export const WORKSPACE = '/workspace';
