// Strict reading of a JailPlan (see prepare.h). TypeScript builds plans; this file only checks
// their structure (types, bounds, no NUL bytes, known keys, plan version) and lays them out for
// the child. Any surprise is refused: a plan the addon does not fully understand is never run.
#include "prepare.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "listener_filter.h"
#include "net_rule_message.h"

namespace jail {

namespace {

constexpr uint64_t kAllowedCloneFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                        CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;
constexpr size_t kMaxFilterLen = 4096;  // BPF_MAXINSNS
constexpr size_t kMaxPassFds = 1024;

// Reads fields of JS objects, remembering the first error with the path of the field.
class Reader {
 public:
  explicit Reader(Napi::Env env) : env_(env) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  void Fail(const std::string& path, const std::string& what) {
    if (error_.empty()) error_ = "invalid plan: " + path + ": " + what;
  }

  // Refuses keys the addon does not know, so a plan from a newer planner is never half-applied.
  void OnlyKeys(Napi::Object obj, const std::string& path, std::initializer_list<const char*> keys) {
    Napi::Array names = obj.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).As<Napi::String>().Utf8Value();
      bool known = false;
      for (const char* k : keys) known = known || name == k;
      if (!known) Fail(path + "." + name, "unknown field");
    }
  }

  Napi::Value Field(Napi::Object obj, const char* key, const std::string& path) {
    if (!obj.Has(key)) {
      Fail(path + "." + key, "missing");
      return env_.Undefined();
    }
    return obj.Get(key);
  }

  Napi::Object Obj(Napi::Value v, const std::string& path) {
    if (!v.IsObject() || v.IsArray()) {
      Fail(path, "expected an object");
      return Napi::Object::New(env_);
    }
    return v.As<Napi::Object>();
  }

  Napi::Array Arr(Napi::Value v, const std::string& path, size_t max) {
    if (!v.IsArray()) {
      Fail(path, "expected an array");
      return Napi::Array::New(env_);
    }
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() > max) Fail(path, "more than " + std::to_string(max) + " elements");
    return a;
  }

  bool Bool(Napi::Value v, const std::string& path) {
    if (!v.IsBoolean()) {
      Fail(path, "expected a boolean");
      return false;
    }
    return v.As<Napi::Boolean>().Value();
  }

  // An integral number in [min, max]. The bounds must lie within ±2^53, where every integer is
  // an exact double. The range is checked on the double before any cast: converting NaN,
  // ±Infinity or a value outside int64_t to an integer type is undefined behaviour, and the
  // comparisons below are false for NaN, so it is refused with the rest.
  int64_t Int(Napi::Value v, const std::string& path, int64_t min, int64_t max) {
    if (!v.IsNumber()) {
      Fail(path, "expected a number");
      return 0;
    }
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= (double)min && d <= (double)max) || std::trunc(d) != d) {
      Fail(path, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                     v.ToString().Utf8Value());
      return 0;
    }
    return (int64_t)d;
  }

  // A caller's fd: a number >= min that is open in this process now; -1 (no fd) when min is -1.
  int Fd(Napi::Value v, const std::string& path, int min) {
    int fd = (int)Int(v, path, min, 0x7fffffff);
    if (ok() && fd >= 0 && fcntl(fd, F_GETFD) < 0) {
      Fail(path, "fd " + std::to_string(fd) + " is not open; pass an fd that stays open until the launch returns" +
                     (min < 0 ? std::string(", or -1") : std::string()));
    }
    return fd;
  }

  // A string without NUL bytes (the kernel would silently truncate it).
  std::string Str(Napi::Value v, const std::string& path) {
    if (!v.IsString()) {
      Fail(path, "expected a string");
      return std::string();
    }
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) Fail(path, "contains a NUL byte");
    return s;
  }

  // Null or a string; returns false for null.
  bool OptStr(Napi::Value v, const std::string& path, std::string* out) {
    if (v.IsNull()) return false;
    *out = Str(v, path);
    return true;
  }

  // A 64-bit limit as decimal text, or "infinity".
  uint64_t Limit(Napi::Value v, const std::string& path) {
    std::string s = Str(v, path);
    if (s == "infinity") return ~0ULL;
    if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) {
      Fail(path, "expected a decimal string or \"infinity\"");
      return 0;
    }
    errno = 0;
    unsigned long long n = strtoull(s.c_str(), nullptr, 10);
    if (errno == ERANGE) Fail(path, "out of range");
    return n;
  }

  std::vector<std::string> StrList(Napi::Value v, const std::string& path, size_t max) {
    std::vector<std::string> out;
    Napi::Array a = Arr(v, path, max);
    for (uint32_t i = 0; i < a.Length() && ok(); i++) out.push_back(Str(a.Get(i), path + "[" + std::to_string(i) + "]"));
    return out;
  }

 private:
  Napi::Env env_;
  std::string error_;
};

