// The listener filter's handshake prologue (listener_filter.cc; the design is in unotify.cc).
#pragma once

#include <stddef.h>

#include "prepared.h"

namespace jail {

// Instructions BuildListenerFilter puts in front of the plan's listener filter.
constexpr size_t kListenerPrologueLen = 24;

// Lays out j.listener_filter (the handshake prologue for the launch's go and report pipes, then
// j.listener_body) and points the spec at it; nothing when the plan has no listener filter.
// Call after the pipes exist and before clone.
void BuildListenerFilter(PreparedJail& j);

}  // namespace jail
