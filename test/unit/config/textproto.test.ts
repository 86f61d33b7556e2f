import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config';
import { idFiles, messages, printed, thrown } from './helpers';

const parse = (text: string) => parseConfigText(text, 'test.cfg', { idFiles });
const cfg = (text: string) => parse(text).config;

describe('text format syntax', () => {
  it('reads scalars, messages, comments and separators', () => {
    const c = cfg(`
      # a comment line
      name: "n"   # trailing comment
      time_limit: 3; hostname: 'h',
      mount { src: "/usr" dst: "/usr" is_bind: true }
      mount: { dst: "/tmp"; fstype: "tmpfs", rw: true }
      mount < dst: "/x" >
      mount: < dst: "/y" >
    `);
    expect(c.name).toBe('n');
    expect(c.timeLimit).toBe(3);
    expect(c.hostname).toBe('h');
    expect(c.mount.map((m) => m.dst)).toEqual(['/usr', '/tmp', '/x', '/y']);
    expect(c.mount[0]).toMatchObject({ src: '/usr', isBind: true, rw: false, mandatory: true });
    expect(c.mount[1]).toMatchObject({ fstype: 'tmpfs', rw: true });
  });

  it('repeats fields by repetition and by [a, b] lists, also for messages', () => {
    const c = cfg(`
      envar: "A=1"
      envar: ["B=2", 'C=3']
      envar: []
      mount: [{ dst: "/a" }, < dst: "/b" >]
      mount [{ dst: "/c" }]
    `);
    expect(c.envar).toEqual(['A=1', 'B=2', 'C=3']);
    expect(c.mount.map((m) => m.dst)).toEqual(['/a', '/b', '/c']);
  });

  it('concatenates adjacent strings and decodes C escapes', () => {
    const c = cfg(String.raw`
      hostname: "ab" 'cd'
        "ef"
      description: "\n\t\\\'\"\x41\101\u00e9\U0001F600\ud83d\ude00\a\b\f\r\v\?"
      description: 'it''s'
      description: "caf\303\251"
    `);
    expect(c.hostname).toBe('abcdef');
    expect(c.description[0]).toBe('\n\t\\\'"AAé😀😀\x07\b\f\r\v?');
    expect(c.description[1]).toBe('its');
    expect(c.description[2]).toBe('café');
  });

  it('keeps arbitrary bytes in bytes fields', () => {
    const c = cfg(String.raw`mount { dst: "/f" src_content: "\xff\000a\n" }`);
    expect([...c.mount[0].srcContent!]).toEqual([0xff, 0, 0x61, 0x0a]);
  });

  it('rejects bytes that are not UTF-8 in string fields', () => {
    expect(messages(() => parse(String.raw`hostname: "\xff"`))).toEqual([
      'hostname: is not valid UTF-8 text (escapes such as \\xff belong in bytes fields like src_content)',
    ]);
  });

  it('reads enums by name or number', () => {
    expect(cfg('mode: EXECVE').mode).toBe('EXECVE');
    expect(cfg('mode: 3').mode).toBe('EXECVE');
    expect(cfg('rlimit_as_type: 3').rlimitAsType).toBe('INF');
    expect(cfg('log_level: WARNING').logLevel).toBe('WARNING');
  });

  it('reads integers in decimal, hex and octal', () => {
    expect(cfg('time_limit: 0x10').timeLimit).toBe(16);
    expect(cfg('time_limit: 0X1f').timeLimit).toBe(31);
    expect(cfg('time_limit: 010').timeLimit).toBe(8);
    expect(cfg('time_limit: 0').timeLimit).toBe(0);
    expect(cfg('nice_level: -5').niceLevel).toBe(-5);
    expect(cfg('nice_level: - 5').niceLevel).toBe(-5);
    expect(cfg('cgroup_mem_swap_max: -1').cgroupMemSwapMax).toBe(-1);
    expect(cfg('rlimit_as: 9007199254740991').rlimitAs).toBe(9007199254740991);
  });

  it('checks integer ranges per type', () => {
    expect(messages(() => parse('time_limit: 4294967296'))).toEqual(['time_limit: 4294967296 is out of range for uint32 (0..4294967295)']);
    expect(cfg('time_limit: 4294967295').timeLimit).toBe(4294967295);
    expect(messages(() => parse('time_limit: -1'))).toEqual(['time_limit: -1 is out of range: uint32 cannot be negative']);
    expect(messages(() => parse('log_fd: 2147483648'))).toEqual(['log_fd: 2147483648 is out of range for int32 (-2147483648..2147483647)']);
    expect(cfg('log_fd: -2147483648').logFd).toBe(-2147483648);
    expect(messages(() => parse('rlimit_as: -1'))).toEqual(['rlimit_as: -1 is out of range: uint64 cannot be negative']);
    expect(messages(() => parse('rlimit_as: 18446744073709551616'))).toEqual([
      'rlimit_as: 18446744073709551616 is out of range for uint64 (0..18446744073709551615)',
    ]);
    expect(messages(() => parse('cgroup_mem_swap_max: -9223372036854775809'))).toEqual([
      'cgroup_mem_swap_max: -9223372036854775809 is out of range for int64 (-9223372036854775808..9223372036854775807)',
    ]);
    expect(messages(() => parse('rlimit_as: 18446744073709551615'))).toEqual([
      'rlimit_as: 18446744073709551615 is too large: values beyond 2^53 (9007199254740991) are not supported',
    ]);
  });

  it('reads booleans as protobuf does', () => {
    for (const [word, value] of [['true', true], ['True', true], ['t', true], ['1', true], ['false', false], ['False', false], ['f', false], ['0', false]] as const) {
      expect(cfg(`keep_env: ${word}`).keepEnv).toBe(value);
    }
    expect(messages(() => parse('keep_env: 2'))).toEqual(['keep_env: expected bool (true or false), got 2']);
    expect(messages(() => parse('keep_env: "true"'))).toEqual(['keep_env: expected bool (true or false), got "true"']);
    expect(messages(() => parse('keep_env: TRUE'))).toEqual(['keep_env: expected bool (true or false), got TRUE']);
  });

  it('gives an empty file every default', () => {
    const c = cfg('');
    expect(c.timeLimit).toBe(600);
    expect(c.mountProc).toBe(false);
    expect(cfg('# only a comment\n').hostname).toBe('NSJAIL');
  });
});

