// PreparedJail <-> bytes (see blob.h). Runs in the parent only: the addon's main thread when
// writing, the single-threaded -Me launcher when reading.
#include "blob.h"

#include <string.h>

namespace jail {

namespace {

constexpr uint32_t kMagic = 0x4a41494c;  // "JAIL"

class Writer {
 public:
  void U64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void Bytes(const char* p, size_t n) {
    U64(n);
    out_.append(p, n);
  }
  void Str(const std::string& s) { Bytes(s.data(), s.size()); }
  // A C string that may be null.
  void OptCStr(const char* s) {
    U64(s != nullptr);
    if (s) Bytes(s, strlen(s));
  }
  void Strs(const std::vector<std::string>& list) {
    U64(list.size());
    for (const std::string& s : list) Str(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  bool ok() const { return ok_; }
  uint64_t U64() {
    uint64_t v = 0;
    if (!Need(sizeof(v))) return 0;
    memcpy(&v, in_.data() + at_, sizeof(v));
    at_ += sizeof(v);
    return v;
  }
  std::string Str() {
    uint64_t n = U64();
    if (!Need(n)) return std::string();
    std::string s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  // A C string kept in j's storage, or null.
  const char* OptCStr(PreparedJail& j) { return U64() ? j.StoreString(Str()) : nullptr; }
  std::vector<std::string> Strs() {
    std::vector<std::string> out;
    uint64_t n = U64();
    for (uint64_t i = 0; i < n && ok_; i++) out.push_back(Str());
    return out;
  }
  bool AtEnd() const { return at_ == in_.size(); }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || n > in_.size() - at_) ok_ = false;
    return ok_;
  }
  const std::string& in_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string SerializeJail(const PreparedJail& j, const ExecveExtras& extras) {
  const ChildSpec& s = j.spec;
  Writer w;
  w.U64(kMagic);
  w.U64(s.clone_flags);
  w.U64((uint64_t)s.death_signal);
  w.U64(s.uid);
  w.U64(s.gid);
  w.U64(s.set_groups);
  w.OptCStr(s.hostname);
  w.OptCStr(s.root);
  w.U64(s.loopback_up);
  w.Str(j.net_rules);
  w.U64(s.set_affinity);
  for (unsigned long word : s.cpu_mask) w.U64(word);
  w.U64(s.core_scheduling);
  w.OptCStr(s.cwd);
  w.U64(s.keep_all_caps);
  w.U64(s.keep_caps);
  w.U64(s.drop_caps);
  w.U64(s.no_new_privs);
  w.U64(s.personality);
  w.U64(s.disable_tsc);
  w.U64(s.set_nice);
  w.U64((uint64_t)(int64_t)s.nice);
  w.U64(s.set_oom_score_adj);
  w.OptCStr(s.oom_score_adj);
  w.U64(s.setsid);
  // /dev/null is reopened by the reader: the addon's fd is close-on-exec.
  for (int i = 0; i < 3; i++) w.U64((uint64_t)(int64_t)(s.stdio[i] == j.devnull_fd ? -1 : s.stdio[i]));
  w.U64((uint64_t)(int64_t)s.exec_fd);
  w.U64(s.seccomp_flags);
  w.OptCStr(s.exec_path);
  w.U64(j.groups.size());
  for (gid_t g : j.groups) w.U64(g);
  w.U64(j.mounts.size());
  for (const MountOpSpec& m : j.mounts) {
    w.U64(m.kind);
    w.U64(m.optional);
    w.OptCStr(m.source);
    w.OptCStr(m.target);
    w.OptCStr(m.fstype);
    w.U64(m.data != nullptr);
    if (m.data) w.Bytes(m.data, m.kind == kOpWrite ? m.data_len : strlen(m.data));
    w.U64(m.flags);
    w.U64(m.attr_set);
    w.U64(m.attr_clr);
    w.U64(m.recursive);
    w.U64(m.mode);
  }
  w.U64(j.rlimits.size());
  for (const RlimitSpec& r : j.rlimits) {
    w.U64((uint64_t)r.resource);
    w.U64(r.cur);
    w.U64(r.max);
  }
  w.U64(j.keep_fds.size());
  for (int fd : j.keep_fds) w.U64((uint64_t)fd);
  w.Bytes(reinterpret_cast<const char*>(j.filter.data()), j.filter.size() * sizeof(struct sock_filter));
  w.Strs(j.argv_strings);
  w.Strs(j.envp_strings);
  w.Str(j.uid_map);
  w.Str(j.gid_map);
  w.Str(j.setgroups);
  w.Strs(j.newuidmap);
  w.Strs(j.newgidmap);
  w.U64(j.clone_vm);
  w.U64(j.cgroup_writes.size());
  for (const FileWrite& f : j.cgroup_writes) {
    w.Str(f.path);
    w.Str(f.content);
  }
  w.U64(extras.time_limit);
  w.Strs(extras.failure_texts);
  return w.Take();
}

std::unique_ptr<PreparedJail> DeserializeJail(const std::string& bytes, ExecveExtras* extras, std::string* error) {
  auto j = std::make_unique<PreparedJail>();
  ChildSpec& s = j->spec;
  Reader r(bytes);
  if (r.U64() != kMagic) {
    *error = "not a jail plan blob";
    return nullptr;
  }
  s.clone_flags = r.U64();
  s.death_signal = (int)r.U64();
  s.uid = (uid_t)r.U64();
  s.gid = (gid_t)r.U64();
  s.set_groups = r.U64();
  s.hostname = r.OptCStr(*j);
  s.root = r.OptCStr(*j);
  s.loopback_up = r.U64();
  j->net_rules = r.Str();
  s.set_affinity = r.U64();
  for (unsigned long& word : s.cpu_mask) word = r.U64();
  s.core_scheduling = r.U64();
  s.cwd = r.OptCStr(*j);
  s.keep_all_caps = r.U64();
  s.keep_caps = r.U64();
  s.drop_caps = r.U64();
  s.no_new_privs = r.U64();
  s.personality = r.U64();
  s.disable_tsc = r.U64();
  s.set_nice = r.U64();
  s.nice = (int)(int64_t)r.U64();
  s.set_oom_score_adj = r.U64();
  s.oom_score_adj = r.OptCStr(*j);
  s.oom_score_adj_len = s.oom_score_adj ? strlen(s.oom_score_adj) : 0;
  s.setsid = r.U64();
  for (int i = 0; i < 3; i++) s.stdio[i] = (int)(int64_t)r.U64();
  s.exec_fd = (int)(int64_t)r.U64();
  s.seccomp_flags = (unsigned int)r.U64();
  s.exec_path = r.OptCStr(*j);
  for (uint64_t n = r.U64(), i = 0; i < n && r.ok(); i++) j->groups.push_back((gid_t)r.U64());
  for (uint64_t n = r.U64(), i = 0; i < n && r.ok(); i++) {
    MountOpSpec m = {};
    m.kind = (MountOpKind)r.U64();
    m.optional = r.U64();
    m.source = r.OptCStr(*j);
    m.target = r.OptCStr(*j);
    m.fstype = r.OptCStr(*j);
    if (r.U64()) {
      j->strings.push_back(r.Str());
      m.data = j->strings.back().c_str();
      m.data_len = j->strings.back().size();
    }
    m.flags = r.U64();
    m.attr_set = r.U64();
    m.attr_clr = r.U64();
    m.recursive = r.U64();
    m.mode = (uint32_t)r.U64();
    j->mounts.push_back(m);
  }
  for (uint64_t n = r.U64(), i = 0; i < n && r.ok(); i++) {
    RlimitSpec rl;
    rl.resource = (int)r.U64();
    rl.cur = r.U64();
    rl.max = r.U64();
    j->rlimits.push_back(rl);
  }
  for (uint64_t n = r.U64(), i = 0; i < n && r.ok(); i++) j->keep_fds.push_back((int)r.U64());
  std::string filter = r.Str();
  if (filter.size() % sizeof(struct sock_filter) != 0) *error = "torn filter";
  j->filter.resize(filter.size() / sizeof(struct sock_filter));
  if (!filter.empty()) memcpy(j->filter.data(), filter.data(), filter.size());
  j->argv_strings = r.Strs();
  j->envp_strings = r.Strs();
  j->uid_map = r.Str();
  j->gid_map = r.Str();
  j->setgroups = r.Str();
  j->newuidmap = r.Strs();
  j->newgidmap = r.Strs();
  j->clone_vm = r.U64() != 0;
  for (uint64_t n = r.U64(), i = 0; i < n && r.ok(); i++) {
    std::string path = r.Str();
    std::string content = r.Str();
    j->cgroup_writes.push_back({path, content});
  }
  extras->time_limit = (uint32_t)r.U64();
  extras->failure_texts = r.Strs();
  if (!r.ok() || !r.AtEnd()) *error = "truncated or oversized jail plan blob";
  if (!error->empty()) return nullptr;
  return j;
}

}  // namespace jail
