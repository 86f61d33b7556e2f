{
  "targets": [
    {
      "target_name": "jail_native",
      "sources": [
        "native/addon.cc",
        "native/prepare.cc",
        "native/prepared.cc",
        "native/launch.cc",
        "native/launch_session.cc",
        "native/clone.cc",
        "native/userns.cc",
        "native/wait.cc",
        "native/cgroup.cc",
        "native/audit.cc",
        "native/execve_mode.cc",
        "native/blob.cc",
        "native/child.cc",
        "native/mount.cc",
        "native/caps.cc",
        "native/rlimit.cc",
        "native/seccomp.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    },
    {
      "target_name": "jail_exec",
      "type": "executable",
      "sources": [
        "native/exec_main.cc",
        "native/blob.cc",
        "native/prepared.cc",
        "native/launch.cc",
        "native/clone.cc",
        "native/userns.cc",
        "native/child.cc",
        "native/mount.cc",
        "native/caps.cc",
        "native/rlimit.cc",
        "native/seccomp.cc"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "ldflags": ["-static-libstdc++"]
    }
  ]
}
