/**
 * `jail box ...`: the CLI of boxes (src/box/). Each subcommand is a thin adapter over the library's
 * `box` functions; `exec` and `shell` give the program a new pseudo-terminal when the user's
 * stdin and stdout are terminals, as `docker exec -it` does (never the user's own terminal).
 * `box exec` without a terminal also runs warm (through jail_client and `jail warm`): the caller's
 * descriptors go straight to the box's init.
 */
import type { Command } from 'commander';
import { JailError } from '../errors';
import { formatSize, parseSize } from '../config/size';
import type { BoxCreateOptions } from '../box/lifecycle';
import { BoxPaths } from '../box/store';
import { execInBox } from '../box/exec';
import { openBoxPty } from '../box/files';
import { loadAddon } from '../native/addon';
import { requireProcess, type CliIO } from './io';

const collect = (v: string, prev: string[] = []) => [...prev, v];

// Loaded when a subcommand needs them: `box exec`, the one run most often, needs none of them.
const lifecycle = () => require('../box/lifecycle') as typeof import('../box/lifecycle');

function positiveNumber(flag: string, integer: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || (integer && !Number.isInteger(n))) throw new JailError('flag', `${flag} '${v}' is not a positive ${integer ? 'whole ' : ''}number`, { hint: integer ? 'e.g. 256' : 'e.g. 2 or 0.5' });
    return n;
  };
}

function addCreateOptions(cmd: Command): Command {
  return cmd
    .option('--image <name>', 'root filesystem from `jail image` (default: the host system directories, read-only)')
    .option('--workspace <dir[:ro]>', 'directory bound at /workspace (read-write unless :ro)')
    .option('--profile <name>', 'profile from jail.json / ~/.config/jail/jail.json')
    .option('--settings <file>', 'settings file to use instead of jail.json and ~/.config/jail/jail.json')
    .option('--persistent', 'keep the root filesystem\'s changes across stop/start (default: they vanish at stop)')
    .option('--net <preset>', 'none | limited | internet | host (default none)')
    .option('--allow <dest>', 'destination the box may reach (repeatable; see --allow of jail)', collect)
    .option('--publish <spec>', '[HOSTIP:]HOSTPORT:JAILPORT[/tcp|/udp] (repeatable)', collect)
    .option('--memory <size>', 'memory limit, e.g. 2G')
    .option('--cpus <n>', 'CPU limit in CPUs, e.g. 2 or 0.5', positiveNumber('--cpus', false))
    .option('--pids <n>', 'process limit', positiveNumber('--pids', true))
    .option('--idle <seconds>', 'stop by itself after this long with nothing running (default: run until stopped)', positiveNumber('--idle', true))
    .option('--setup <script>', 'shell script run once inside, as the box user, at the first start')
    .option('--uid <uid>', 'host uid of the box user (as root; default: the workspace owner)', positiveNumber('--uid', true))
    .option('--gid <gid>', 'host gid of the box user', positiveNumber('--gid', true));
}

function createOptions(o: Record<string, unknown>): BoxCreateOptions {
  const out: BoxCreateOptions = {
    image: o.image as string | undefined,
    workspace: o.workspace as string | undefined,
    profile: o.profile as string | undefined,
    settingsFile: o.settings as string | undefined,
    persistent: o.persistent === true ? true : undefined,
    network: o.net as BoxCreateOptions['network'],
    allow: o.allow as string[] | undefined,
    publish: o.publish as string[] | undefined,
    memoryBytes: o.memory !== undefined ? parseSize(o.memory as string) : undefined,
    cpus: o.cpus as number | undefined,
    pids: o.pids as number | undefined,
    idleSeconds: o.idle as number | undefined,
    setup: o.setup as string | undefined,
    uid: o.uid as number | undefined,
    gid: o.gid as number | undefined,
  };
  return out;
}

