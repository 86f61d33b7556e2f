// clone3 with CLONE_VM onto a separate stack, running a function in the child.
//
// Runs in: the launching thread (parent) and, from the instruction after the syscall, the child.
//
// Why CLONE_VM: forking a Node process copies tens of MiB of page tables, and execve then tears
// the copy down again; for /bin/true that is more than half of a jail's start-up cost. With
// CLONE_VM the child runs in the parent's memory until execve gives it its own, so neither
// happens. That is safe here because the child touches nothing shared: it reads the prepared
// ChildSpec, which no one modifies until the launch is over, and writes only its own stack
// (raw syscalls, no errno, no allocation; see child.cc and the scan in test/native). The parent
// does not wait for it (no CLONE_VFORK), so the handshake works as with fork, and the stack is
// freed only after the child has exec'd (new memory) or been reaped.
//
// The child starts on the new stack right after the syscall instruction, where C code cannot
// continue, hence this small assembly trampoline: it calls fn(arg) on the new stack and makes
// sure the child never returns into the parent's frames.
#include "clone.h"

#include <sys/syscall.h>

// Hidden (here and in the assembly) like the rest of the child library: the call from CloneVm is
// then bound at link time, not through the PLT.
extern "C" __attribute__((visibility("hidden"))) long JailCloneVmRun(void* args, unsigned long size,
                                                                     void (*fn)(void*), void* arg);

#if defined(__x86_64__)
// rdi=args rsi=size rdx=fn rcx=arg. The syscall instruction clobbers rcx and r11 only, so fn and
// arg travel in r8/r9, which the child inherits. The new stack top is 16-byte aligned; `call`
// leaves it as the ABI expects at function entry.
__asm__(
    ".text\n"
    ".globl JailCloneVmRun\n"
    ".hidden JailCloneVmRun\n"
    ".type JailCloneVmRun,@function\n"
    "JailCloneVmRun:\n"
    "  mov %rdx, %r8\n"
    "  mov %rcx, %r9\n"
    "  mov $" JAIL_STR(SYS_clone3) ", %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz 1f\n"
    "  xor %ebp, %ebp\n"
    "  mov %r9, %rdi\n"
    "  call *%r8\n"
    "  mov $127, %edi\n"
    "  mov $" JAIL_STR(SYS_exit_group) ", %eax\n"
    "  syscall\n"
    "  hlt\n"
    "1:\n"
    "  ret\n"
    ".size JailCloneVmRun, .-JailCloneVmRun\n");
#elif defined(__aarch64__)
// x0=args x1=size x2=fn x3=arg; svc preserves every register but x0.
__asm__(
    ".text\n"
    ".globl JailCloneVmRun\n"
    ".hidden JailCloneVmRun\n"
    ".type JailCloneVmRun,%function\n"
    "JailCloneVmRun:\n"
    "  mov x8, #" JAIL_STR(SYS_clone3) "\n"
    "  svc #0\n"
    "  cbnz x0, 1f\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, x3\n"
    "  blr x2\n"
    "  mov x0, #127\n"
    "  mov x8, #" JAIL_STR(SYS_exit_group) "\n"
    "  svc #0\n"
    "1:\n"
    "  ret\n"
    ".size JailCloneVmRun, .-JailCloneVmRun\n");
#else
#error "jail supports x86_64 and aarch64"
#endif

namespace jail {

long CloneVm(struct clone_args* args, void (*fn)(void*), void* arg) {
  return JailCloneVmRun(args, sizeof(*args), fn, arg);
}

}  // namespace jail
