"""What the kernel knows about a process: CPU time, resident memory, cores and open-file limit."""

from __future__ import annotations

import ctypes
import os
import resource
import signal

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def raise_nofile() -> int:
    """Raise this process's soft open-file limit to its hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def die_with_parent() -> None:
    """Ask Linux to stop this process when its parent dies (a killed driver leaves no server)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def child_setup() -> None:
    """What every process the bench starts does first: follow its parent, raise its limit."""
    die_with_parent()
    raise_nofile()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        stat = file.read()
    # The command name may hold spaces and parentheses: count fields after the last ")".
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    """The resident set size of the process, from /proc/<pid>/statm."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as file:
        return int(file.read().split()[1]) * PAGE


def holds_socket_to(pid: int, peer_port: int) -> bool:
    """Whether the process still holds a TCP socket whose peer is `peer_port` (IPv4)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/tcp", encoding="ascii") as file:
        rows = [line.split() for line in file.readlines()[1:]]
    return any(int(row[2].split(":")[1], 16) == peer_port and row[9] in inodes for row in rows)


def cores() -> list[int]:
    """The cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


def pin(pid: int, core: int | None) -> None:
    """Pin a process to one core; None leaves it free (a machine with a single core)."""
    if core is not None:
        os.sched_setaffinity(pid, {core})


def plan_cores() -> tuple[int | None, int | None]:
    """The core for the server under test and the core for load, or None when only one."""
    available = cores()
    if len(available) < 2:
        return None, None
    return available[0], available[1]
