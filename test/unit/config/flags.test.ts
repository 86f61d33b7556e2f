import { describe, expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { configFromFlags, defineJailFlags, jailFlagNames, parseSize } from '../../../src/config';
import type { Config } from '../../../src/config';
import { dir, file, idFiles, messages, thrown } from './helpers';

function command() {
  const cmd = new Command('jail').exitOverride().allowExcessArguments().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  const recorder = defineJailFlags(cmd);
  return { cmd, recorder };
}

function load(args: string[]) {
  const { cmd, recorder } = command();
  cmd.parse(args, { from: 'user' });
  return configFromFlags(recorder.events, { cwd: dir, env: {}, idFiles });
}

const cfg = (...args: string[]): Config => load(args).config;

// Every flag of nsjail's cmdline.cc but -h, which is commander's.
const NSJAIL_FLAGS = (
  'mode config exec_file execute_fd chroot no_pivotroot rw user group hostname cwd port bindhost max_conns max_conns_per_ip ' +
  'log log_fd time_limit max_cpus daemon verbose quiet really_quiet keep_env env keep_caps cap silent stderr_to_null ' +
  'skip_setsid pass_fd disable_no_new_privs rlimit_as rlimit_core rlimit_cpu rlimit_fsize rlimit_nofile rlimit_nproc ' +
  'rlimit_stack rlimit_memlock rlimit_rtprio rlimit_msgqueue disable_rlimits persona_addr_compat_layout ' +
  'persona_mmap_page_zero persona_read_implies_exec persona_addr_limit_3gb persona_addr_no_randomize disable_clone_newnet ' +
  'disable_clone_newuser disable_clone_newns disable_clone_newpid disable_clone_newipc disable_clone_newuts ' +
  'disable_clone_newcgroup enable_clone_newtime uid_mapping gid_mapping bindmount_ro bindmount tmpfsmount mount symlink ' +
  'disable_proc proc_path proc_rw experimental_mnt seccomp_policy seccomp_string seccomp_log seccomp_unotify ' +
  'seccomp_unotify_report nice_level cgroup_mem_max cgroup_mem_memsw_max cgroup_mem_swap_max cgroup_mem_mount ' +
  'cgroup_mem_parent cgroup_pids_max cgroup_pids_mount cgroup_pids_parent cgroup_net_cls_classid cgroup_net_cls_mount ' +
  'cgroup_net_cls_parent cgroup_cpu_ms_per_sec cgroup_cpu_mount cgroup_cpu_parent cgroupv2_mount use_cgroupv2 ' +
  'detect_cgroupv2 iface_no_lo iface_own macvlan_iface macvlan_vs_ip macvlan_vs_nm macvlan_vs_gw macvlan_vs_ma ' +
  'macvlan_vs_mo disable_tsc forward_signals use_core_scheduling user_net oom_score_adj'
).split(' ');

describe('flag registration', () => {
  it("registers all of nsjail's 103 flags plus -h, and jail's extra spellings", () => {
    expect(NSJAIL_FLAGS.length).toBe(103);
    expect(jailFlagNames().sort()).toEqual([...NSJAIL_FLAGS, 'memory', 'pids', 'cpus', 'clone_newtime', 'net', 'allow', 'publish'].sort());
  });

  it("keeps nsjail's short options", () => {
    const { cmd } = command();
    const shorts = cmd.options.filter((o) => o.short).map((o) => o.short!.slice(1)).sort().join('');
    expect(shorts).toBe('BCDEGHILMNPQRTUcdegilmpqstuvx');
  });

  it('groups the help like nsjail and shows defaults and units', () => {
    const { cmd } = command();
    const help = cmd.helpInformation();
    const headings = help.split('\n').filter((l) => /^\S.*:$/.test(l));
    expect(headings).toEqual([
      'Mode and command:',
      'Users and groups (user namespace):',
      'Filesystem:',
      'Process:',
      'Environment and privileges:',
      'Resource limits (setrlimit, soft = hard):',
      'cgroups:',
      'Namespaces:',
      'Networking:',
      'Seccomp:',
      'Logging:',
      'Personality:',
      'Listen mode (TCP server, -Ml):',
      'Options:',
    ]);
    expect(help).toMatch(/-t, --time_limit <sec> +wall-clock time limit; .*\(default: 600 s\)/);
    expect(help).toMatch(/--rlimit_as <MiB\|soft\|hard\|inf> +RLIMIT_AS, address space in MiB; .*\(default: 4096 MiB\)/);
    expect(help).not.toContain('not supported yet');
    expect(help).not.toContain('--clone_newtime ');
  });
});

describe('flag values', () => {
  it('reads short, attached and --long=value forms', () => {
    expect(cfg('-t', '3').timeLimit).toBe(3);
    expect(cfg('-t3').timeLimit).toBe(3);
    expect(cfg('--time_limit=4').timeLimit).toBe(4);
    expect(cfg('-Me').mode).toBe('EXECVE');
    expect(cfg('-M', 'once').mode).toBe('ONCE');
    expect(cfg('-Nd').cloneNewnet).toBe(false);
    expect(cfg('-t', '0x10').timeLimit).toBe(16);
    expect(cfg('-t', '010').timeLimit).toBe(8);
  });

  it('applies the last of repeated single-value flags and collects repeatable ones', () => {
    expect(cfg('-t', '3', '-t', '5').timeLimit).toBe(5);
    expect(cfg('-E', 'A=1', '--env', 'B', '-E', 'C=x=y').envar).toEqual(['A=1', 'B', 'C=x=y']);
    expect(cfg('--pass_fd', '3', '--pass_fd', '4').passFd).toEqual([3, 4]);
    expect(cfg('--cap', 'CAP_NET_RAW', '--cap', 'CAP_SYS_ADMIN').cap).toEqual(['CAP_NET_RAW', 'CAP_SYS_ADMIN']);
    expect(cfg('--seccomp_string', 'ALLOW { read }', '--seccomp_string', 'DEFAULT KILL').seccompString).toEqual(['ALLOW { read }', 'DEFAULT KILL']);
    expect(cfg('--iface_own', 'eth1', '--iface_own', 'eth2').ifaceOwn).toEqual(['eth1', 'eth2']);
  });

  it('sets every boolean flag', () => {
    const c = cfg(
      '--execute_fd', '--no_pivotroot', '--rw', '-d', '-e', '--keep_caps', '--silent', '--stderr_to_null', '--skip_setsid',
      '--disable_no_new_privs', '--disable_rlimits', '--persona_addr_compat_layout', '--persona_mmap_page_zero',
      '--persona_read_implies_exec', '--persona_addr_limit_3gb', '--persona_addr_no_randomize', '-N', '--disable_clone_newuser',
      '--disable_clone_newns', '--disable_clone_newpid', '--disable_clone_newipc', '--disable_clone_newuts',
      '--disable_clone_newcgroup', '--enable_clone_newtime', '--disable_proc', '--proc_rw', '--seccomp_log', '--seccomp_unotify',
      '--use_cgroupv2', '--detect_cgroupv2', '--iface_no_lo', '--disable_tsc', '--forward_signals', '--use_core_scheduling',
    );
    expect(c).toMatchObject({
      executeFd: true, noPivotroot: true, rw: true, daemon: true, keepEnv: true, keepCaps: true, silent: true,
      stderrToNull: true, skipSetsid: true, disableNoNewPrivs: true, disableRl: true, personaAddrCompatLayout: true,
      personaMmapPageZero: true, personaReadImpliesExec: true, personaAddrLimit3gb: true, personaAddrNoRandomize: true,
      cloneNewnet: false, cloneNewuser: false, cloneNewns: false, cloneNewpid: false, cloneNewipc: false, cloneNewuts: false,
      cloneNewcgroup: false, cloneNewtime: true, mountProc: false, procRw: true, seccompLog: true, seccompUnotify: true,
      useCgroupv2: true, detectCgroupv2: true, ifaceNoLo: true, disableTsc: true, forwardSignals: true, useCoreScheduling: true,
    });
    expect(cfg('--clone_newtime').cloneNewtime).toBe(true);
  });

  it('sets every string and number flag', () => {
    const c = cfg(
      '-x', '/bin/x', '-c', '/root', '-H', 'host', '-D', '/work', '-p', '8080', '--bindhost', '127.0.0.1', '--max_conns', '4',
      '-i', '2', '-l', '/tmp/log', '-L', '5', '--max_cpus', '2', '--nice_level', '-5', '--oom_score_adj', '-1000',
      '--proc_path', '/p', '-P', 'x.policy', '--seccomp_unotify_report', 'r.txt', '--cgroup_mem_mount', '/m',
      '--cgroup_mem_parent', 'MP', '--cgroup_pids_max', '32', '--cgroup_pids_mount', '/pm', '--cgroup_pids_parent', 'PP',
      '--cgroup_net_cls_classid', '0x100001', '--cgroup_net_cls_mount', '/n', '--cgroup_net_cls_parent', 'NP',
      '--cgroup_cpu_ms_per_sec', '500', '--cgroup_cpu_mount', '/c', '--cgroup_cpu_parent', 'CP', '--cgroupv2_mount', '/v2',
      '-I', 'eth0', '--macvlan_vs_ip', '10.0.0.2', '--macvlan_vs_nm', '255.0.0.0', '--macvlan_vs_gw', '10.0.0.1',
      '--macvlan_vs_ma', 'ba:ad:ba:be:45:00', '--macvlan_vs_mo', 'bridge', '--experimental_mnt', 'new',
    );
    expect(c).toMatchObject({
      execBin: { path: '/bin/x', arg: [], execFd: false }, chroot: '/root', hostname: 'host', cwd: '/work', port: 8080,
      mode: 'LISTEN', bindhost: '127.0.0.1', maxConns: 4, maxConnsPerIp: 2, logFile: '/tmp/log', logFd: 5, maxCpus: 2,
      niceLevel: -5, oomScoreAdj: -1000, procPath: '/p', mountProc: true, seccompPolicyFile: 'x.policy',
      seccompUnotifyReport: 'r.txt', cgroupMemMount: '/m', cgroupMemParent: 'MP', cgroupPidsMax: 32, cgroupPidsMount: '/pm',
      cgroupPidsParent: 'PP', cgroupNetClsClassid: 0x100001, cgroupNetClsMount: '/n', cgroupNetClsParent: 'NP',
      cgroupCpuMsPerSec: 500, cgroupCpuMount: '/c', cgroupCpuParent: 'CP', cgroupv2Mount: '/v2', macvlanIface: 'eth0',
      macvlanVsIp: '10.0.0.2', macvlanVsNm: '255.0.0.0', macvlanVsGw: '10.0.0.1', macvlanVsMa: 'ba:ad:ba:be:45:00',
      macvlanVsMo: 'bridge',
    });
  });

  it('reads log levels from -v, -q and -Q (the last one wins)', () => {
    expect(cfg('-v').logLevel).toBe('DEBUG');
    expect(cfg('-q').logLevel).toBe('WARNING');
    expect(cfg('-Q').logLevel).toBe('FATAL');
    expect(cfg('-v', '-q').logLevel).toBe('WARNING');
    expect(cfg().logLevel).toBeUndefined();
  });

  it('reads -u/-g inside[:outside[:count]] with names, and -U/-G for newuidmap', () => {
    expect(cfg('-u', '1000').uidmap).toEqual([{ insideId: '1000', outsideId: '', count: 1, useNewidmap: false }]);
    expect(cfg('-u', 'nobody:alice:5').uidmap).toEqual([{ insideId: '65534', outsideId: '1001', count: 5, useNewidmap: false }]);
    expect(cfg('-u', '0::0', '-u', '1:100000:65536').uidmap).toEqual([
      { insideId: '0', outsideId: '', count: 1, useNewidmap: false },
      { insideId: '1', outsideId: '100000', count: 65536, useNewidmap: false },
    ]);
    expect(cfg('-g', 'nogroup:staff').gidmap).toEqual([{ insideId: '65534', outsideId: '50', count: 1, useNewidmap: false }]);
    expect(cfg('-U', '0:100000:65536').uidmap).toEqual([{ insideId: '0', outsideId: '100000', count: 65536, useNewidmap: true }]);
    expect(cfg('-G', '0:100000:1').gidmap).toEqual([{ insideId: '0', outsideId: '100000', count: 1, useNewidmap: true }]);
  });

  it('reads mount specs', () => {
    const c = cfg(
      '-R', '/usr', '-R', '/etc/hosts:/etc/h', '-B', '/data', '-B', '/a:/b:nosuid', '-T', '/tmp',
      '-m', 'none:/t2:tmpfs:size=8388608,mode=1777', '-m', '/dev/sda1::ext4:a:b', '-s', '/proc/self/fd:/dev/fd',
    );
    const m = c.mount.map(({ src, dst, fstype, options, isBind, rw, isDir, isSymlink }) => ({ src, dst, fstype, options, isBind, rw, isDir, isSymlink }));
    expect(m).toEqual([
      { src: '/usr', dst: '/usr', fstype: '', options: '', isBind: true, rw: false, isDir: undefined, isSymlink: false },
      { src: '/etc/hosts', dst: '/etc/h', fstype: '', options: '', isBind: true, rw: false, isDir: undefined, isSymlink: false },
      { src: '/data', dst: '/data', fstype: '', options: '', isBind: true, rw: true, isDir: undefined, isSymlink: false },
      { src: '/a', dst: '/b', fstype: '', options: 'nosuid', isBind: true, rw: true, isDir: undefined, isSymlink: false },
      { src: '', dst: '/tmp', fstype: 'tmpfs', options: 'size=4194304', isBind: false, rw: true, isDir: true, isSymlink: false },
      { src: 'none', dst: '/t2', fstype: 'tmpfs', options: 'size=8388608,mode=1777', isBind: false, rw: true, isDir: undefined, isSymlink: false },
      { src: '/dev/sda1', dst: '/dev/sda1', fstype: 'ext4', options: 'a:b', isBind: false, rw: true, isDir: undefined, isSymlink: false },
      { src: '/proc/self/fd', dst: '/dev/fd', fstype: '', options: '', isBind: false, rw: false, isDir: undefined, isSymlink: true },
    ]);
    expect(c.mount.every((x) => x.mandatory)).toBe(true);
  });

  it('reads rlimits: numbers in the unit, sizes, and soft|hard|inf|def|max', () => {
    expect(cfg('--rlimit_as', '512')).toMatchObject({ rlimitAs: 512, rlimitAsType: 'VALUE' });
    expect(cfg('--rlimit_as', '2G')).toMatchObject({ rlimitAs: 2048, rlimitAsType: 'VALUE' });
    expect(cfg('--rlimit_fsize', '8GiB').rlimitFsize).toBe(8192);
    expect(cfg('--rlimit_memlock', '1M').rlimitMemlock).toBe(1024);
    expect(cfg('--rlimit_msgqueue', '4k').rlimitMsgqueue).toBe(4096);
    expect(cfg('--rlimit_as', 'inf')).toMatchObject({ rlimitAs: 4096, rlimitAsType: 'INF' });
    expect(cfg('--rlimit_nproc', 'soft').rlimitNprocType).toBe('SOFT');
    expect(cfg('--rlimit_nproc', 'def').rlimitNprocType).toBe('SOFT');
    expect(cfg('--rlimit_stack', 'hard').rlimitStackType).toBe('HARD');
    expect(cfg('--rlimit_stack', 'MAX').rlimitStackType).toBe('HARD');
    expect(cfg('--rlimit_nofile', '1024', '--rlimit_cpu', '5', '--rlimit_core', '0', '--rlimit_rtprio', '1')).toMatchObject({
      rlimitNofile: 1024, rlimitCpu: 5, rlimitCore: 0, rlimitRtprio: 1, rlimitRtprioType: 'VALUE',
    });
    // A number after a word switches back to VALUE.
    expect(cfg('--rlimit_nproc', 'hard', '--rlimit_nproc', '64')).toMatchObject({ rlimitNproc: 64, rlimitNprocType: 'VALUE' });
  });

  it('reads Docker-style --memory, --pids and --cpus', () => {
    expect(cfg('--memory', '1G').cgroupMemMax).toBe(1073741824);
    expect(cfg('--memory', '512M').cgroupMemMax).toBe(536870912);
    expect(cfg('--memory', '1.5G').cgroupMemMax).toBe(1610612736);
    expect(cfg('--memory', '1000').cgroupMemMax).toBe(1000);
    expect(cfg('--cgroup_mem_max', '1GiB').cgroupMemMax).toBe(1073741824);
    expect(cfg('--cgroup_mem_swap_max', '-1').cgroupMemSwapMax).toBe(-1);
    expect(cfg('--cgroup_mem_swap_max', '0').cgroupMemSwapMax).toBe(0);
    expect(cfg('--cgroup_mem_memsw_max', '2G').cgroupMemMemswMax).toBe(2147483648);
    expect(cfg('--pids', '32').cgroupPidsMax).toBe(32);
    expect(cfg('--cpus', '0.5').cgroupCpuMsPerSec).toBe(500);
    expect(cfg('--cpus', '2').cgroupCpuMsPerSec).toBe(2000);
  });

  it('parses sizes', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('1k')).toBe(1024);
    expect(parseSize('1KB')).toBe(1024);
    expect(parseSize('2MiB')).toBe(2097152);
    expect(parseSize('1.5G')).toBe(1610612736);
    expect(parseSize('1T')).toBe(2 ** 40);
    expect(parseSize('.5K')).toBe(512);
    expect(parseSize('10b')).toBe(10);
    for (const bad of ['', 'G', '1X', '-1G', '1iB', '1 G B', '1e3']) expect(() => parseSize(bad), bad).toThrow(/invalid size/);
    expect(() => parseSize('9000P')).toThrow(/too large/);
  });
});

