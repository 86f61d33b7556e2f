// Raw system calls for the child side.
//
// The child of clone runs in a copy of a multi-threaded process (docs/architecture.md §4): libc locks may be
// held by threads that no longer exist. These wrappers enter the kernel directly and return the
// result or a negative errno; they never touch `errno` (thread-local storage) or any libc state,
// so every child-side step is one of them and nothing else.
#pragma once

#include <errno.h>  // the E* constants only; the `errno` variable is never touched
#include <sys/syscall.h>

namespace jail {

#if defined(__x86_64__)

static inline long Sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

#elif defined(__aarch64__)

static inline long Sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}

#else
#error "jail supports x86_64 and aarch64"
#endif

// Any pointer or integer argument, passed as a register-sized integer.
template <typename T>
static inline long Arg(T v) {
  return (long)v;
}
static inline long Arg(decltype(nullptr)) { return 0; }

template <typename A = long, typename B = long, typename C = long, typename D = long, typename E = long,
          typename F = long>
static inline long Sys(long n, A a = 0, B b = 0, C c = 0, D d = 0, E e = 0, F f = 0) {
  return Sys6(n, Arg(a), Arg(b), Arg(c), Arg(d), Arg(e), Arg(f));
}

// The errno of a raw result, or 0 on success.
static inline int SysErr(long ret) { return ret < 0 && ret > -4096 ? (int)-ret : 0; }

[[noreturn]] static inline void SysExit(int code) {
  for (;;) Sys(SYS_exit_group, code);
}

}  // namespace jail
