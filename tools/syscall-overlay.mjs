/**
 * Kafel-compatibility overlay for the generated syscall tables.
 *
 * The generator takes numbers from the UAPI headers and argument names/types from the running
 * kernel's tracefs metadata. Kafel's tables were made from an older vmlinux and then edited by
 * hand, so a compatible compiler needs these facts on top. Every entry here is a fact about
 * kafel's behaviour, not code from it.
 */

/** UAPI name → kafel's (SYSCALL_DEFINE) name at the same number. The UAPI spelling is not accepted by kafel. */
export const renames = {
  x86_64: {
    stat: 'newstat',
    fstat: 'newfstat',
    lstat: 'newlstat',
    sendfile: 'sendfile64',
    uname: 'newuname',
    _sysctl: 'sysctl',
    umount2: 'umount',
  },
  aarch64: {
    umount2: 'umount',
    fstat: 'newfstat',
    sync_file_range: 'sync_file_range2',
    uname: 'newuname',
  },
};

/** Syscalls newer than the 6.1 headers that kafel knows (numbers are shared by both arches from 424 on). */
const newerCommon = {
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457,
  listmount: 458,
  lsm_get_self_attr: 459,
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
  open_tree_attr: 467,
  file_getattr: 468,
  file_setattr: 469,
};
export const additions = {
  x86_64: { ...newerCommon, uretprobe: 335 },
  aarch64: { ...newerCommon },
};

/** Names in the headers that kafel's table lacks (so a kafel policy naming them fails to compile). */
export const removals = {
  x86_64: [],
  aarch64: ['pkey_mprotect', 'pkey_alloc', 'pkey_free', 'io_pgetevents'],
};

/**
 * Argument lists (`name:size`, positional) where the running kernel has no metadata (removed or
 * configured-out syscalls, x86 stubs) or where kafel's table says something else than the kernel.
 * An empty string means "no named arguments".
 */
const argsCommon = {
  // kafel's hand-written entries that differ from the kernel (kafel's own tables)
  setns: 'fd:4 nstype:4',
  getrandom: 'buf:8 count:8 flags:4',
  futex_wait: 'uaddr:8 val:8 flags:4 timeout:8',
  pkey_alloc: 'flags:4 init_val:4',
  lsm_set_self_attr: 'attr:4 ctx:8 size:8 flags:4',
  // configured out of the generating kernel (modules, kexec), same names as SYSCALL_DEFINE
  init_module: 'umod:8 len:8 uargs:8',
  finit_module: 'fd:4 uargs:8 flags:4',
  delete_module: 'name_user:8 flags:4',
  kexec_load: 'entry:8 nr_segments:8 segments:8 flags:8',
  kexec_file_load: 'kernel_fd:4 initrd_fd:4 cmdline_len:8 cmdline_ptr:8 flags:8',
  lookup_dcookie: 'cookie64:8 buf:8 len:8',
  uselib: 'library:8',
  nfsservctl: 'cmd:4 argp:8 resp:8',
  // not built into the generating kernel (x86 shadow stacks)
  map_shadow_stack: 'addr:8 size:8 flags:4',
};
export const args = {
  x86_64: {
    ...argsCommon,
    arch_prctl: 'code:4 addr:8',
    sysctl: 'args:8',
    create_module: 'name:8 size:8',
    get_kernel_syms: 'table:8',
    query_module: 'name:8 which:4 buf:8 bufsize:8 ret:8',
    get_thread_area: 'u_info:8',
    set_thread_area: 'u_info:8',
    afs_syscall: '',
    epoll_ctl_old: '',
    epoll_wait_old: '',
    getpmsg: '',
    putpmsg: '',
    security: '',
    tuxcall: '',
    vserver: '',
  },
  aarch64: {
    ...argsCommon,
    // CONFIG_CLONE_BACKWARDS: tls before child_tidptr
    clone: 'clone_flags:8 newsp:8 parent_tidptr:8 tls:8 child_tidptr:8',
    sync_file_range2: 'fd:4 flags:4 offset:8 nbytes:8',
    // the generic table's sendfile is sys_sendfile64; kafel keeps the UAPI spelling here
    sendfile: 'out_fd:4 in_fd:4 offset:8 count:8',
  },
};