MountOpKind KindOf(const std::string& op, bool* known) {
  static const struct {
    const char* name;
    MountOpKind kind;
  } kinds[] = {{"mount", kOpMount},     {"mkdirs", kOpMkdirs},     {"mkfile", kOpMkfile}, {"symlink", kOpSymlink},
               {"write", kOpWrite},     {"remount", kOpRemount},   {"setattr", kOpSetattr}, {"umount", kOpUmount},
               {"unlink", kOpUnlink},   {"pivot", kOpPivot},       {"moveRoot", kOpMoveRoot}, {"chroot", kOpChroot}};
  for (const auto& k : kinds) {
    if (op == k.name) {
      *known = true;
      return k.kind;
    }
  }
  *known = false;
  return kOpMount;
}

void ReadMountOp(Reader& r, Napi::Env env, Napi::Object o, const std::string& path, PreparedJail& j) {
  MountOpSpec m = {};
  bool known = false;
  m.kind = KindOf(r.Str(r.Field(o, "op", path), path + ".op"), &known);
  if (!known) {
    r.Fail(path + ".op", "unknown mount op");
    return;
  }
  m.optional = r.Bool(r.Field(o, "optional", path), path + ".optional");
  // Which mount entry the op belongs to matters only to TypeScript's error text; null = jail's own.
  Napi::Value ref = r.Field(o, "ref", path);
  if (!ref.IsNull()) r.Int(ref, path + ".ref", 0, 1 << 20);
  auto str = [&](const char* key) { return j.StoreString(r.Str(r.Field(o, key, path), path + "." + key)); };
  auto mode = [&]() { return (uint32_t)r.Int(r.Field(o, "mode", path), path + ".mode", 0, 07777); };
  switch (m.kind) {
    case kOpMount: {
      r.OnlyKeys(o, path, {"op", "source", "target", "fstype", "flags", "data", "ref", "optional"});
      std::string s;
      if (r.OptStr(r.Field(o, "source", path), path + ".source", &s)) m.source = j.StoreString(s);
      m.target = str("target");
      if (r.OptStr(r.Field(o, "fstype", path), path + ".fstype", &s)) m.fstype = j.StoreString(s);
      if (r.OptStr(r.Field(o, "data", path), path + ".data", &s)) m.data = j.StoreString(s);
      m.flags = (unsigned long)r.Int(r.Field(o, "flags", path), path + ".flags", 0, 0xffffffffLL);
      break;
    }
    case kOpMkdirs:
    case kOpMkfile:
      r.OnlyKeys(o, path, {"op", "path", "mode", "ref", "optional"});
      m.target = str("path");
      m.mode = mode();
      break;
    case kOpSymlink:
      r.OnlyKeys(o, path, {"op", "target", "path", "ref", "optional"});
      m.source = str("target");
      m.target = str("path");
      break;
    case kOpWrite: {
      r.OnlyKeys(o, path, {"op", "path", "contentBase64", "mode", "ref", "optional"});
      m.target = str("path");
      m.mode = mode();
      std::string b64 = r.Str(r.Field(o, "contentBase64", path), path + ".contentBase64");
      // Decoding is delegated to Node's own Buffer so the addon holds no parser.
      Napi::Function from = env.Global().Get("Buffer").As<Napi::Object>().Get("from").As<Napi::Function>();
      Napi::Buffer<char> bytes =
          from.Call(env.Global().Get("Buffer"), {Napi::String::New(env, b64), Napi::String::New(env, "base64")})
              .As<Napi::Buffer<char>>();
      j.strings.emplace_back(bytes.Data(), bytes.Length());
      m.data = j.strings.back().data();
      m.data_len = bytes.Length();
      break;
    }
    case kOpRemount:
      r.OnlyKeys(o, path, {"op", "target", "flags", "ref", "optional"});
      m.target = str("target");
      m.flags = (unsigned long)r.Int(r.Field(o, "flags", path), path + ".flags", 0, 0xffffffffLL);
      break;
    case kOpSetattr:
      r.OnlyKeys(o, path, {"op", "target", "attrSet", "attrClr", "recursive", "ref", "optional"});
      m.target = str("target");
      m.attr_set = (uint64_t)r.Int(r.Field(o, "attrSet", path), path + ".attrSet", 0, 0xffffffffLL);
      m.attr_clr = (uint64_t)r.Int(r.Field(o, "attrClr", path), path + ".attrClr", 0, 0xffffffffLL);
      m.recursive = r.Bool(r.Field(o, "recursive", path), path + ".recursive");
      break;
    case kOpUmount:
      r.OnlyKeys(o, path, {"op", "target", "flags", "ref", "optional"});
      m.target = str("target");
      m.flags = (unsigned long)r.Int(r.Field(o, "flags", path), path + ".flags", 0, 0xff);
      break;
    case kOpUnlink:
      r.OnlyKeys(o, path, {"op", "path", "ref", "optional"});
      m.target = str("path");
      break;
    case kOpPivot:
    case kOpMoveRoot:
      r.OnlyKeys(o, path, {"op", "newRoot", "ref", "optional"});
      m.target = str("newRoot");
      break;
    case kOpChroot:
      r.OnlyKeys(o, path, {"op", "path", "ref", "optional"});
      m.target = str("path");
      break;
  }
  j.mounts.push_back(m);
}

