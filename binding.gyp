{
  "targets": [
    {
      # The code that runs in the cloned child, between clone and execve (docs/architecture.md §4),
      # compiled so that the compiler inserts no call or TLS access the source does not show:
      # no builtins and no loop distribution (a loop stays a loop, not strlen@plt/memset@plt),
      # no stack protector (its canary is read from TLS), no jump tables (so the object-code
      # check can reject every indirect branch), hidden visibility (calls between child
      # functions are bound at link time, never through the PLT).
      # test/native/core/after-clone.test.ts checks the linked result.
      "target_name": "jail_child",
      "type": "static_library",
      "sources": [
        "native/child.cc",
        "native/mount.cc",
        "native/caps.cc",
        "native/rlimit.cc",
        "native/seccomp.cc",
        "native/network.cc",
        "native/clone.cc",
        "native/netns_child.cc"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": [
        "-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions", "-fno-rtti", "-fPIC",
        "-fvisibility=hidden", "-fno-builtin", "-fno-tree-loop-distribute-patterns",
        "-fno-stack-protector", "-fno-jump-tables"
      ]
    },
    {
      "target_name": "jail_native",
      "dependencies": ["jail_child"],
      "sources": [
        "native/addon.cc",
        "native/prepare.cc",
        "native/net_rule_message.cc",
        "native/prepared.cc",
        "native/launch.cc",
        "native/launch_session.cc",
        "native/userns.cc",
        "native/wait.cc",
        "native/cgroup.cc",
        "native/audit.cc",
        "native/unotify.cc",
        "native/listener_filter.cc",
        "native/execve_mode.cc",
        "native/blob.cc",
        "native/warm.cc",
        "native/box.cc",
        "native/netns_sockets.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      # Hidden visibility: only the N-API module init is exported (NAPI_MODULE_EXPORT), so calls
      # into jail_child resolve inside the .node at link time.
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions", "-fvisibility=hidden"],
      "cflags_cc!": ["-fno-rtti"],
      # Immediate binding: every symbol is resolved at load time, so no launch ever runs the
      # dynamic linker's lazy resolver.
      "ldflags": ["-Wl,-z,now", "-Wl,-z,relro"]
    },
    {
      "target_name": "jail_exec",
      "type": "executable",
      "dependencies": ["jail_child"],
      "sources": [
        "native/exec_main.cc",
        "native/blob.cc",
        "native/prepared.cc",
        "native/launch.cc",
        "native/listener_filter.cc",
        "native/userns.cc"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "ldflags": ["-static-libstdc++", "-Wl,-z,now", "-Wl,-z,relro"]
    },
    {
      # PID 1 of a box (native/box_init.cc): static, because it runs inside images whose libc
      # may differ from the host's, or be missing.
      "target_name": "jail_box_init",
      "type": "executable",
      "sources": ["native/box_init.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions", "-fno-rtti"],
      "ldflags": ["-static", "-Wl,-z,now", "-Wl,-z,relro"]
    },
    {
      # The warm path's client (native/warm_client.cc): no Node, no addon code, only libc.
      "target_name": "jail_client",
      "type": "executable",
      "sources": ["native/warm_client.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions", "-fno-rtti"],
      "ldflags": ["-static-libstdc++", "-Wl,-z,now", "-Wl,-z,relro"]
    }
  ]
}
