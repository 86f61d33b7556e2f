// Sockets in a jail's network namespace for the supervisor (nsjail's user_net REDIRECT and
// ENCAP_* rules, src/net/rewrite.ts), and the two questions asked of them afterwards: where an
// accepted TCP connection was going before the jail's nft rules redirected it (SO_ORIGINAL_DST),
// and where a redirected UDP datagram was going (a conntrack lookup over netlink: UDP has no
// SO_ORIGINAL_DST).
//
// Runs in: the Node main thread. OpenNetnsSockets clones one short-lived helper (netns_child.cc)
// and waits for it; it makes a few sockets and exits, so the wait is short and bounded by the
// kernel, not by anything the jail does.
#include "netns_sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <napi.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "sys.h"

namespace jail {

namespace {

Napi::Value Throw(Napi::Env env, const std::string& what, int err, int step = 0) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("step", Napi::Number::New(env, step));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Address(Napi::Env env, int family, const void* addr, uint16_t port_be) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, addr, text, sizeof(text));
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", text);
  o.Set("port", ntohs(port_be));
  return o;
}

}  // namespace

// openNetnsSockets(usernsFd, netnsFd, specs: {family: 4|6|'netfilter', type: 'tcp'|'udp'|'netlink'}[]):
// the fds (close-on-exec, non-blocking, owned by the caller), in order. usernsFd -1: the caller
// is root and enters the network namespace directly. Throws with .errno and .step (-3 entering
// the user namespace, -2 the network namespace, -1 bringing lo up, i: socket i).
Napi::Value OpenNetnsSocketsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "openNetnsSockets(usernsFd: number, netnsFd: number, specs: {family, type}[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<NetnsSocketSpec> specs;
  for (uint32_t i = 0; i < list.Length() && i < 256; i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsObject()) return Throw(env, "openNetnsSockets: spec is not an object", EINVAL);
    std::string type = v.As<Napi::Object>().Get("type").ToString().Utf8Value();
    int family = v.As<Napi::Object>().Get("family").ToNumber().Int32Value();
    NetnsSocketSpec s = {family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0, -1};
    if (type == "udp") {
      s.type = SOCK_DGRAM;
    } else if (type == "netlink") {
      s = {AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER, -1};
    } else if (type != "tcp" || (family != 4 && family != 6)) {
      return Throw(env, "openNetnsSockets: spec " + std::to_string(i) + " is not {family: 4|6, type: tcp|udp|netlink}", EINVAL);
    }
    specs.push_back(s);
  }
  int userns = info[0].As<Napi::Number>().Int32Value();
  int netns = info[1].As<Napi::Number>().Int32Value();
  // Fds reserved now, in this thread, so the child's sockets land on numbers we know; the child
  // replaces them with dup3 (atomic, so no other thread of Node can take the number meanwhile).
  auto release = [&](size_t n) {
    for (size_t i = 0; i < n; i++) close(specs[i].reserved_fd);
  };
  for (size_t i = 0; i < specs.size(); i++) {
    specs[i].reserved_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (specs[i].reserved_fd < 0) {
      int err = errno;
      release(i);
      return Throw(env, "open /dev/null", err);
    }
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0) {
    int err = errno;
    release(specs.size());
    return Throw(env, "pipe2", err);
  }
  NetnsSocketsJob job = {userns, netns, report[1], (int)specs.size(), specs.data()};
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  // No exit signal: Node's SIGCHLD handling never sees this child; we reap it here, by pid.
  args.flags = CLONE_FILES | CLONE_CLEAR_SIGHAND;
  long pid = Sys(SYS_clone3, &args, sizeof(args));
  if (pid == 0) netns::ChildEntry(&job);
  close(report[1]);
  int err = 0, step = 0;
  if (pid < 0) {
    err = (int)-pid;
  } else {
    int status = 0;
    while (waitpid((pid_t)pid, &status, __WALL) < 0 && errno == EINTR) {
    }
    NetnsReport r = {0, 0};
    if (read(report[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
      err = r.err;
      step = r.step;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      err = ECHILD;
    }
  }
  close(report[0]);
  if (err != 0) {
    release(specs.size());
    return Throw(env, pid < 0 ? "clone3" : "the jail's network namespace", err, step);
  }
  Napi::Array out = Napi::Array::New(env, specs.size());
  for (size_t i = 0; i < specs.size(); i++) out.Set((uint32_t)i, specs[i].reserved_fd);
  return out;
}

// originalDestination(fd, family): where an accepted TCP connection was going before the nat
// table redirected it ({address, port}), or null when it was not redirected (ENOENT).
Napi::Value OriginalDestinationJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "originalDestination(fd: number, family: 4|6)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (info[1].As<Napi::Number>().Int32Value() == 6) {
    struct sockaddr_in6 a = {};
    socklen_t len = sizeof(a);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a, &len) < 0) return errno == ENOENT ? env.Null() : Throw(env, "getsockopt IP6T_SO_ORIGINAL_DST", errno);
    return Address(env, AF_INET6, &a.sin6_addr, a.sin6_port);
  }
  struct sockaddr_in a = {};
  socklen_t len = sizeof(a);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a, &len) < 0) return errno == ENOENT ? env.Null() : Throw(env, "getsockopt SO_ORIGINAL_DST", errno);
  return Address(env, AF_INET, &a.sin_addr, a.sin_port);
}