void ReadIdmap(Reader& r, Napi::Object plan, PreparedJail& j) {
  Napi::Object m = r.Obj(r.Field(plan, "idmap", "plan"), "plan.idmap");
  r.OnlyKeys(m, "plan.idmap", {"uidMap", "gidMap", "setgroups", "newuidmap", "newgidmap"});
  j.uid_map = r.Str(r.Field(m, "uidMap", "plan.idmap"), "plan.idmap.uidMap");
  j.gid_map = r.Str(r.Field(m, "gidMap", "plan.idmap"), "plan.idmap.gidMap");
  j.setgroups = r.Str(r.Field(m, "setgroups", "plan.idmap"), "plan.idmap.setgroups");
  if (!j.setgroups.empty() && j.setgroups != "allow" && j.setgroups != "deny")
    r.Fail("plan.idmap.setgroups", "expected \"\", \"allow\" or \"deny\"");
  Napi::Value nu = r.Field(m, "newuidmap", "plan.idmap");
  if (!nu.IsNull()) j.newuidmap = r.StrList(nu, "plan.idmap.newuidmap", 1024);
  Napi::Value ng = r.Field(m, "newgidmap", "plan.idmap");
  if (!ng.IsNull()) j.newgidmap = r.StrList(ng, "plan.idmap.newgidmap", 1024);
}

