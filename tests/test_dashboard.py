"""The dashboard setting and what a local cluster listens on: filerate.engine.dashboard."""

from __future__ import annotations

import os
import socket

import psutil
import pytest

from filerate.engine import dashboard


@pytest.mark.parametrize(
    "setting, expected",
    [
        (False, None),
        (None, None),
        (True, "127.0.0.1:8787"),
        (":9000", "127.0.0.1:9000"),
        ("9000", "127.0.0.1:9000"),
        ("0.0.0.0:8787", "0.0.0.0:8787"),
        ("localhost:8788", "localhost:8788"),
    ],
)
def test_address(setting, expected):
    assert dashboard.address(setting) == expected


def test_off_by_default_and_loopback_when_on():
    off = dashboard.local_cluster_kwargs(False)
    assert off["host"] == "127.0.0.1" and off["dashboard_address"] is None
    assert off["scheduler_kwargs"] == {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    on = dashboard.local_cluster_kwargs(True)
    assert on["dashboard_address"] == "127.0.0.1:8787" and on["scheduler_kwargs"] == {}


def test_listening_sees_a_socket_on_every_interface():
    """The check below can fail: a socket bound to all interfaces is reported."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        open_ = dashboard.beyond_loopback([os.getpid()])
        assert (os.getpid(), "0.0.0.0", port) in open_
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert (os.getpid(), "127.0.0.1", s.getsockname()[1]) in dashboard.listening([os.getpid()])
        assert not any(p == s.getsockname()[1] for _, _, p in dashboard.beyond_loopback([]))


def _cluster_pids() -> list[int]:
    me = psutil.Process()
    return [me.pid, *(c.pid for c in me.children(recursive=True))]


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # another run holds it
@pytest.mark.parametrize("setting", [False, True])
def test_a_local_cluster_listens_on_loopback_only(setting, capsys):
    from distributed import Client, LocalCluster

    kwargs = dashboard.local_cluster_kwargs(setting)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, **kwargs) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(1, timeout=60)
        sockets = dashboard.listening(_cluster_pids())
        assert len({pid for pid, _, _ in sockets}) >= 2  # the scheduler here and a worker
        assert dashboard.beyond_loopback(_cluster_pids()) == []
        rec = dashboard.record(client, setting)
    assert rec["enabled"] is setting
    if setting:
        assert rec["link"].startswith("http://127.0.0.1:") and rec["loopback_only"]
        assert rec["link"] in capsys.readouterr().err
    else:
        assert rec["link"] is None
