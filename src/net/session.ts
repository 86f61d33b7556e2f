/**
 * One jail's network, as the supervisor runs it: the allow-list proxy (when --allow names
 * domains) and the pasta link, or the host interfaces (macvlan, iface_own), set up once the
 * jail's namespaces exist, and the gate that lets the jail's init go on once they are (native/network.cc waits on it before anything else);
 * and the count of connection events for the exit report.
 */
import * as fs from 'node:fs';
import { JailError } from '../errors';
import type { Logger } from '../supervisor/log';
import { NetCounter, type NetEvent } from './events';
import { setUpIfaces } from './ifaces';
import { findPasta, PASTA_MISSING_HINT, startLink, type JailNamespaces, type Link } from './link';
import type { NetworkRuntime } from './plan';
import { startProxy, type Proxy } from './proxy';
import { startRewrites, type RewriteAddon, type Rewrites } from './rewrite';

export class NetworkSession {
  /** Why the link could not be brought up (the jail then fails at its `network` stage). */
  error: JailError | null = null;
  readonly counter = new NetCounter();
  private link: Link | null = null;
  private proxy: Proxy | null = null;
  private rewrites: Rewrites | null = null;
  private stopped = false;

  constructor(
    private readonly runtime: NetworkRuntime,
    private readonly log: Logger,
    private readonly onEvent: (e: NetEvent) => void,
    /** The addon: its close-on-exec pipe(), and the sockets of user_net's rewrite rules. */
    private readonly addon: RewriteAddon,
  ) {}

  /** One connection decision (the proxy's, or the routing rules' seen through the listener): counted, then told. */
  record(e: NetEvent): void {
    this.counter.count(e);
    this.onEvent(e);
  }

  /**
   * Brings the network up for the jail whose init is `pid`, then writes the gate's byte; on any
   * failure closes the gate instead, so the init stops. Never throws. `onLinkDown` is called if
   * pasta dies while the jail runs (the jail must not go on with a dead network).
   */
  async start(pid: number, ns: JailNamespaces, gateWrite: number, onLinkDown: (why: string) => void): Promise<void> {
    try {
      // The launch could not open them (it then fails at stage network itself).
      if (ns.netns < 0) throw new JailError('setup', "the jail's network namespace could not be opened for its link");
      const { ifaces, link } = this.runtime;
      if (ifaces) {
        await setUpIfaces(ifaces, ns.netns, (line) => this.log.debug(`pid=${pid} ${line}`));
        if (this.stopped) throw new JailError('setup', 'the jail was stopped before its network was up');
        const m = ifaces.macvlan;
        this.log.debug(
          `pid=${pid} host interfaces given to the jail:${ifaces.own.map((i) => ` ${i}`).join('')}${m ? ` vs (macvlan on ${m.parent}, ${m.mode}${m.address ? `, ${m.address.ip}/${m.address.prefix}` : ', unconfigured'}${m.gateway ? ` via ${m.gateway}` : ''})` : ''}`,
        );
      }
      if (link) {
        const pasta = findPasta();
        if (pasta === null) throw new JailError('setup', "the jail's network needs pasta, which is not installed (not on PATH, $JAIL_PASTA unset)", { hint: PASTA_MISSING_HINT });
        const { proxy } = this.runtime;
        if (proxy) {
          this.proxy = await startProxy({
            allow: proxy.allow,
            hostAddresses: this.runtime.hostAddresses,
            onEvent: (e) => this.record(e),
          });
        }
        if (this.stopped) throw new JailError('setup', 'the jail was stopped before its network was up');
        this.link = await startLink(pasta, link, ns, this.proxy?.port ?? null, () => this.addon.pipe());
        if (this.stopped) throw new JailError('setup', 'the jail was stopped before its network was up');
        void this.link.exited.then((why) => {
          if (!this.stopped) onLinkDown(why);
        });
        this.log.debug(`pid=${pid} network link up${this.proxy ? `, allow-list proxy on 127.0.0.1:${this.proxy.port}` : ''}`);
      }
      // user_net's REDIRECT/ENCAP rules: before the gate opens, so the program never runs without them.
      if (this.runtime.nat.length > 0) {
        this.rewrites = await startRewrites(this.runtime.nat, ns, { addon: this.addon, debug: (line) => this.log.debug(`pid=${pid} ${line}`) });
        if (this.stopped) {
          this.rewrites.close();
          throw new JailError('setup', 'the jail was stopped before its network was up');
        }
        this.log.debug(`pid=${pid} user_net rewrite rules installed (${this.runtime.nat.filter((r) => r.action !== 'keep').length})`);
      }
      fs.writeSync(gateWrite, 'N');
    } catch (e) {
      this.error = e instanceof JailError ? e : new JailError('setup', `the jail's network could not be set up: ${(e as Error).message}`, { cause: e });
    } finally {
      fs.closeSync(gateWrite);
      // pasta holds the namespaces itself once it is up; ours were only for it to enter them.
      for (const fd of [ns.netns, ns.userns]) if (fd >= 0) fs.closeSync(fd);
    }
  }

  stop(): void {
    this.stopped = true;
    this.link?.stop();
    this.link = null;
    void this.proxy?.close();
    this.proxy = null;
    this.rewrites?.close();
    this.rewrites = null;
  }
}