// A classic-BPF program as [code, jt, jf, k] rows; the kernel checks the jumps when it loads it.
std::vector<struct sock_filter> ReadInsns(Reader& r, Napi::Value v, const std::string& path, uint32_t max_len) {
  std::vector<struct sock_filter> out;
  Napi::Array insns = r.Arr(v, path, max_len);
  for (uint32_t i = 0; i < insns.Length() && r.ok(); i++) {
    std::string p = path + "[" + std::to_string(i) + "]";
    Napi::Array ins = r.Arr(insns.Get(i), p, 4);
    if (ins.Length() != 4) {
      r.Fail(p, "expected [code, jt, jf, k]");
      break;
    }
    struct sock_filter f;
    f.code = (uint16_t)r.Int(ins.Get(0u), p + "[0]", 0, 0xffff);
    f.jt = (uint8_t)r.Int(ins.Get(1u), p + "[1]", 0, 0xff);
    f.jf = (uint8_t)r.Int(ins.Get(2u), p + "[2]", 0, 0xff);
    f.k = (uint32_t)r.Int(ins.Get(3u), p + "[3]", 0, 0xffffffffLL);
    out.push_back(f);
  }
  return out;
}

void ReadSeccomp(Reader& r, Napi::Object plan, PreparedJail& j) {
  Napi::Value v = r.Field(plan, "seccomp", "plan");
  if (v.IsNull()) return;
  Napi::Object s = r.Obj(v, "plan.seccomp");
  r.OnlyKeys(s, "plan.seccomp", {"insns", "flags", "listener"});
  j.filter = ReadInsns(r, r.Field(s, "insns", "plan.seccomp"), "plan.seccomp.insns", kMaxFilterLen);
  // The handshake's prologue goes in front of the listener filter.
  j.listener_body = ReadInsns(r, r.Field(s, "listener", "plan.seccomp"), "plan.seccomp.listener", kMaxFilterLen - kListenerPrologueLen);
  if (r.ok() && j.filter.empty() && j.listener_body.empty()) r.Fail("plan.seccomp", "empty program (insns and listener)");
  j.spec.seccomp_flags = (unsigned int)r.Int(r.Field(s, "flags", "plan.seccomp"), "plan.seccomp.flags", 0, 0xff);
}

// "10.0.0.0/8", "fd00::/8", "203.0.113.5" (a whole address); "" = any.
void ReadCidr(Reader& r, Napi::Value v, const std::string& path, int family, uint8_t* bytes, int* len) {
  std::string text = r.Str(v, path);
  *len = 0;
  if (text.empty() || !r.ok()) return;
  int max = family == AF_INET ? 32 : 128;
  size_t slash = text.find('/');
  std::string addr = text.substr(0, slash);
  *len = max;
  if (slash != std::string::npos) {
    char* end = nullptr;
    long n = strtol(text.c_str() + slash + 1, &end, 10);
    if (*end != '\0' || end == text.c_str() + slash + 1 || n < 0 || n > max) return r.Fail(path, "prefix length must be 0-" + std::to_string(max));
    *len = (int)n;
  }
  if (inet_pton(family, addr.c_str(), bytes) != 1) r.Fail(path, std::string("not an ") + (family == AF_INET ? "IPv4" : "IPv6") + " address");
}

void ReadPortRange(Reader& r, Napi::Value v, const std::string& path, uint16_t* lo, uint16_t* hi) {
  *lo = *hi = 0;
  if (v.IsNull()) return;
  Napi::Array range = r.Arr(v, path, 2);
  if (!r.ok()) return;
  if (range.Length() != 2) return r.Fail(path, "expected [first, last]");
  *lo = (uint16_t)r.Int(range.Get(0u), path + "[0]", 1, 65535);
  *hi = (uint16_t)r.Int(range.Get(1u), path + "[1]", 1, 65535);
  if (*lo > *hi) r.Fail(path, "first port is above the last");
}

