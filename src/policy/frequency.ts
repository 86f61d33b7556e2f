/**
 * How often typical programs make each syscall, in rough per-mille of all calls (a mix of
 * interpreter start-up, file-heavy builds and network services, as strace -c shows them).
 * Codegen weights its syscall-number search tree with it so hot syscalls are found in fewer
 * instructions; the benchmark draws "realistic inputs" from it. Only the order of magnitude
 * matters: a wrong guess costs an instruction or two, never correctness.
 */
export const SYSCALL_FREQUENCY: Readonly<Record<string, number>> = {
  read: 120, write: 90, futex: 80, epoll_wait: 40, epoll_pwait: 40, recvfrom: 35, sendto: 30,
  mmap: 40, munmap: 20, mprotect: 20, brk: 10, madvise: 10,
  openat: 50, close: 50, newfstat: 30, newfstatat: 40, statx: 20, lseek: 25, pread64: 20, pwrite64: 10,
  getdents64: 10, readlink: 5, readlinkat: 5, access: 10, faccessat: 5, faccessat2: 5,
  ioctl: 20, fcntl: 15, poll: 15, ppoll: 15, select: 5, pselect6: 5,
  rt_sigaction: 15, rt_sigprocmask: 25, rt_sigreturn: 5, sigaltstack: 2,
  getpid: 10, gettid: 10, getuid: 5, geteuid: 5, getgid: 3, getegid: 3, getppid: 2,
  clock_gettime: 10, gettimeofday: 5, nanosleep: 5, clock_nanosleep: 5, sched_yield: 5,
  getrandom: 3, writev: 10, readv: 5, sendmsg: 5, recvmsg: 10, connect: 2, socket: 2,
  accept4: 2, setsockopt: 2, getsockopt: 2, getsockname: 2, getpeername: 1, bind: 1, listen: 1,
  pipe2: 2, dup2: 2, dup3: 2, dup: 2, wait4: 2, clone: 2, clone3: 2, execve: 1, exit_group: 1,
  set_robust_list: 1, rseq: 1, prlimit64: 1, arch_prctl: 1, set_tid_address: 1, getcwd: 2,
  unlink: 2, unlinkat: 2, mkdir: 1, mkdirat: 1, rename: 1, renameat2: 1, chdir: 1, umask: 1,
  uname: 1, newuname: 1, sysinfo: 1, epoll_ctl: 10, eventfd2: 1, timerfd_settime: 2,
};