function since(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

function parseEnv(list: string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new JailError('flag', `-e '${item}' is not NAME=VALUE`, { hint: 'e.g. -e DEBUG=1' });
    env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

/**
 * Runs argv in the box with the user's terminal behind a new pseudo-terminal, or with the user's
 * stdio as they are; resolves to the exit code.
 */
async function interactiveExec(name: string, argv: string[], o: { env?: string[]; workdir?: string; tty?: boolean }, io: CliIO): Promise<number> {
  const { isatty } = require('node:tty') as typeof import('node:tty');
  const useTty = o.tty ?? (isatty(io.fd(0)) && isatty(io.fd(1)));
  const base = { env: parseEnv(o.env), cwd: o.workdir };
  if (!useTty) {
    // The caller's own descriptors (a warm run's are the client's, received by the server).
    let kill: ((signal: number) => void) | null = null;
    const stopForwarding = io.onFatalSignals((signal) => kill?.(signal));
    try {
      const r = await execInBox(name, argv, { ...base, stdin: io.fd(0), stdout: io.fd(1), stderr: io.fd(2), onStart: (p) => (kill = p.kill) }, io.env);
      return r.exitCode;
    } finally {
      stopForwarding();
    }
  }
  // A terminal needs this process's own (raw mode, window size).
  requireProcess(io, 'jail box exec with a terminal');
  const addon = loadAddon();
  const [master, slave] = openBoxPty(name, io.env);
  const tty = require('node:tty') as typeof import('node:tty');
  const resize = () => addon.setWindowSize(master, process.stdout.columns || 80, process.stdout.rows || 24);
  resize();
  const out = new tty.ReadStream(master);
  // EIO: every slave end is closed, the program's terminal is gone; that is its end of output.
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EIO') io.stderr(`jail: box ${name}: the terminal failed: ${e.message}\n`);
  });
  out.pipe(process.stdout);
  const wasRaw = process.stdin.isRaw;
  process.stdin.setRawMode(true);
  const onInput = (d: Buffer) => out.write(d);
  process.stdin.on('data', onInput);
  process.stdout.on('resize', resize);
  try {
    const r = await execInBox(name, argv, { ...base, stdin: slave, stdout: slave, stderr: slave, tty: true, onStart: () => addon.close(slave) }, io.env);
    return r.exitCode;
  } finally {
    process.stdin.off('data', onInput);
    process.stdin.setRawMode(wasRaw);
    process.stdin.pause();
    process.stdout.off('resize', resize);
    // What the program wrote last is still in the terminal: give it a moment to drain.
    await new Promise((r) => setTimeout(r, 20));
    out.unpipe(process.stdout);
    out.destroy();
  }
}