// spawnInNetns(usernsFd, netnsFd, path, argv, envp, stdinFd, stderrFd): runs a program inside
// the jail's namespaces (netns_child.cc says how) and returns {pid, pidfd} at once; the caller
// owns the pidfd and waits with watchExit. Exit status 121-125: the helper failed before exec
// (NetnsExecFailure). Throws with .errno when the clone fails.
Napi::Value SpawnInNetnsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 7 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsArray() || !info[4].IsArray() || !info[5].IsNumber() ||
      !info[6].IsNumber()) {
    Napi::TypeError::New(env, "spawnInNetns(usernsFd, netnsFd, path, argv: string[], envp: string[], stdinFd, stderrFd)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Everything the child reads is built here, before clone: it gets a copy of this memory.
  std::string path = info[2].As<Napi::String>().Utf8Value();
  std::vector<std::string> strings[2];
  std::vector<char*> ptrs[2];
  for (int k = 0; k < 2; k++) {
    Napi::Array a = info[3 + k].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length() && i < 64; i++) strings[k].push_back(a.Get(i).ToString().Utf8Value());
    for (auto& str : strings[k]) ptrs[k].push_back(str.data());
    ptrs[k].push_back(nullptr);
  }
  NetnsExecJob job = {info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), info[5].As<Napi::Number>().Int32Value(),
                      info[6].As<Napi::Number>().Int32Value(), path.c_str(), ptrs[0].data(), ptrs[1].data()};
  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.flags = CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  long pid = Sys(SYS_clone3, &args, sizeof(args));
  if (pid == 0) netns_exec::ChildEntry(&job);
  if (pid < 0) return Throw(env, "clone3", (int)-pid);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", (double)pid);
  o.Set("pidfd", pidfd);
  return o;
}

namespace {

struct NlBuf {
  alignas(struct nlmsghdr) char data[512];
  size_t len = 0;
  // Appends an attribute; returns its offset (for nesting).
  size_t Put(uint16_t type, const void* payload, size_t n) {
    size_t at = len;
    struct nlattr* a = reinterpret_cast<struct nlattr*>(data + len);
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + n);
    if (n) memcpy(data + len + NLA_HDRLEN, payload, n);
    len += NLA_ALIGN(a->nla_len);
    return at;
  }
  void End(size_t at) { reinterpret_cast<struct nlattr*>(data + at)->nla_len = (uint16_t)(len - at); }
};

// The attribute `type` inside [p, p+n), or null.
const struct nlattr* FindAttr(const char* p, size_t n, uint16_t type) {
  while (n >= NLA_HDRLEN) {
    const struct nlattr* a = reinterpret_cast<const struct nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || a->nla_len > n) return nullptr;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= n) return nullptr;
    p += step;
    n -= step;
  }
  return nullptr;
}

const struct nlattr* Inner(const struct nlattr* a, uint16_t type) {
  return a ? FindAttr(reinterpret_cast<const char*>(a) + NLA_HDRLEN, a->nla_len - NLA_HDRLEN, type) : nullptr;
}

}  // namespace