describe('--config precedence', () => {
  const cfgFile = file(
    'prec.cfg',
    [
      'time_limit: 7',
      'hostname: "fromfile"',
      'uidmap { inside_id: "65534" outside_id: "65534" }',
      'pass_fd: 9',
      'envar: "FILE=1"',
      'mount { dst: "/filemount" fstype: "tmpfs" }',
    ].join('\n'),
  );

  it('replaces what earlier flags set; later flags override the file', () => {
    expect(cfg('-t', '3', '--config', cfgFile).timeLimit).toBe(7);
    expect(cfg('--config', cfgFile, '-t', '3').timeLimit).toBe(3);
    expect(cfg('-H', 'flag', '-C', cfgFile).hostname).toBe('fromfile');
    expect(cfg('-E', 'FLAG=1', '-C', cfgFile, '-E', 'LATE=1').envar).toEqual(['FILE=1', 'LATE=1']);
    expect(cfg('-T', '/flagtmp', '-C', cfgFile).mount.map((m) => m.dst)).toEqual(['/filemount']);
    // Fields the file leaves unset return to their defaults, as with nsjail's CopyFrom.
    expect(cfg('--rlimit_as', '1', '--cap', 'CAP_KILL', '-C', cfgFile)).toMatchObject({ rlimitAs: 4096, cap: [] });
  });

  it("keeps what nsjail holds outside the proto, and appends the file's maps and fds", () => {
    const c = cfg('-c', '/root', '--rw', '--proc_path', '/p', '--proc_rw', '--execute_fd', '-u', '0', '--pass_fd', '3', '-C', cfgFile, '-u', '1');
    expect(c).toMatchObject({ chroot: '/root', rw: true, procPath: '/p', procRw: true, executeFd: true });
    expect(c.uidmap.map((m) => m.insideId)).toEqual(['0', '65534', '1']);
    expect(c.passFd).toEqual([3, 9]);
  });

  it('keeps logging flags unless the file sets them', () => {
    const withLevel = file('loglevel.cfg', 'log_level: ERROR\nlog_fd: 7');
    expect(cfg('-v', '-l', '/x.log', '-C', cfgFile)).toMatchObject({ logLevel: 'DEBUG', logFile: '/x.log' });
    expect(cfg('-v', '-L', '3', '-C', withLevel)).toMatchObject({ logLevel: 'ERROR', logFd: 7 });
    expect(cfg('-C', withLevel, '-q').logLevel).toBe('WARNING');
  });

  it('mounts /proc from the command line unless told not to; a config file does not', () => {
    expect(cfg()).toMatchObject({ mountProc: true, procPath: '/proc' });
    expect(cfg('--disable_proc').mountProc).toBe(false);
    expect(cfg('-C', cfgFile).mountProc).toBe(false);
    expect(cfg('-C', file('proc.cfg', 'mount_proc: true')).mountProc).toBe(true);
    expect(cfg('-C', cfgFile, '--proc_path', '/proc').mountProc).toBe(true);
    expect(cfg('--disable_proc', '--proc_path', '/q')).toMatchObject({ mountProc: true, procPath: '/q' });
  });

  it('tracks where each value came from', () => {
    const l = load(['-u', '0', '-t', '3', '-C', cfgFile, '-H', 'late']);
    expect(l.flags!.get('hostname')).toBe('--hostname');
    expect(l.spans.has('hostname')).toBe(false);
    expect(l.flags!.has('time_limit')).toBe(false);
    expect(l.spans.get('time_limit')).toMatchObject({ file: cfgFile, line: 1 });
    expect(l.flags!.get('uidmap.0')).toBe('--user');
    expect(l.spans.get('uidmap.1.inside_id')).toMatchObject({ line: 3 });
    expect(l.setFields.has('uidmap.1.inside_id')).toBe(true);
    expect(l.setFields.has('mount.0.dst')).toBe(true);
  });

  it('reads JSON configs too, and resolves the path against cwd', () => {
    file('prec.json', '{"timeLimit": 11}');
    expect(cfg('-C', 'prec.json').timeLimit).toBe(11);
  });

  it('merges -x into a config exec_bin', () => {
    const exe = file('exe.cfg', 'exec_bin { path: "/bin/echo" arg: "a" }');
    expect(cfg('-C', exe, '-x', '/bin/printf').execBin).toEqual({ path: '/bin/printf', arg: ['a'], execFd: false });
    expect(cfg('-x', '/bin/printf', '-C', exe).execBin).toEqual({ path: '/bin/echo', arg: ['a'], execFd: false });
  });
});