export function registerBoxCommand(program: Command, io: CliIO, setCode: (code: number) => void): void {
  const cmd = program.command('box').description('named, long-lived sandboxes with a workspace (README "Boxes")');
  const print = (text: string) => io.stdout(text);

  addCreateOptions(cmd.command('create <name>').description('create a box (stopped)')).action(async (name: string, o: Record<string, unknown>) => {
    const r = await lifecycle().createBox(name, createOptions(o));
    print(`created box ${r.name}${r.workspace ? ` with workspace ${r.workspace.path}` : ''}\n`);
  });

  cmd.command('start <name>').description('start a box (its init, in the background)').action(async (name: string) => {
    await lifecycle().startBox(name, { onSetupOutput: (t) => io.stderr(t) });
    print(`started box ${name}\n`);
  });

  cmd.command('stop <name>').description('stop a box: its programs get SIGTERM, then SIGKILL after 3 s').action(async (name: string) => {
    print((await lifecycle().stopBox(name)) ? `stopped box ${name}\n` : `box ${name} was not running\n`);
  });

  cmd
    .command('exec <name> [command...]')
    .description('run a command in a running box (a shell when none is given)')
    .option('-e, --env <NAME=VALUE>', 'environment variable (repeatable)', collect)
    .option('-w, --workdir <dir>', 'working directory in the box (default /workspace)')
    .option('-t, --tty', 'give the program a terminal (default: when stdin and stdout are terminals)')
    .option('-T, --no-tty', 'never give the program a terminal')
    .action(async (name: string, command: string[], o: { env?: string[]; workdir?: string; tty?: boolean }) => {
      setCode(await interactiveExec(name, command.length > 0 ? command : ['/bin/sh', '-l'], o, io));
    });

  cmd.command('shell <name>').description('an interactive shell in a running box').action(async (name: string) => {
    setCode(await interactiveExec(name, ['/bin/sh', '-c', 'exec "$(command -v bash || echo /bin/sh)" -l'], {}, io));
  });

  addCreateOptions(cmd.command('up <name> [command...]').description('create the box if missing, start it if stopped, then run command (or a shell)')).action(
    async (name: string, command: string[], o: Record<string, unknown>) => {
      if (!new BoxPaths(name).exists()) await lifecycle().createBox(name, createOptions(o));
      if (lifecycle().boxInfo(name).state !== 'running') await lifecycle().startBox(name, { onSetupOutput: (t) => io.stderr(t) });
      const argv = command.length > 0 ? command : ['/bin/sh', '-c', 'exec "$(command -v bash || echo /bin/sh)" -l'];
      setCode(await interactiveExec(name, argv, {}, io));
    },
  );

  cmd
    .command('ls')
    .description('list boxes: name, state, image, uptime, memory, workspace')
    .option('--json', 'JSON array')
    .action(async (o: { json?: boolean }) => {
      const list = await lifecycle().listBoxes();
      if (o.json) return print(JSON.stringify(list, null, 2) + '\n');
      const rows = [['NAME', 'STATE', 'IMAGE', 'UPTIME', 'MEMORY', 'WORKSPACE']];
      for (const b of list) rows.push([b.name, b.state, b.image ?? '(host)', since(b.uptimeSeconds), b.memoryBytes === null ? '-' : formatSize(b.memoryBytes), b.workspace ?? '-']);
      print(table(rows));
    });

  cmd
    .command('status <name>')
    .description('one box\'s state and settings')
    .option('--json', 'JSON')
    .action((name: string, o: { json?: boolean }) => {
      const s = lifecycle().boxInfo(name);
      if (o.json) return print(JSON.stringify(s, null, 2) + '\n');
      print(Object.entries(s).map(([k, v]) => `${k}: ${v === null ? '-' : String(v)}`).join('\n') + '\n');
      if (s.state !== 'running') setCode(3);
    });

  cmd
    .command('diff <name>')
    .description('what changed in the box\'s root: A added, C changed, D deleted')
    .option('--json', 'JSON {added, changed, deleted}')
    .action((name: string, o: { json?: boolean }) => {
      const d = (require('../box/diff') as typeof import('../box/diff')).diffBox(name);
      if (o.json) return print(JSON.stringify(d, null, 2) + '\n');
      const lines = [...d.added.map((p) => ['A', p]), ...d.changed.map((p) => ['C', p]), ...d.deleted.map((p) => ['D', p])].sort((a, b) => a[1].localeCompare(b[1]));
      print(lines.map(([k, p]) => `${k} ${p}\n`).join(''));
    });

  cmd
    .command('rm <name>')
    .description('remove a box and its state (its workspace is yours and stays)')
    .option('-f, --force', 'stop it first if it runs')
    .action(async (name: string, o: { force?: boolean }) => {
      await lifecycle().removeBox(name, { force: o.force });
      print(`removed box ${name}\n`);
    });

  cmd
    .command('logs <name>')
    .description('the box supervisor\'s log')
    .option('-n, --lines <n>', 'only the last n lines', positiveNumber('--lines', true))
    .action((name: string, o: { lines?: number }) => {
      const fs = require('node:fs') as typeof import('node:fs');
      const paths = new BoxPaths(name);
      let text = '';
      try {
        text = fs.readFileSync(paths.log, 'utf8');
      } catch {
        if (!paths.exists()) throw new JailError('usage', `no box '${name}'`, { hint: 'jail box ls lists them' });
      }
      print(o.lines ? text.split('\n').slice(-(o.lines + 1)).join('\n') : text);
    });

  // The background process `box start` leaves running (not for users).
  cmd.command('_supervise <name> <starter>', { hidden: true }).action(async (name: string, starter: string) => {
    setCode(await (require('../box/supervisor') as typeof import('../box/supervisor')).superviseBox(name, 3, starter));
  });
}
