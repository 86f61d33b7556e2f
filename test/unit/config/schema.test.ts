import { describe, expect, it } from 'vitest';
import { defaultConfig, renderFieldsHelp } from '../../../src/config';
import { MESSAGES, NSJAIL_CONFIG, toJsonName } from '../../../src/config/schema';

// nsjail's config.proto field names, message by message. The compiler checks
// that the schema and types.ts agree; this checks both against nsjail.
const PROTO: Record<string, string> = {
  NsJailConfig:
    'name description mode hostname cwd port bindhost max_conns max_conns_per_ip time_limit daemon max_cpus nice_level ' +
    'oom_score_adj use_core_scheduling disable_tsc forward_signals skip_setsid silent stderr_to_null pass_fd log_fd ' +
    'log_file log_level keep_env envar keep_caps cap disable_no_new_privs exec_bin clone_newnet clone_newuser clone_newns ' +
    'clone_newpid clone_newipc clone_newuts clone_newcgroup clone_newtime no_pivotroot uidmap gidmap mount_proc mount ' +
    'rlimit_as rlimit_as_type rlimit_core rlimit_core_type rlimit_cpu rlimit_cpu_type rlimit_fsize rlimit_fsize_type ' +
    'rlimit_nofile rlimit_nofile_type rlimit_nproc rlimit_nproc_type rlimit_stack rlimit_stack_type rlimit_memlock ' +
    'rlimit_memlock_type rlimit_rtprio rlimit_rtprio_type rlimit_msgqueue rlimit_msgqueue_type disable_rl ' +
    'persona_addr_compat_layout persona_mmap_page_zero persona_read_implies_exec persona_addr_limit_3gb ' +
    'persona_addr_no_randomize cgroup_mem_max cgroup_mem_memsw_max cgroup_mem_swap_max cgroup_mem_mount cgroup_mem_parent ' +
    'cgroup_pids_max cgroup_pids_mount cgroup_pids_parent cgroup_net_cls_classid cgroup_net_cls_mount cgroup_net_cls_parent ' +
    'cgroup_cpu_ms_per_sec cgroup_cpu_mount cgroup_cpu_parent cgroupv2_mount use_cgroupv2 detect_cgroupv2 iface_no_lo ' +
    'iface_own macvlan_iface macvlan_vs_ip macvlan_vs_nm macvlan_vs_gw macvlan_vs_ma macvlan_vs_mo traffic_rule user_net ' +
    'seccomp_policy_file seccomp_string seccomp_log seccomp_unotify seccomp_unotify_report',
  IdMap: 'inside_id outside_id count use_newidmap',
  MountPt: 'src prefix_src_env src_content dst prefix_dst_env fstype options is_bind rw is_dir mandatory is_symlink nosuid nodev noexec',
  Exe: 'path arg arg0 exec_fd',
  TrafficRule: 'src_ip dst_ip iif oif proto sport dport sport_end dport_end action ip_family',
  UserNet: 'backend ip4 gw4 ip6 gw6 ns_iface rule4 rule6 pasta',
  NstunRule: 'direction action proto src_ip sport sport_end dst_ip dport dport_end redirect_ip redirect_port',
  Pasta:
    'nat enable_tcp enable_udp enable_icmp ip4_enabled mask4 enable_ip4_dhcp ip6_enabled mask6 enable_ip6_dhcp ' +
    'enable_ip6_ra enable_dns dns_forward map_gw tcp_map_in udp_map_in tcp_map_out udp_map_out',
};

describe('schema', () => {
  it("lists exactly nsjail's fields, plus the command-line-only settings", () => {
    for (const m of MESSAGES) {
      const proto = m.fields.filter((f) => !f.outside && !f.extension).map((f) => f.name);
      expect(proto.sort(), m.name).toEqual(PROTO[m.name].split(' ').sort());
    }
    expect(NSJAIL_CONFIG.fields.filter((f) => f.outside).map((f) => f.name)).toEqual(['chroot', 'rw', 'proc_path', 'proc_rw', 'execute_fd']);
    expect(NSJAIL_CONFIG.fields.filter((f) => f.extension).map((f) => f.name)).toEqual(['net', 'allow', 'publish']);
  });

  it('derives each ProtoJSON name from the proto name', () => {
    for (const m of MESSAGES) for (const f of m.fields) expect(f.json, `${m.name}.${f.name}`).toBe(toJsonName(f.name));
    expect(toJsonName('persona_addr_limit_3gb')).toBe('personaAddrLimit3gb');
  });

  it('gives every default a value of its protobuf type', () => {
    const typeOf: Record<string, string> = { string: 'string', bool: 'boolean', enum: 'string', int32: 'number', uint32: 'number', int64: 'number', uint64: 'number' };
    for (const m of MESSAGES) {
      for (const f of m.fields) {
        if (f.default === undefined) continue;
        expect(typeof f.default, `${m.name}.${f.name}`).toBe(typeOf[f.type]);
        if (f.enum) expect(f.enum.values).toContain(f.default);
      }
    }
  });

  it("has nsjail's defaults", () => {
    expect(defaultConfig()).toMatchObject({
      mode: 'ONCE',
      hostname: 'NSJAIL',
      cwd: '/',
      timeLimit: 600,
      niceLevel: 19,
      mountProc: false,
      bindhost: '::',
      cloneNewnet: true,
      cloneNewuser: true,
      cloneNewns: true,
      cloneNewpid: true,
      cloneNewipc: true,
      cloneNewuts: true,
      cloneNewcgroup: true,
      cloneNewtime: false,
      rlimitAs: 4096,
      rlimitAsType: 'VALUE',
      rlimitCore: 0,
      rlimitCpu: 600,
      rlimitFsize: 1,
      rlimitNofile: 32,
      rlimitNprocType: 'SOFT',
      rlimitStackType: 'SOFT',
      rlimitMemlockType: 'SOFT',
      rlimitRtprioType: 'SOFT',
      rlimitMsgqueueType: 'SOFT',
      cgroupMemMax: 0,
      cgroupMemSwapMax: -1,
      cgroupMemParent: 'NSJAIL',
      cgroupv2Mount: '/sys/fs/cgroup',
      macvlanVsIp: '192.168.0.2',
      macvlanVsMo: 'private',
      procPath: '/proc',
      rw: false,
      mount: [],
      envar: [],
      uidmap: [{ insideId: '', outsideId: '', count: 1, useNewidmap: false }],
      gidmap: [{ insideId: '', outsideId: '', count: 1, useNewidmap: false }],
    });
    const c = defaultConfig();
    for (const unset of ['logLevel', 'logFd', 'logFile', 'oomScoreAdj', 'execBin', 'userNet', 'macvlanIface', 'seccompPolicyFile', 'chroot'] as const) {
      expect(c[unset], unset).toBeUndefined();
    }
  });


  it('documents every field in --help-fields', () => {
    const help = renderFieldsHelp();
    for (const m of MESSAGES) {
      expect(help).toContain(`\n${m.name}:\n`);
      for (const f of m.fields) expect(help).toContain(`\n  ${f.name}  (`);
    }
    expect(help).toContain('  time_limit  (uint32; default 600 s; flag -t/--time_limit)\n      wall-clock time limit');
    expect(help).toContain('  cgroup_mem_max  (uint64; default 0 bytes; flag --cgroup_mem_max, --memory)');
  });
});
