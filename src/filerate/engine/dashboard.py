"""Where a phase's Dask dashboard listens, and what listens at all (docs/SECURITY.md).

The dashboard is off unless ``dashboard:`` asks for it: its Bokeh server runs in the
scheduler's process and updates its plots while a browser watches, which a timed run should
not pay for unasked. When on, it binds to 127.0.0.1 unless the user names an address: it
has no authentication, so on another interface anyone who reaches the port can watch the
run (reach it from elsewhere through an SSH tunnel instead). The link is printed in the log
and recorded in run.json.
"""

from __future__ import annotations

import ipaddress
import sys

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8787  # Dask's own; taken, Dask picks a free port and the link says which


def address(setting: bool | str | None) -> str | None:
    """The ``dashboard_address`` to give the cluster: None (off) for false/null, 127.0.0.1:8787
    for true, else the user's ``host:port`` (a bare ``:port`` or port gets 127.0.0.1, where
    Dask would bind every interface)."""
    if setting is None or setting is False:
        return None
    if setting is True:
        return f"{LOOPBACK}:{DEFAULT_PORT}"
    text = str(setting).strip()
    if text.isdigit():
        return f"{LOOPBACK}:{text}"
    if text.startswith(":"):
        return f"{LOOPBACK}{text}"
    return text


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def local_cluster_kwargs(setting: bool | str | None) -> dict:
    """What a LocalCluster / LocalCUDACluster is given: scheduler and workers bound to
    127.0.0.1, the dashboard as ``setting`` asks.

    With the dashboard off the scheduler still runs a small HTTP server (health, metrics,
    JSON info); it gets a free loopback port, not 8787, which another run may hold."""
    wanted = address(setting)
    off = {"dashboard": False, "dashboard_address": f"{LOOPBACK}:0"}
    extra = {} if wanted else off
    return {"host": LOOPBACK, "dashboard_address": wanted, "scheduler_kwargs": extra}


def record(client, setting: bool | str | None, external: bool = False) -> dict:
    """What run.json says of the dashboard; its link is printed in the log.

    An existing scheduler's dashboard is its own (``setting`` cannot change it): its link
    is recorded as Dask reports it, ``enabled`` null."""
    wanted = None if external else address(setting)
    link = _link(client) if (wanted or external) else None
    rec = {
        "enabled": None if external else wanted is not None,
        "requested": setting,
        "address": wanted,
        "link": link,
        "loopback_only": is_loopback_host(wanted.rsplit(":", 1)[0]) if wanted else None,
    }
    if link:
        print(f"filerate process: Dask dashboard: {link}", file=sys.stderr)
    if wanted and not rec["loopback_only"]:
        print(
            f"filerate process: warning: the dashboard listens on {wanted}: it has no "
            "login, anyone who reaches that address can watch this run",
            file=sys.stderr,
        )
    return rec


def _link(client) -> str | None:
    try:
        return client.dashboard_link
    except Exception:  # an unreachable or old scheduler: no link rather than no run
        return None


def listening(pids) -> list[tuple[int, str, int]]:
    """(pid, ip, port) of every TCP socket the processes ``pids`` listen on."""
    import psutil

    out = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            conns = (
                proc.net_connections(kind="inet")
                if hasattr(proc, "net_connections")
                else proc.connections(kind="inet")
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out.extend((pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN)
    return out


def beyond_loopback(pids) -> list[tuple[int, str, int]]:
    """The listening sockets of ``pids`` that another machine could reach."""
    return [s for s in listening(pids) if not is_loopback_host(s[1])]
