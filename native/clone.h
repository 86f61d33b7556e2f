// clone3 with CLONE_VM on a separate stack (clone.cc).
#pragma once

#include <linux/sched.h>

#define JAIL_STR2(x) #x
#define JAIL_STR(x) JAIL_STR2(x)

namespace jail {

// clone3(args) where args has CLONE_VM and a stack; the child runs fn(arg) on that stack and
// exits 127 if fn returns. Returns the child's pid, or a negative errno (errno is not touched).
long CloneVm(struct clone_args* args, void (*fn)(void*), void* arg);

}  // namespace jail
