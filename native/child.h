// Child-side entry points. Everything declared here runs in the cloned child, between clone and
// execve, in a copy of a multi-threaded process: only raw syscalls and single-syscall libc
// wrappers, no allocation, no locks, no exceptions (docs/architecture.md §4).
#pragma once

#include "spec.h"

namespace jail {

// Runs the whole ordered child sequence and execs; never returns.
[[noreturn]] void ChildMain(const ChildSpec& spec);

// The CLONE_VM child's entry (clone.cc's trampoline calls it with the ChildSpec).
void ChildEntry(void* spec);

// Reports a failed step to the parent and exits 255. Never returns.
[[noreturn]] void ChildFail(const ChildSpec& spec, Stage stage, int op_index, int err);

// Each returns 0, or an errno with *op_index set to the failing element.
int ChildApplyMounts(const ChildSpec& spec, int* op_index);
int ChildSetRlimits(const ChildSpec& spec, int* op_index);
int ChildDropCaps(const ChildSpec& spec, int* op_index);
int ChildInstallListener(const ChildSpec& spec);
int ChildInstallSeccomp(const ChildSpec& spec);
// Brings `lo` up (also used by the netns helper child, netns_child.cc); 0 or an errno.
int ChildLoopbackUp();
int ChildAddNetRules(const ChildSpec& spec, int* op_index);
int ChildWaitForNetwork(const ChildSpec& spec);

}  // namespace jail
