/**
 * The `jail` command itself: stdout passthrough, exit codes, --report json / --report-fd /
 * --report-file, the log flags (-v, -q, -Q, --log, --log_fd), -Mo and -Me, a bare command name
 * looked up on PATH, bad flags (255, one message, nothing launched), `jail plan`, `jail check`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { describeAsRoot } from '../../helpers/env';
import { assertBuilt, cli, killSpawned, parseProbe, probePath, SYSTEM_PATH, type CliResult, cliFixture } from './helpers';

const LOG_LINE = /^\[[DIWEF]\]\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}\] \S/;
const OUTCOMES = ['exited', 'signaled', 'timeout', 'setup-failed', 'seccomp-violation', 'oom'];

/** Checks the ExitReport schema (README) and returns it. */
function checkReport(json: string): Record<string, unknown> {
  const r = JSON.parse(json) as Record<string, unknown>;
  expect(OUTCOMES).toContain(r.outcome);
  expect(typeof r.exitCode).toBe('number');
  expect(r.signal === null || typeof r.signal === 'string').toBe(true);
  for (const k of ['wallTimeMs', 'userTimeMs', 'systemTimeMs', 'maxRssKb']) {
    expect(typeof r[k], k).toBe('number');
    expect(r[k] as number, k).toBeGreaterThanOrEqual(0);
  }
  if (r.outcome === 'setup-failed') {
    const e = r.error as Record<string, unknown>;
    expect(typeof e.stage).toBe('string');
    expect(e.errno).toMatch(/^E[A-Z0-9]+$/);
    expect(typeof e.message).toBe('string');
  }
  return r;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
/** stderr lines that are log lines (a trailing JSON report or program output is not). */
const logLines = (r: CliResult) => lines(r.stderr).filter((l) => l.startsWith('['));

describeAsRoot('jail CLI: running, exit codes, reports', () => {
  const tmp = cliFixture({ probe: true });

  it('`jail -Mo --chroot / -- /bin/echo ABC` prints ABC and exits 0', async () => {
    const r = await cli(['-Mo', '--chroot', '/', '--', '/bin/echo', 'ABC']);
    expect(r.stdout).toBe('ABC\n');
    expect(r.code).toBe(0);
  });

  it('the program’s exit code passes through', async () => {
    const r = await cli(['-q', '--chroot', '/', '--', '/bin/sh', '-c', 'exit 3']);
    expect(r.code).toBe(3);
    const r42 = await cli(['-q', '--chroot', '/', '--', '/bin/sh', '-c', 'exit 42']);
    expect(r42.code).toBe(42);
  });

  it('stdin passes through to the program, stdout back', async () => {
    const r = await cli(['-Q', '--chroot', '/', '--', '/usr/bin/tr', 'a-z', 'A-Z'], { input: 'hello jail\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('HELLO JAIL\n');
  });

  it("the program writes straight to jail's own stdout (the same pipe, no proxy)", async () => {
    let cliStdout = '';
    const r = await cli(['-Q', '--chroot', '/', '--', '/bin/sh', '-c', 'readlink /proc/self/fd/1; sleep 0.5'], {
      onSpawn: (c) => {
        cliStdout = fs.readlinkSync(`/proc/${c.pid}/fd/1`);
      },
    });
    expect(r.code).toBe(0);
    expect(cliStdout).toMatch(/^(pipe|socket):\[\d+\]$/);
    expect(r.stdout.trim()).toBe(cliStdout);
  });

  it('--report json writes one JSON report as the last stderr line', async () => {
    const r = await cli(['-Q', '--report', 'json', '--chroot', '/', '--', '/bin/sh', '-c', 'exit 5']);
    expect(r.code).toBe(5);
    const last = lines(r.stderr).pop()!;
    const rep = checkReport(last);
    expect(rep.outcome).toBe('exited');
    expect(rep.exitCode).toBe(5);
    expect(rep.signal).toBeNull();
    expect(rep.maxRssKb).toBeGreaterThan(0);
  });

  it('--report-fd 3 writes the report to fd 3 only', async () => {
    const r = await cli(['-Q', '--report-fd', '3', '--chroot', '/', '--', '/bin/true'], { extraStdio: ['pipe'] });
    expect(r.code).toBe(0);
    const rep = checkReport(r.extra[3].trim());
    expect(rep.outcome).toBe('exited');
    expect(r.stderr).toBe('');
  });

  it('--report-file PATH writes the report to that file, for a setup failure too', async () => {
    const file = path.join(tmp().dir, 'report.json');
    const r = await cli(['-Q', '--report-file', file, '--chroot', '/', '--', '/nonexistent/program']);
    expect(r.code).toBe(255);
    const rep = checkReport(fs.readFileSync(file, 'utf8').trim());
    expect(rep.outcome).toBe('setup-failed');
    expect(rep.exitCode).toBe(255);
    expect((rep.error as { stage: string }).stage).toBe('execve');
    expect((rep.error as { errno: string }).errno).toBe('ENOENT');
  });

  it('a bad --report-fd value is a flag error', async () => {
    const r = await cli(['--report-fd', 'x', '--chroot', '/', '--', '/bin/true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/report-fd/);
  });

  it('a bare command name is looked up on PATH: `-- python3 -c ...` works', async () => {
    const r = await cli(['-Q', '--chroot', '/', '--', 'python3', '-c', 'print(6 * 7)'], { env: { PATH: SYSTEM_PATH } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42\n');
    expect(r.code).toBe(0);
  });

  it('a bare name that is on no PATH directory: 255 with a message naming it, nothing runs', async () => {
    const r = await cli(['--chroot', '/', '--', 'no-such-command-xyz', 'arg'], { env: { PATH: SYSTEM_PATH } });
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no-such-command-xyz/);
    expect(r.stderr).toMatch(/not found|PATH/);
  });
});

describeAsRoot('jail CLI: log flags', () => {
  const tmp = cliFixture();

  const RUN = ['--chroot', '/', '--', '/bin/true'];

  it('default: INFO lines and the host-root warnings on stderr, one line per event', async () => {
    const r = await cli(RUN);
    expect(r.code).toBe(0);
    const logs = lines(r.stderr);
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(l).toMatch(LOG_LINE);
    expect(logs.some((l) => l.startsWith('[W]') && /uid 0/.test(l))).toBe(true);
    expect(logs.some((l) => l.startsWith('[I]') && /exited with status: 0/.test(l))).toBe(true);
    expect(logs.some((l) => l.startsWith('[D]'))).toBe(false);
  });

  it('-v adds DEBUG lines', async () => {
    const r = await cli(['-v', ...RUN]);
    const logs = lines(r.stderr);
    for (const l of logs) expect(l).toMatch(LOG_LINE);
    expect(logs.some((l) => l.startsWith('[D]'))).toBe(true);
  });

  it('-q keeps only warnings and errors', async () => {
    const r = await cli(['-q', ...RUN]);
    const logs = lines(r.stderr);
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(l).toMatch(/^\[[WEF]\]/);
  });

  it('-Q prints nothing for a normal run, but still the fatal error of a failed one', async () => {
    const ok = await cli(['-Q', ...RUN]);
    expect(ok.stderr).toBe('');
    const bad = await cli(['-Q', '--chroot', '/', '--', '/nonexistent/program']);
    expect(bad.code).toBe(255);
    expect(bad.stderr).toMatch(/nonexistent\/program/);
  });

  it('--log FILE appends the log lines to FILE instead of stderr', async () => {
    const file = path.join(tmp().dir, 'jail.log');
    fs.writeFileSync(file, 'previous line\n');
    const r = await cli(['--log', file, ...RUN]);
    expect(r.code).toBe(0);
    expect(logLines(r)).toEqual([]);
    const content = lines(fs.readFileSync(file, 'utf8'));
    expect(content[0]).toBe('previous line');
    expect(content.length).toBeGreaterThan(1);
    for (const l of content.slice(1)) expect(l).toMatch(LOG_LINE);
    const short = await cli(['-l', file, ...RUN]);
    expect(short.code).toBe(0);
    expect(lines(fs.readFileSync(file, 'utf8')).length).toBeGreaterThan(content.length);
  });

  it('--log_fd 3 writes the log lines to fd 3', async () => {
    const r = await cli(['--log_fd', '3', ...RUN], { extraStdio: ['pipe'] });
    expect(r.code).toBe(0);
    expect(logLines(r)).toEqual([]);
    const logs = lines(r.extra[3]);
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(l).toMatch(LOG_LINE);
  });
});

describeAsRoot('jail CLI: bad input is refused before anything runs', () => {
  const tmp = cliFixture();

  it.each([
    [['-t', 'abc'], /time_limit.*abc/],
    [['--rlimit_as', '-5'], /rlimit_as.*-5/],
    [['-B', '/nonexistent-jail-it'], /nonexistent-jail-it/],
    [['--no-such-flag'], /no-such-flag/],
    [['--rlimit_nofile', 'lots'], /rlimit_nofile.*lots/],
    [['--cap', 'CAP_NOPE'], /CAP_NOPE/],
    [['--nice_level', 'high'], /nice_level.*high/],
  ])('%j: exit 255, a short message naming it, nothing launched', async (bad, pattern) => {
    const marker = path.join(tmp().dir, `launched-${Math.random().toString(36).slice(2)}`);
    // If the jail ran, /bin/touch would create the marker through the writable bind.
    const r = await cli(['--chroot', '/', '-B', `${tmp().dir}:/mnt`, ...bad, '--', '/bin/touch', `/mnt/${path.basename(marker)}`]);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    const msg = lines(r.stderr).filter((l) => !/^\s+hint:/.test(l));
    expect(msg.length).toBe(1);
    expect(msg[0]).toMatch(pattern);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('several bad values are all reported at once', async () => {
    const r = await cli(['-t', 'abc', '--rlimit_as', '-5', '--chroot', '/', '--', '/bin/true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/time_limit/);
    expect(r.stderr).toMatch(/rlimit_as/);
  });

  it('--help prints the exit code table and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes/);
    expect(r.stdout).toMatch(/159/);
    expect(r.stdout).toMatch(/PATH/);
  });
});

describeAsRoot('jail plan and jail check', () => {
  beforeAll(() => assertBuilt());
  afterEach(() => killSpawned());

  it('`jail plan` prints the plan JSON and runs nothing', async () => {
    const r = await cli(['plan', '--chroot', '/', '-H', 'planned', '-t', '9', '--', '/bin/echo', 'hi']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.hostname).toBe('planned');
    expect(plan.exec.path).toBe('/bin/echo');
    expect(plan.exec.argv).toEqual(['/bin/echo', 'hi']);
    expect(typeof plan.cloneFlags).toBe('number');
    expect(Array.isArray(plan.mounts)).toBe(true);
    expect(r.stdout).not.toMatch(/^hi$/m);
  });

  it('`jail check` validates: 0 and OK, or 255 with the error', async () => {
    const ok = await cli(['check', '--chroot', '/', '-t', '5']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/OK/);
    const bad = await cli(['check', '-t', 'abc']);
    expect(bad.code).toBe(255);
    expect(bad.stderr).toMatch(/time_limit/);
  });
});

describeAsRoot('-Mo and -Me (execve mode)', () => {
  beforeAll(() => {
    assertBuilt();
    probePath();
  });
  afterEach(() => killSpawned());

  it('-Mo is the default mode', async () => {
    const r = await cli(['-Q', '-Mo', '--chroot', '/', '--', '/bin/sh', '-c', 'echo once; exit 4']);
    expect(r.stdout).toBe('once\n');
    expect(r.code).toBe(4);
  });

  it('`jail -Me --chroot / -- /bin/echo ABC` prints ABC and exits 0 as root (nsjail fails here)', async () => {
    const r = await cli(['-Me', '--chroot', '/', '--', '/bin/echo', 'ABC']);
    expect(r.stderr).not.toMatch(/\[E\]/);
    expect(r.stdout).toBe('ABC\n');
    expect(r.code).toBe(0);
  });

  it('-Me passes the exit code through and isolates like -Mo (hostname, namespaces, caps)', async () => {
    const code = await cli(['-Q', '-Me', '--chroot', '/', '--', '/bin/sh', '-c', 'exit 7']);
    expect(code.code).toBe(7);
    const r = await cli(['-Q', '-Me', '--chroot', '/', '--', probePath(), 'hostname', 'ns', 'caps', 'ids', 'env']);
    expect(r.code).toBe(0);
    const probe = parseProbe(r.stdout);
    expect(probe.hostname).toBe('NSJAIL');
    expect(probe.env).toEqual([]);
    expect(probe.caps.effective).toBe('0000000000000000');
    expect(probe.caps.noNewPrivs).toBe(1);
    const host = fs.readlinkSync('/proc/self/ns/net');
    expect(probe.ns.net).not.toBe(host);
    expect(probe.ns.mnt).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
  });
});