// conntrackOriginalDestination(nlFd, family, proto, replySrc, replySrcPort, replyDst, replyDstPort):
// the original destination ({address, port}) of the connection whose reply direction is that
// tuple (a datagram the nat table redirected to our socket replySrc:replySrcPort came from
// replyDst:replyDstPort), or null when conntrack has none. nlFd: a NETLINK_NETFILTER socket made
// in the jail's namespace (openNetnsSockets); its opener had CAP_NET_ADMIN there, as has the
// supervisor (the user namespace's owner, or root).
Napi::Value ConntrackOriginalDestinationJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 7 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsString() || !info[4].IsNumber() || !info[5].IsString() ||
      !info[6].IsNumber()) {
    Napi::TypeError::New(env, "conntrackOriginalDestination(nlFd, family, proto, replySrc, replySrcPort, replyDst, replyDstPort)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int family = info[1].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  uint8_t proto = (uint8_t)info[2].As<Napi::Number>().Uint32Value();
  unsigned char src[16], dst[16];
  if (inet_pton(family, info[3].As<Napi::String>().Utf8Value().c_str(), src) != 1 || inet_pton(family, info[5].As<Napi::String>().Utf8Value().c_str(), dst) != 1) {
    return Throw(env, "conntrackOriginalDestination: not an address of that family", EINVAL);
  }
  uint16_t sport = htons((uint16_t)info[4].As<Napi::Number>().Uint32Value());
  uint16_t dport = htons((uint16_t)info[6].As<Napi::Number>().Uint32Value());
  size_t alen = family == AF_INET6 ? 16 : 4;

  NlBuf m;
  struct nlmsghdr* h = reinterpret_cast<struct nlmsghdr*>(m.data);
  memset(m.data, 0, sizeof(m.data));
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = 1;
  m.len = NLMSG_HDRLEN;
  struct nfgenmsg* g = reinterpret_cast<struct nfgenmsg*>(m.data + m.len);
  g->nfgen_family = (uint8_t)family;
  g->version = NFNETLINK_V0;
  m.len += NLMSG_ALIGN(sizeof(struct nfgenmsg));
  size_t tuple = m.Put(CTA_TUPLE_REPLY | NLA_F_NESTED, nullptr, 0);
  size_t ip = m.Put(CTA_TUPLE_IP | NLA_F_NESTED, nullptr, 0);
  m.Put(family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, src, alen);
  m.Put(family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, dst, alen);
  m.End(ip);
  size_t pr = m.Put(CTA_TUPLE_PROTO | NLA_F_NESTED, nullptr, 0);
  m.Put(CTA_PROTO_NUM, &proto, 1);
  m.Put(CTA_PROTO_SRC_PORT, &sport, 2);
  m.Put(CTA_PROTO_DST_PORT, &dport, 2);
  m.End(pr);
  m.End(tuple);
  h->nlmsg_len = (uint32_t)m.len;

  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, m.data, m.len, 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof(kernel)) < 0) return Throw(env, "conntrack request", errno);
  // The kernel answers a GET while it handles the sendto, so the answer is already queued.
  alignas(struct nlmsghdr) char reply[4096];
  ssize_t n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
  if (n < 0) return Throw(env, "conntrack answer", errno);
  const struct nlmsghdr* r = reinterpret_cast<const struct nlmsghdr*>(reply);
  if (!NLMSG_OK(r, (size_t)n)) return Throw(env, "conntrack answer", EPROTO);
  if (r->nlmsg_type == NLMSG_ERROR) {
    int e = -reinterpret_cast<const struct nlmsgerr*>(NLMSG_DATA(r))->error;
    return e == ENOENT ? env.Null() : Throw(env, "conntrack lookup", e);
  }
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  if (r->nlmsg_len < off) return Throw(env, "conntrack answer", EPROTO);
  const struct nlattr* orig = FindAttr(reply + off, r->nlmsg_len - off, CTA_TUPLE_ORIG);
  const struct nlattr* addr = Inner(Inner(orig, CTA_TUPLE_IP), family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST);
  const struct nlattr* port = Inner(Inner(orig, CTA_TUPLE_PROTO), CTA_PROTO_DST_PORT);
  if (!addr || !port || addr->nla_len < NLA_HDRLEN + alen || port->nla_len < NLA_HDRLEN + 2) return Throw(env, "conntrack answer", EPROTO);
  uint16_t p;
  memcpy(&p, reinterpret_cast<const char*>(port) + NLA_HDRLEN, 2);
  return Address(env, family, reinterpret_cast<const char*>(addr) + NLA_HDRLEN, p);
}

}  // namespace jail
