// Lays out RTM_NEWRULE requests: a nlmsghdr, a fib_rule_hdr, then FRA_* attributes.
#include "net_rule_message.h"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

namespace jail {

namespace {

void Attr(std::string* msg, uint16_t type, const void* data, size_t len) {
  struct rtattr a;
  a.rta_len = (unsigned short)RTA_LENGTH(len);
  a.rta_type = type;
  msg->append(reinterpret_cast<const char*>(&a), sizeof(a));
  msg->append(static_cast<const char*>(data), len);
  msg->append(RTA_ALIGN(a.rta_len) - a.rta_len, '\0');
}

}  // namespace

void AppendRuleMessage(const NetRule& rule, uint32_t seq, std::string* out) {
  std::string msg(NLMSG_HDRLEN, '\0');
  struct fib_rule_hdr frh = {};
  frh.family = (uint8_t)rule.family;
  frh.dst_len = (uint8_t)rule.dst_len;
  frh.src_len = (uint8_t)rule.src_len;
  frh.action = rule.action == kRuleLookupMain ? FR_ACT_TO_TBL : rule.action == kRuleUnreachable ? FR_ACT_UNREACHABLE : FR_ACT_BLACKHOLE;
  frh.table = rule.action == kRuleLookupMain ? RT_TABLE_MAIN : RT_TABLE_UNSPEC;
  msg.append(reinterpret_cast<const char*>(&frh), sizeof(frh));
  size_t addr_len = rule.family == AF_INET ? 4 : 16;
  Attr(&msg, FRA_PRIORITY, &rule.priority, sizeof(rule.priority));
  if (rule.dst_len > 0) Attr(&msg, FRA_DST, rule.dst, addr_len);
  if (rule.src_len > 0) Attr(&msg, FRA_SRC, rule.src, addr_len);
  if (rule.proto != 0) {
    uint8_t proto = (uint8_t)rule.proto;
    Attr(&msg, FRA_IP_PROTO, &proto, 1);
  }
  if (rule.dport_hi != 0) {
    struct fib_rule_port_range range = {rule.dport_lo, rule.dport_hi};
    Attr(&msg, FRA_DPORT_RANGE, &range, sizeof(range));
  }
  if (rule.sport_hi != 0) {
    struct fib_rule_port_range range = {rule.sport_lo, rule.sport_hi};
    Attr(&msg, FRA_SPORT_RANGE, &range, sizeof(range));
  }
  if (!rule.iif.empty()) Attr(&msg, FRA_IIFNAME, rule.iif.c_str(), rule.iif.size() + 1);
  if (!rule.oif.empty()) Attr(&msg, FRA_OIFNAME, rule.oif.c_str(), rule.oif.size() + 1);
  struct nlmsghdr h = {};
  h.nlmsg_len = (uint32_t)msg.size();
  h.nlmsg_type = RTM_NEWRULE;
  h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  h.nlmsg_seq = seq;
  memcpy(&msg[0], &h, sizeof(h));
  msg.append(NLMSG_ALIGN(msg.size()) - msg.size(), '\0');
  out->append(msg);
}

}  // namespace jail
