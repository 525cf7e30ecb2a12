"""Test bundle: each request tries one way out of the sandbox (`attempt`) and reports what happened as its error."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from model_builder import Application, LabelVolume, Volume

# x86_64 numbers of system calls the seccomp filter refuses.
SYSCALLS = {"ptrace": (101, 0, 0, 0, 0), "mount": (165, 0, 0, 0, 0), "umount2": (166, 0, 0), "chroot": (161, 0),
            "pivot_root": (155, 0, 0), "unshare": (272, 0x10000000), "setns": (308, -1, 0),
            "bpf": (321, 0, 0, 0), "perf_event_open": (298, 0, 0, -1, -1, 0), "keyctl": (250, 0, 0),
            "add_key": (248, 0, 0, 0, 0, 0), "userfaultfd": (323, 0), "kexec_load": (246, 0, 0, 0, 0),
            "init_module": (175, 0, 0, 0), "reboot": (169, 0, 0, 0, 0), "swapon": (167, 0, 0),
            "open_by_handle_at": (304, -1, 0, 0), "process_vm_readv": (310, 1, 0, 0, 0, 0, 0),
            "personality_no_aslr": (135, 0x0040000), "clone_newnet": (56, 0x40000000 | 17, 0, 0, 0, 0)}


def outcome(action: Callable[[], Any]) -> Any:
    """"ok" (or what the action returned), else the errno's name."""
    try:
        result = action()
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error))
    return "ok" if result is None else result


def read(paths: list[str]) -> list[Any]:
    return [outcome(lambda p=p: open(p, "rb").read(1) and None) for p in paths]


def listdir(paths: list[str]) -> list[Any]:
    return [outcome(lambda p=p: sorted(os.listdir(p))) for p in paths]


def write(paths: list[str]) -> list[Any]:
    return [outcome(lambda p=p: open(p, "wb").write(b"x") and None) for p in paths]


def identity() -> dict[str, Any]:
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "hostname": socket.gethostname(),
            "status": {key: status[key].strip() for key in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp")},
            "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "fds": sorted(os.listdir("/proc/self/fd")), "environment": sorted(os.environ),
            "interfaces": [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]],
            "mounts": [line.split()[1] for line in open("/proc/self/mounts").read().splitlines()]}


def syscalls() -> dict[str, Any]:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    found = {}
    for name, (number, *args) in SYSCALLS.items():
        result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
        found[name] = "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
        if name == "clone_newnet" and result == 0:
            os._exit(0)  # the child of a clone that should have been refused
    found["personality_query"] = "ok" if libc.syscall(ctypes.c_long(135), ctypes.c_long(0)) >= 0 else "refused"
    return found


def network(port: int) -> dict[str, Any]:
    families = {"inet": socket.AF_INET, "inet6": socket.AF_INET6, "netlink": socket.AF_NETLINK,
                "packet": socket.AF_PACKET, "unix": socket.AF_UNIX}
    found = {name: outcome(lambda f=f: socket.socket(f, socket.SOCK_DGRAM if f == socket.AF_NETLINK else
                                                     socket.SOCK_STREAM).close()) for name, f in families.items()}
    found["connect"] = outcome(lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close())
    return found


def fill_tmp(chunk: int = 1 << 20, per_file: int = 8) -> dict[str, Any]:
    written, index, block = 0, 0, b"\0" * chunk
    try:
        while True:
            with open(f"/tmp/fill-{index}", "wb") as handle:
                for _ in range(per_file):
                    handle.write(block)
                    handle.flush()
                    written += chunk
            index += 1
    except OSError as error:
        return {"written": written, "error": errno.errorcode.get(error.errno or 0, str(error))}


def fork() -> None:
    children = 0
    while True:
        pid = os.fork()  # raises BlockingIOError (EAGAIN) at the process limit
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        children += 1


def loop() -> None:
    while True:
        pass


def allocate() -> None:
    chunks = []
    while True:
        chunks.append(np.ones(16 << 20, dtype=np.uint8))  # written, so really resident


ATTEMPTS: dict[str, Callable[..., Any]] = {
    "read": read, "listdir": listdir, "write": write, "identity": identity, "syscalls": syscalls,
    "network": network, "fill_tmp": fill_tmp, "fork": fork, "loop": loop, "allocate": allocate,
}


class ProbeApplication(Application):
    """Runs the attempt the request names; "sleep" sleeps `seconds` and answers an empty mask."""

    def run(self, volume: Volume) -> LabelVolume:
        attempt = volume.attributes["attempt"]
        args = volume.attributes.get("args", {})
        if attempt == "sleep":
            time.sleep(float(args["seconds"]))
            return LabelVolume(np.zeros(volume.array.shape, dtype=np.uint8))
        report = ATTEMPTS[attempt](**args)
        raise RuntimeError("probe report " + json.dumps(report))