// plan.network: the routing-policy rules of the jail's network namespace and whether the child
// waits for the supervisor's network link (resources.netGate).
void ReadNetwork(Reader& r, Napi::Object plan, PreparedJail& j) {
  Napi::Value v = r.Field(plan, "network", "plan");
  if (v.IsNull()) return;
  const std::string p = "plan.network";
  Napi::Object n = r.Obj(v, p);
  r.OnlyKeys(n, p, {"rules", "gate"});
  j.net_gate = r.Bool(r.Field(n, "gate", p), p + ".gate");
  Napi::Array rules = r.Arr(r.Field(n, "rules", p), p + ".rules", 4096);
  for (uint32_t i = 0; i < rules.Length() && r.ok(); i++) {
    std::string at = p + ".rules[" + std::to_string(i) + "]";
    Napi::Object o = r.Obj(rules.Get(i), at);
    r.OnlyKeys(o, at, {"family", "dst", "src", "proto", "dport", "sport", "iif", "oif", "action", "priority"});
    NetRule rule = {};
    int64_t family = r.Int(r.Field(o, "family", at), at + ".family", 4, 6);
    if (family != 4 && family != 6) r.Fail(at + ".family", "expected 4 or 6");
    rule.family = family == 4 ? AF_INET : AF_INET6;
    ReadCidr(r, r.Field(o, "dst", at), at + ".dst", rule.family, rule.dst, &rule.dst_len);
    ReadCidr(r, r.Field(o, "src", at), at + ".src", rule.family, rule.src, &rule.src_len);
    rule.proto = (int)r.Int(r.Field(o, "proto", at), at + ".proto", 0, 255);
    ReadPortRange(r, r.Field(o, "dport", at), at + ".dport", &rule.dport_lo, &rule.dport_hi);
    ReadPortRange(r, r.Field(o, "sport", at), at + ".sport", &rule.sport_lo, &rule.sport_hi);
    rule.iif = r.Str(r.Field(o, "iif", at), at + ".iif");
    rule.oif = r.Str(r.Field(o, "oif", at), at + ".oif");
    if (rule.iif.size() >= 16 || rule.oif.size() >= 16) r.Fail(at, "interface names are at most 15 bytes");
    std::string action = r.Str(r.Field(o, "action", at), at + ".action");
    if (action == "lookup") rule.action = kRuleLookupMain;
    else if (action == "unreachable") rule.action = kRuleUnreachable;
    else if (action == "blackhole") rule.action = kRuleBlackhole;
    else r.Fail(at + ".action", "expected lookup, unreachable or blackhole");
    rule.priority = (uint32_t)r.Int(r.Field(o, "priority", at), at + ".priority", 1, 32765);
    if (r.ok()) AppendRuleMessage(rule, i + 1, &j.net_rules);
  }
}

void ReadCgroup(Reader& r, Napi::Object plan, PreparedJail& j) {
  Napi::Value v = r.Field(plan, "cgroup", "plan");
  if (v.IsNull()) return;
  const std::string p = "plan.cgroup";
  Napi::Object c = r.Obj(v, p);
  // version, dirs and setup are carried out by TypeScript before launch (src/cgroup/session.ts);
  // this addon applies only attach and cloneInto, between clone and the go byte.
  r.OnlyKeys(c, p, {"version", "dirs", "setup", "attach", "cloneInto"});
  Napi::Array list = r.Arr(r.Field(c, "attach", p), p + ".attach", 256);
  for (uint32_t i = 0; i < list.Length() && r.ok(); i++) {
    std::string at = p + ".attach[" + std::to_string(i) + "]";
    Napi::Object w = r.Obj(list.Get(i), at);
    r.OnlyKeys(w, at, {"path", "content"});
    j.cgroup_writes.push_back({r.Str(r.Field(w, "path", at), at + ".path"), r.Str(r.Field(w, "content", at), at + ".content")});
  }
  std::string into;
  j.clone_into_cgroup = r.OptStr(r.Field(c, "cloneInto", p), p + ".cloneInto", &into);
}

