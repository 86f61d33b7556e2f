"""Prints what a program sees inside examples/python-playground.cfg."""
import os
import socket
import sys
import tempfile


def can_write(directory: str) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=directory):
            return True
    except OSError:
        return False


print(f"hello from uid {os.getuid()} gid {os.getgid()} on {socket.gethostname()}")
print(f"python {sys.version.split()[0]}, cwd {os.getcwd()}, HOME={os.environ.get('HOME')}")
for d in ("/data", "/tmp", "/usr"):
    print(f"{d}: {'writable' if can_write(d) else 'read-only'}")
print("environment:", sorted(os.environ))