describe('post-parse rules', () => {
  it("maps the caller's ids to themselves when no map is given", () => {
    const c = cfg();
    expect(c.uidmap).toEqual([{ insideId: '', outsideId: '', count: 1, useNewidmap: false }]);
    expect(c.gidmap).toEqual([{ insideId: '', outsideId: '', count: 1, useNewidmap: false }]);
    expect(cfg('-u', '5').gidmap).toEqual([{ insideId: '', outsideId: '', count: 1, useNewidmap: false }]);
  });

  it('treats a count below 1 as 1', () => {
    expect(cfg('-u', '5:6:0').uidmap[0].count).toBe(1);
  });

  it('refuses cgroup_mem_memsw_max together with cgroup_mem_swap_max', () => {
    expect(messages(() => cfg('--cgroup_mem_memsw_max', '2G', '--cgroup_mem_swap_max', '0'))).toEqual([
      'flag --cgroup_mem_memsw_max: cgroup_mem_memsw_max and cgroup_mem_swap_max cannot be used together: set memory+swap with cgroup_mem_memsw_max, or swap alone with cgroup_mem_swap_max',
    ]);
    expect(cfg('--cgroup_mem_memsw_max', '2G', '--cgroup_mem_swap_max', '-1').cgroupMemMemswMax).toBe(2147483648);
    const f = file('memsw.cfg', 'cgroup_mem_memsw_max: 100\ncgroup_mem_swap_max: 0');
    expect(thrown(() => cfg('-C', f)).span).toMatchObject({ file: f, line: 1 });
  });

  it('refuses a seccomp policy file together with --seccomp_string', () => {
    expect(messages(() => cfg('-P', 'a.policy', '--seccomp_string', 'DEFAULT ALLOW'))).toEqual([
      'flag --seccomp_string: a seccomp policy file and seccomp_string cannot be used together: put the whole policy in one of them',
    ]);
  });

  it('sends a daemon without a log target to /var/log/nsjail.log', () => {
    expect(cfg('-d').logFile).toBe('/var/log/nsjail.log');
    expect(cfg('-d', '-L', '3').logFile).toBeUndefined();
  });
});