describe('text format errors', () => {
  it('points at the token with a caret', () => {
    expect(printed(() => parse('hostname: "x"\ntime_limit: abc\n'))).toMatchInlineSnapshot(`
      "test.cfg:2:13: time_limit: expected uint32, got abc
        time_limit: abc
                    ^^^"
    `);
  });

  it('reports every error in the file at once', () => {
    const text = [
      'time_limt: 3',
      'time_limit: 1.5',
      'mode: FOO',
      'mount { srcc: "x" }',
      'hostname: NSJAIL',
      'clone_newnet: yes',
      'cwd: "/" cwd: "/x"',
      'cap: "CAP_NET_RAWW"',
    ].join('\n');
    expect(printed(() => parse(text))).toMatchInlineSnapshot(`
      "test.cfg:1:1: NsJailConfig has no field named "time_limt" (did you mean 'time_limit'?)
        time_limt: 3
        ^^^^^^^^^
      test.cfg:2:13: time_limit: expected uint32, got 1.5
        time_limit: 1.5
                    ^^^
      test.cfg:3:7: mode: unknown Mode value FOO; expected one of LISTEN, ONCE, RERUN, EXECVE (or 0..3)
        mode: FOO
              ^^^
      test.cfg:4:7: mount[0]: missing required field 'dst'
        mount { srcc: "x" }
              ^
      test.cfg:4:9: mount[0]: MountPt has no field named "srcc" (did you mean 'src'?)
        mount { srcc: "x" }
                ^^^^
      test.cfg:5:11: hostname: expected string, got NSJAIL (text must be in quotes)
        hostname: NSJAIL
                  ^^^^^^
      test.cfg:6:15: clone_newnet: expected bool (true or false), got yes
        clone_newnet: yes
                      ^^^
      test.cfg:7:10: cwd: set more than once (first set on line 7); it is not a repeated field
        cwd: "/" cwd: "/x"
                 ^^^
      test.cfg:8:6: cap[0]: unknown capability (did you mean 'CAP_NET_RAW'?); expected one of CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_LINUX_IMMUTABLE, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_PACCT, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_SYS_TIME, CAP_SYS_TTY_CONFIG, CAP_MKNOD, CAP_LEASE, CAP_AUDIT_WRITE, CAP_AUDIT_CONTROL, CAP_SETFCAP, CAP_MAC_OVERRIDE, CAP_MAC_ADMIN, CAP_SYSLOG, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_AUDIT_READ, CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE
        cap: "CAP_NET_RAWW"
             ^^^^^^^^^^^^^^"
    `);
  });

  it('suggests the nearest field name', () => {
    expect(messages(() => parse('time_limt: 3'))).toEqual([`NsJailConfig has no field named "time_limt" (did you mean 'time_limit'?)`]);
    expect(messages(() => parse('timeLimit: 3'))).toEqual([`NsJailConfig has no field named "timeLimit" (did you mean 'time_limit'?)`]);
    expect(messages(() => parse('mount { dst: "/" isbind: true }'))).toEqual([`mount[0]: MountPt has no field named "isbind" (did you mean 'is_bind'?)`]);
    expect(messages(() => parse('bogus_field: 1'))).toEqual(['NsJailConfig has no field named "bogus_field"']);
  });

  it('explains command-line-only settings', () => {
    const e = thrown(() => parse('chroot: "/"'));
    expect(e.message).toBe('NsJailConfig has no field named "chroot"');
    expect(e.hint).toBe("'chroot' is a command-line setting (-c, --chroot), not part of the config format");
  });

  it('names the expected type and the value received', () => {
    expect(messages(() => parse('time_limit: "3"'))).toEqual(['time_limit: expected uint32, got "3"']);
    expect(messages(() => parse('time_limit: ONCE'))).toEqual(['time_limit: expected uint32, got ONCE']);
    expect(messages(() => parse('time_limit { }'))).toEqual(['time_limit: expected uint32, got a message { ... }']);
    expect(messages(() => parse('exec_bin: "/bin/sh"'))).toEqual(['exec_bin: expected a message { ... }, got "/bin/sh"']);
    expect(messages(() => parse('hostname: 5'))).toEqual(['hostname: expected string, got 5 (text must be in quotes)']);
    expect(messages(() => parse('mode: 7'))).toEqual(['mode: unknown Mode value 7; expected one of LISTEN, ONCE, RERUN, EXECVE (or 0..3)']);
    expect(messages(() => parse('mode: once'))).toEqual(['mode: unknown Mode value once (did you mean ONCE?); expected one of LISTEN, ONCE, RERUN, EXECVE (or 0..3)']);
    expect(messages(() => parse('oom_score_adj: 1001'))).toEqual(['oom_score_adj: 1001 is out of range: oom_score_adj is -1000..1000']);
  });

  it('rejects duplicates of non-repeated fields and lists for them', () => {
    expect(messages(() => parse('hostname: "a"\nhostname: "b"'))).toEqual(['hostname: set more than once (first set on line 1); it is not a repeated field']);
    expect(messages(() => parse('exec_bin { path: "/a" }\nexec_bin { path: "/b" }'))).toEqual([
      'exec_bin: set more than once (first set on line 1); it is not a repeated field',
    ]);
    expect(messages(() => parse('hostname: ["a"]'))).toEqual(['hostname: is not a repeated field, so it cannot take a list [...]']);
  });

  it('requires required fields', () => {
    expect(messages(() => parse('mount { src: "/" }'))).toEqual(["mount[0]: missing required field 'dst'"]);
    expect(messages(() => parse('exec_bin { arg: "x" }'))).toEqual(["exec_bin: missing required field 'path'"]);
  });

  it('reports syntax errors and keeps going', () => {
    expect(printed(() => parse('hostname "x"\ntime_limit: 5\nname: "unterminated\ncwd: "/"\n}\n'))).toMatchInlineSnapshot(`
      "test.cfg:1:10: expected ':' or '{' after field name 'hostname', got "x"
        hostname "x"
                 ^^^
      test.cfg:3:7: unterminated string: a string must end on the line it starts
        name: "unterminated
              ^^^^^^^^^^^^^
      test.cfg:5:1: unexpected '}': no message is open here
        }
        ^"
    `);
    expect(printed(() => parse('mount {\n  dst: "/"\n'))).toMatchInlineSnapshot(`
      "test.cfg:1:7: unexpected end of file: '{' opened on line 1 is never closed with '}'
        mount {
              ^"
    `);
    expect(printed(() => parse('mount { dst: "/" >'))).toMatchInlineSnapshot(`
      "test.cfg:1:18: expected '}' to close the message opened on line 1, got '>'
        mount { dst: "/" >
                         ^"
    `);
  });

  it('rejects malformed literals', () => {
    expect(messages(() => parse(String.raw`hostname: "\q"`))).toEqual(['unknown escape sequence \\q; use \\\\ for a backslash']);
    expect(messages(() => parse(String.raw`hostname: "\x"`))).toEqual(['\\x must be followed by one or two hexadecimal digits']);
    expect(messages(() => parse(String.raw`hostname: "\u12"`))).toEqual(['\\u must be followed by 4 hexadecimal digits']);
    expect(messages(() => parse(String.raw`hostname: "\ud800"`))).toEqual(['\\ud800 is not a valid Unicode code point']);
    expect(messages(() => parse('time_limit: 09'))).toEqual(['invalid octal number 09 (a leading 0 means octal)']);
    expect(messages(() => parse('time_limit: 0x'))).toEqual(['expected hexadecimal digits after 0x']);
    expect(messages(() => parse('time_limit: 12ab'))).toEqual(["need space between number and identifier in '12ab'"]);
    expect(messages(() => parse('time_limit: @'))).toEqual(["unexpected character '@'", "expected a value, got end of file"]);
    expect(messages(() => parse('time_limit: -x'))).toEqual(["expected a number after '-', got 'x'"]);
    expect(messages(() => parse('[ext.field]: 1'))).toEqual(["extension and Any fields ([...]) are not part of nsjail's config"]);
    expect(messages(() => parse('envar: ["a" 5]'))).toEqual(["expected ',' or ']' in the list opened on line 1, got '5'"]);
    expect(messages(() => parse('envar: ["a" "b"'))).toEqual(["expected ',' or ']' in the list opened on line 1, got end of file"]);
    expect(messages(() => parse('envar: "a" envar'))).toEqual(["expected ':' or '{' after field name 'envar', got end of file"]);
    expect(messages(() => parse('hostname "x"'))).toEqual(["expected ':' or '{' after field name 'hostname', got \"x\""]);
    expect(messages(() => parse('envar ["x"]'))).toEqual(["envar: expected ':' between the field name and its value"]);
  });

  it('stops after many errors instead of drowning the user', () => {
    const e = thrown(() => parse('x: 1\n'.repeat(200)));
    expect(e.errors.length).toBe(51);
    expect(e.errors[50].message).toBe('too many errors; stopped reading test.cfg');
  });
});

describe('spans and set fields', () => {
  it('records where each value came from', () => {
    const l = parse('time_limit: 3\nmount {\n  dst: "/tmp"\n}\nenvar: ["A", "B"]\n');
    expect(l.spans.get('time_limit')).toEqual({ file: 'test.cfg', line: 1, col: 1, length: 13, lineText: 'time_limit: 3' });
    expect(l.spans.get('mount.0')).toMatchObject({ line: 2, col: 1 });
    expect(l.spans.get('mount.0.dst')).toMatchObject({ line: 3, col: 3, length: 11 });
    expect(l.spans.get('envar.1')).toMatchObject({ line: 5, col: 14, length: 3 });
    expect([...l.setFields].sort()).toEqual(['envar', 'envar.0', 'envar.1', 'mount', 'mount.0', 'mount.0.dst', 'time_limit']);
  });

  it('counts columns in bytes', () => {
    const l = parse('description: "é" hostname: "x"');
    expect(l.spans.get('hostname')).toMatchObject({ col: 19 });
  });
});
