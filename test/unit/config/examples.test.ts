import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatConfigText, loadConfig, parseConfigText } from '../../../src/config';
import { configFromObject } from '../../../src/config';

const EXAMPLES = join(__dirname, '../../../examples');
const configs = readdirSync(EXAMPLES).filter((f) => /\.(cfg|json)$/.test(f));

describe('examples', () => {
  it('has the configs users start from', () => {
    expect(configs.sort()).toEqual(['interactive-shell.cfg', 'pipeline-step.cfg', 'python-playground.cfg', 'python-playground.json', 'static-binary.cfg']);
    expect(readFileSync(join(EXAMPLES, 'hello.py'), 'utf8')).toContain('print(');
  });

  for (const name of configs) {
    it(`${name} loads, and survives parse -> formatConfigText -> parse`, () => {
      const first = loadConfig(join(EXAMPLES, name)).config;
      const text = formatConfigText(first);
      const second = parseConfigText(text, `${name} (canonical)`).config;
      expect(second).toEqual(first);
      expect(formatConfigText(second)).toBe(text);
    });
  }

  it('python-playground.json is the same jail as python-playground.cfg', () => {
    const text = loadConfig(join(EXAMPLES, 'python-playground.cfg')).config;
    const json = loadConfig(join(EXAMPLES, 'python-playground.json')).config;
    expect({ ...json, name: '', description: [] }).toEqual({ ...text, name: '', description: [] });
  });

  it('python-playground.cfg is what issue 3 asks for', () => {
    const c = loadConfig(join(EXAMPLES, 'python-playground.cfg')).config;
    expect(c.uidmap[0]).toMatchObject({ insideId: '65534', outsideId: '65534' });
    expect(c.gidmap[0]).toMatchObject({ insideId: '65534', outsideId: '65534' });
    expect(c.cwd).toBe('/data');
    expect(c.envar).toEqual(expect.arrayContaining(['HOME=/data', 'PATH=/usr/local/bin:/usr/bin:/bin', 'HF_TOKEN']));
    expect(c.keepCaps || c.cap.length > 0).toBe(false);
    expect(c.cgroupMemMax).toBe(1073741824);
    expect(c.rlimitFsize).toBe(8192);
    expect(c.timeLimit).toBeGreaterThan(0);
    const byDst = new Map(c.mount.map((m) => [m.dst, m]));
    expect(byDst.get('/data')).toMatchObject({ fstype: 'tmpfs', rw: true });
    expect(byDst.get('/tmp')).toMatchObject({ fstype: 'tmpfs', rw: true });
    expect(byDst.get('/lib64')).toMatchObject({ mandatory: false });
    for (const ro of ['/usr', '/lib', '/bin', '/etc/ld.so.cache', '/dev/urandom', '/dev/zero']) expect(byDst.get(ro), ro).toMatchObject({ isBind: true, rw: false });
    expect(byDst.get('/dev/null')).toMatchObject({ isBind: true, rw: true });
  });
});

describe('formatConfigText', () => {
  it('writes strings, bytes and nested messages so they read back the same', () => {
    const c = configFromObject({
      hostname: 'quote " backslash \\ tab \t newline \n bell \x07 é 😀',
      description: ['a', ''],
      mount: [{ dst: '/f', src_content: new Uint8Array([0, 255, 34, 92, 10, 65]) }],
      exec_bin: { path: '/bin/x', arg: ['-c', 'echo "hi"'], arg0: 'x', exec_fd: true },
      user_net: { rule4: [{ action: 'DROP' }], pasta: { nat: false } },
      traffic_rule: [{ dst_ip: '10.0.0.0/8', proto: 'TCP' }],
      uidmap: [{ inside_id: '0', outside_id: '1000', count: 1 }],
      nice_level: -3,
      cgroup_mem_swap_max: 0,
      log_level: 'ERROR',
      is_dir: undefined,
    }).config;
    const text = formatConfigText(c);
    expect(parseConfigText(text).config).toEqual(c);
    expect(text).toContain('src_content: "\\000\\377\\"\\\\\\nA"');
    expect(text).toContain('hostname: "quote \\" backslash \\\\ tab \\t newline \\n bell \\007 é 😀"');
    expect(text).toContain('user_net {\n  rule4 {\n    action: DROP\n  }\n  pasta {\n    nat: false\n  }\n}');
  });

  it('leaves out defaults and the synthesized id maps, and lists command-line-only settings in a comment', () => {
    expect(formatConfigText(configFromObject({}).config)).toBe('');
    expect(formatConfigText(configFromObject({ chroot: '/', rw: true, time_limit: 5 }).config)).toBe(
      '# command-line settings, not part of the config format: --chroot / --rw\ntime_limit: 5\n',
    );
  });
});