describe('bad flags', () => {
  it('names the flag, the value and what is accepted, one line each, all at once', () => {
    expect(
      messages(() =>
        cfg('-t', 'abc', '--rlimit_as', '-5', '-M', 'x', '-u', 'a:b:c:d', '--cap', 'CAP_NET_RAWW', '--nice_level', '1.5', '-p', '70000',
          '-T', '', '-s', 'nolink', '-m', '/a', '-R', '/a:/b:/c', '--memory', 'lots', '--cpus', '0', '-E', '=x', '--pass_fd', '-1',
          '--oom_score_adj', '2000', '--macvlan_vs_mo', 'weird', '--experimental_mnt', 'default'),
      ).map((m) => m.replace(/; expected one of CAP_CHOWN.*/, '; expected one of CAP_CHOWN, ...')),
    ).toEqual([
      'flag --time_limit "abc": expected a whole number of seconds (0 or more)',
      'flag --rlimit_as "-5": expected a number of MiB or a size like 512M, or soft|hard|inf|def|max',
      'flag --mode "x": expected l (listen), o (once), e (execve) or r (rerun)',
      'flag --user "a:b:c:d": expected inside[:outside[:count]]',
      "flag --cap \"CAP_NET_RAWW\": unknown capability (did you mean 'CAP_NET_RAW'?); expected one of CAP_CHOWN, ...",
      'flag --nice_level "1.5": expected a whole number',
      'flag --port "70000": 70000 is not a TCP port (0..65535)',
      'flag --tmpfsmount "": expected a directory inside the jail',
      'flag --symlink "nolink": expected target:linkpath',
      'flag --mount "/a": expected src:dst:fstype[:options], e.g. none:/tmp:tmpfs:size=8388608',
      'flag --bindmount_ro "/a:/b:/c": expected src[:dst]',
      'flag --memory "lots": expected bytes, or a number with a unit K, M, G, T (binary: 1K = 1024), e.g. 512M, 1.5G, 1GiB',
      'flag --cpus "0": expected a number of CPUs such as 0.5, 1 or 2 (at least 0.001)',
      'flag --env "=x": expected VAR=value or VAR',
      'flag --pass_fd "-1": -1 is not a file descriptor',
      'flag --oom_score_adj "2000": 2000 is out of range: oom_score_adj is -1000..1000',
      'flag --macvlan_vs_mo "weird": expected one of private, vepa, bridge, passthru',
      'flag --experimental_mnt "default": expected one of new, old, auto',
    ]);
  });

  it('reports unknown user and group names after the flags are read', () => {
    expect(messages(() => cfg('-u', 'ghost', '-g', '1:ghosts'))).toEqual([
      `flag --user: unknown user "ghost" (not in ${idFiles.passwd})`,
      `flag --group: unknown group "ghosts" (not in ${idFiles.group})`,
    ]);
  });

  it('reports errors of a --config file with their spans, and a missing file', () => {
    const bad = file('bad.cfg', 'time_limit: x\nhostname: 1');
    const e = thrown(() => cfg('-C', bad, '-t', 'y'));
    expect(e.errors.map((x) => [x.code, x.message, x.span?.line])).toEqual([
      ['config', 'time_limit: expected uint32, got x', 1],
      ['config', 'hostname: expected string, got 1 (text must be in quotes)', 2],
      ['flag', 'flag --time_limit "y": expected a whole number of seconds (0 or more)', undefined],
    ]);
    expect(thrown(() => cfg('-C', 'missing.cfg')).message).toBe("cannot read config file 'missing.cfg': no such file");
  });

  it('leaves unknown flags to commander', () => {
    const { cmd } = command();
    expect(() => cmd.parse(['--time_limt', '3'], { from: 'user' })).toThrow(CommanderError);
    expect(() => cmd.parse(['--time_limt', '3'], { from: 'user' })).toThrow("unknown option '--time_limt'\n(Did you mean --time_limit?)");
  });
});