void ReadResources(Reader& r, Napi::Object res, PreparedJail& j) {
  r.OnlyKeys(res, "resources", {"stdio", "passFds", "execFd", "cgroupFd", "netGate"});
  Napi::Array stdio = r.Arr(r.Field(res, "stdio", "resources"), "resources.stdio", 3);
  if (stdio.Length() != 3) r.Fail("resources.stdio", "expected 3 fds");
  for (uint32_t i = 0; i < 3 && r.ok(); i++)
    j.spec.stdio[i] = r.Fd(stdio.Get(i), "resources.stdio[" + std::to_string(i) + "]", -1);
  Napi::Array pass = r.Arr(r.Field(res, "passFds", "resources"), "resources.passFds", kMaxPassFds);
  for (uint32_t i = 0; i < pass.Length() && r.ok(); i++)
    j.keep_fds.push_back(r.Fd(pass.Get(i), "resources.passFds[" + std::to_string(i) + "]", 3));
  std::sort(j.keep_fds.begin(), j.keep_fds.end());
  j.keep_fds.erase(std::unique(j.keep_fds.begin(), j.keep_fds.end()), j.keep_fds.end());
  j.spec.exec_fd = r.Fd(r.Field(res, "execFd", "resources"), "resources.execFd", -1);
  j.cgroup_fd = r.Fd(r.Field(res, "cgroupFd", "resources"), "resources.cgroupFd", -1);
  Napi::Array gate = r.Arr(r.Field(res, "netGate", "resources"), "resources.netGate", 2);
  if (r.ok() && gate.Length() != 2) r.Fail("resources.netGate", "expected [readFd, writeFd] (-1, -1 = none)");
  for (uint32_t i = 0; i < 2 && r.ok(); i++) j.net_gate_fds[i] = r.Fd(gate.Get(i), "resources.netGate[" + std::to_string(i) + "]", -1);
}

}  // namespace

