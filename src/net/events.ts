/**
 * The network events of a jail (`--events`, `onEvent`): one per connection the supervisor's
 * proxy decided on, and a count of them for the exit report.
 */

export interface NetEvent {
  type: 'net';
  action: 'allow' | 'deny';
  proto: 'tcp' | 'udp';
  /** The address connected to, or the name asked for when it was refused before resolution. */
  dst: string;
  port: number;
  /** The name the jail asked for, when it asked by name. */
  domain?: string;
  /** The allow rule (`pypi.org:443`) or the refusal's reason (`not-allowed`, a blocklist rule). */
  rule: string;
}

export class NetCounter {
  private allowed = 0;
  private denied = 0;

  count(e: NetEvent): void {
    if (e.action === 'allow') this.allowed++;
    else this.denied++;
  }

  result(): { allowed: number; denied: number } {
    return { allowed: this.allowed, denied: this.denied };
  }
}
