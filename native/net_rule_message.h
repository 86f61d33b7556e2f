// rtnetlink RTM_NEWRULE messages for the jail's routing-policy rules (what `ip rule add` sends).
// Built in the parent before clone; the child sends them as they are (network.cc).
#pragma once

#include <stdint.h>

#include <string>

namespace jail {

enum NetRuleAction : uint8_t { kRuleLookupMain, kRuleUnreachable, kRuleBlackhole };

struct NetRule {
  int family;  // AF_INET or AF_INET6
  uint8_t dst[16];
  int dst_len;  // prefix length; 0 = any destination
  uint8_t src[16];
  int src_len;
  int proto;  // IPPROTO_*; 0 = any
  uint16_t dport_lo, dport_hi;  // 0, 0 = any port
  uint16_t sport_lo, sport_hi;
  std::string iif, oif;  // "" = any interface
  NetRuleAction action;
  uint32_t priority;
};

// Appends one NLMSG_ALIGNed RTM_NEWRULE request (NLM_F_ACK, sequence `seq`) to `out`.
void AppendRuleMessage(const NetRule& rule, uint32_t seq, std::string* out);

}  // namespace jail