std::unique_ptr<PreparedJail> PrepareJail(Napi::Env env, Napi::Object plan, Napi::Object resources) {
  auto j = std::make_unique<PreparedJail>();
  Reader r(env);
  r.OnlyKeys(plan, "plan",
             {"version", "cloneFlags", "idmap", "uid", "gid", "groups", "hostname", "loopbackUp", "cpus", "coreScheduling",
              "rootDir", "mounts", "cwd",
              "rlimits", "caps", "noNewPrivs", "personality", "disableTsc", "niceLevel", "oomScoreAdj", "setsid",
              "devNullFds", "deathSignal", "cloneVm", "seccomp", "cgroup", "network", "exec"});
  if (r.Int(r.Field(plan, "version", "plan"), "plan.version", 0, 1 << 20) != kPlanVersion)
    r.Fail("plan.version", "this addon applies plan version " + std::to_string(kPlanVersion) + " only");
  ChildSpec& s = j->spec;
  s.clone_flags = (uint64_t)r.Int(r.Field(plan, "cloneFlags", "plan"), "plan.cloneFlags", 0, 0xffffffffLL);
  if (s.clone_flags & ~kAllowedCloneFlags) r.Fail("plan.cloneFlags", "only CLONE_NEW* flags are accepted");
  ReadIdmap(r, plan, *j);
  s.uid = (uid_t)r.Int(r.Field(plan, "uid", "plan"), "plan.uid", 0, 0xfffffffeLL);
  s.gid = (gid_t)r.Int(r.Field(plan, "gid", "plan"), "plan.gid", 0, 0xfffffffeLL);
  Napi::Array groups = r.Arr(r.Field(plan, "groups", "plan"), "plan.groups", 65536);
  for (uint32_t i = 0; i < groups.Length() && r.ok(); i++)
    j->groups.push_back((gid_t)r.Int(groups.Get(i), "plan.groups[" + std::to_string(i) + "]", 0, 0xfffffffeLL));
  s.set_groups = j->setgroups != "deny";
  std::string text;
  if (r.OptStr(r.Field(plan, "hostname", "plan"), "plan.hostname", &text)) s.hostname = j->StoreString(text);
  s.loopback_up = r.Bool(r.Field(plan, "loopbackUp", "plan"), "plan.loopbackUp");
  Napi::Value cpus = r.Field(plan, "cpus", "plan");
  if (!cpus.IsNull()) {
    s.set_affinity = true;
    Napi::Array list = r.Arr(cpus, "plan.cpus", 1024);
    if (list.Length() == 0) r.Fail("plan.cpus", "empty CPU list");
    constexpr int kBits = 8 * sizeof(unsigned long);
    for (uint32_t i = 0; i < list.Length() && r.ok(); i++) {
      int cpu = (int)r.Int(list.Get(i), "plan.cpus[" + std::to_string(i) + "]", 0, 1023);
      s.cpu_mask[cpu / kBits] |= 1UL << (cpu % kBits);
    }
  }
  s.core_scheduling = r.Bool(r.Field(plan, "coreScheduling", "plan"), "plan.coreScheduling");
  std::string root = r.Str(r.Field(plan, "rootDir", "plan"), "plan.rootDir");
  if (!root.empty()) {
    if (root[0] != '/' || root.back() == '/') r.Fail("plan.rootDir", "expected an absolute path without a trailing slash");
    s.root = j->StoreString(root);
  }
  Napi::Array mounts = r.Arr(r.Field(plan, "mounts", "plan"), "plan.mounts", 100000);
  j->mounts.reserve(mounts.Length());
  for (uint32_t i = 0; i < mounts.Length() && r.ok(); i++) {
    std::string p = "plan.mounts[" + std::to_string(i) + "]";
    ReadMountOp(r, env, r.Obj(mounts.Get(i), p), p, *j);
  }
  s.cwd = j->StoreString(r.Str(r.Field(plan, "cwd", "plan"), "plan.cwd"));
  Napi::Array rlimits = r.Arr(r.Field(plan, "rlimits", "plan"), "plan.rlimits", 64);
  for (uint32_t i = 0; i < rlimits.Length() && r.ok(); i++) {
    std::string p = "plan.rlimits[" + std::to_string(i) + "]";
    Napi::Object o = r.Obj(rlimits.Get(i), p);
    r.OnlyKeys(o, p, {"resource", "cur", "max"});
    RlimitSpec rl;
    rl.resource = (int)r.Int(r.Field(o, "resource", p), p + ".resource", 0, 63);
    rl.cur = r.Limit(r.Field(o, "cur", p), p + ".cur");
    rl.max = r.Limit(r.Field(o, "max", p), p + ".max");
    if (rl.cur > rl.max) r.Fail(p, "cur exceeds max");
    j->rlimits.push_back(rl);
  }
  Napi::Object caps = r.Obj(r.Field(plan, "caps", "plan"), "plan.caps");
  r.OnlyKeys(caps, "plan.caps", {"keepAll", "keep", "drop"});
  s.keep_all_caps = r.Bool(r.Field(caps, "keepAll", "plan.caps"), "plan.caps.keepAll");
  Napi::Array keep = r.Arr(r.Field(caps, "keep", "plan.caps"), "plan.caps.keep", 64);
  for (uint32_t i = 0; i < keep.Length() && r.ok(); i++)
    s.keep_caps |= 1ULL << r.Int(keep.Get(i), "plan.caps.keep[" + std::to_string(i) + "]", 0, 63);
  Napi::Array drop = r.Arr(r.Field(caps, "drop", "plan.caps"), "plan.caps.drop", 64);
  for (uint32_t i = 0; i < drop.Length() && r.ok(); i++)
    s.drop_caps |= 1ULL << r.Int(drop.Get(i), "plan.caps.drop[" + std::to_string(i) + "]", 0, 63);
  if (r.ok() && s.drop_caps != 0 && !s.keep_all_caps) r.Fail("plan.caps.drop", "only with keepAll (otherwise list only the caps to keep)");
  s.no_new_privs = r.Bool(r.Field(plan, "noNewPrivs", "plan"), "plan.noNewPrivs");
  s.personality = (unsigned long)r.Int(r.Field(plan, "personality", "plan"), "plan.personality", 0, 0xffffffffLL);
  s.disable_tsc = r.Bool(r.Field(plan, "disableTsc", "plan"), "plan.disableTsc");
  Napi::Value nice = r.Field(plan, "niceLevel", "plan");
  if (!nice.IsNull()) {
    s.set_nice = true;
    s.nice = (int)r.Int(nice, "plan.niceLevel", -20, 19);
  }
  Napi::Value oom = r.Field(plan, "oomScoreAdj", "plan");
  if (!oom.IsNull()) {
    s.set_oom_score_adj = true;
    std::string value = std::to_string(r.Int(oom, "plan.oomScoreAdj", -1000, 1000));
    s.oom_score_adj = j->StoreString(value);
    s.oom_score_adj_len = value.size();
  }
  s.setsid = r.Bool(r.Field(plan, "setsid", "plan"), "plan.setsid");
  Napi::Array devnull = r.Arr(r.Field(plan, "devNullFds", "plan"), "plan.devNullFds", 3);
  bool to_null[3] = {false, false, false};
  for (uint32_t i = 0; i < devnull.Length() && r.ok(); i++)
    to_null[r.Int(devnull.Get(i), "plan.devNullFds[" + std::to_string(i) + "]", 0, 2)] = true;
  s.death_signal = (int)r.Int(r.Field(plan, "deathSignal", "plan"), "plan.deathSignal", 1, 64);
  j->clone_vm = r.Bool(r.Field(plan, "cloneVm", "plan"), "plan.cloneVm");
  ReadSeccomp(r, plan, *j);
  ReadCgroup(r, plan, *j);
  ReadNetwork(r, plan, *j);
  Napi::Object exec = r.Obj(r.Field(plan, "exec", "plan"), "plan.exec");
  r.OnlyKeys(exec, "plan.exec", {"path", "argv", "envp"});
  s.exec_path = j->StoreString(r.Str(r.Field(exec, "path", "plan.exec"), "plan.exec.path"));
  std::vector<std::string> argv = r.StrList(r.Field(exec, "argv", "plan.exec"), "plan.exec.argv", 1 << 16);
  std::vector<std::string> envp = r.StrList(r.Field(exec, "envp", "plan.exec"), "plan.exec.envp", 1 << 16);
  if (argv.empty()) r.Fail("plan.exec.argv", "must hold at least argv[0]");
  ReadResources(r, resources, *j);
  if (j->clone_into_cgroup && j->cgroup_fd < 0) r.Fail("resources.cgroupFd", "plan.cgroup.cloneInto needs an open directory fd");
  if (r.ok() && j->net_gate != (j->net_gate_fds[0] >= 0 && j->net_gate_fds[1] >= 0))
    r.Fail("resources.netGate", "plan.network.gate needs both ends of a pipe, and only then");

  if (!r.ok()) {
    Napi::TypeError::New(env, r.error()).ThrowAsJavaScriptException();
    return nullptr;
  }
  for (int i = 0; i < 3; i++) {
    if (to_null[i]) s.stdio[i] = -1;
  }
  j->argv_strings = std::move(argv);
  j->envp_strings = std::move(envp);
  if (int err = FinalizeSpec(*j)) {
    Napi::Error::New(env, "open /dev/null: " + std::string(strerror(err))).ThrowAsJavaScriptException();
    return nullptr;
  }
  return j;
}

}  // namespace jail
