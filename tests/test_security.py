"""TLS for clusters that listen beyond localhost: filerate.engine.security."""

from __future__ import annotations

import os
import stat

import pytest

from filerate.engine import dashboard, security
from filerate.errors import UserError

pytest.importorskip("cryptography")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def temporary(tmp_path):
    tls = security.for_cluster({}, tmp_path, local=False)
    yield tls
    tls.cleanup()


def test_temporary_certificates_are_private_files_in_the_run_directory(tmp_path, temporary):
    rec = temporary.record
    assert rec["mode"] == "temporary" and rec["enabled"] and not rec["opt_out"]
    folder = tmp_path / security.TLS_DIR
    assert rec["dir"] == str(folder) and _mode(folder) == 0o700
    for name in security.CERT_FILES:
        assert _mode(folder / name) == 0o600
    assert (folder / "key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (folder / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    sec = temporary.security
    assert sec.require_encryption
    assert sec.tls_scheduler_cert == sec.tls_worker_cert == rec["cert_file"]
    assert not list(folder.glob(".*.tmp"))  # no temporary file left behind
    temporary.cleanup()
    assert not folder.exists() and rec["temporary_files_removed"]


def test_private_files_ignore_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        paths = security.write_private(tmp_path / "d", {"k": "secret"})
    finally:
        os.umask(old)
    assert _mode(paths["k"]) == 0o600 and _mode(tmp_path / "d") == 0o700


def test_a_local_cluster_gets_tls_only_when_asked(tmp_path):
    plain = security.for_cluster({}, tmp_path, local=True)
    assert plain.security is None and plain.record["mode"] == "none"
    assert not (tmp_path / security.TLS_DIR).exists()
    both = {"tls": {"local": True, "enabled": False}}  # enabled: false wins, no opt-out flag
    assert security.for_cluster(both, tmp_path, local=True).record["mode"] == "none"
    asked = security.for_cluster({"tls": {"local": True}}, tmp_path, local=True)
    try:
        assert asked.record["mode"] == "temporary"
    finally:
        asked.cleanup()


def test_the_opt_out_is_explicit_and_recorded(tmp_path, capsys):
    tls = security.for_cluster({"tls": {"enabled": False}}, tmp_path, local=False)
    assert tls.security is None
    assert tls.record["opt_out"] and tls.record["mode"] == "off"
    assert "TLS is off" in capsys.readouterr().err


def _user_files(tmp_path, key_mode=0o600):
    from distributed.security import Security

    made = Security.temporary()
    paths = {}
    for name, text in (("ca", made.tls_ca_file), ("cert", made.tls_client_cert),
                       ("key", made.tls_client_key)):  # fmt: skip
        p = tmp_path / f"{name}.pem"
        p.write_text(text)
        p.chmod(0o600 if name == "key" else 0o644)
        paths[f"{name}_file"] = str(p)
    os.chmod(paths["key_file"], key_mode)
    return paths


def test_user_certificate_files(tmp_path):
    files = _user_files(tmp_path)
    tls = security.for_cluster({"tls": files}, tmp_path, local=False)
    assert tls.record["mode"] == "files" and tls.security.tls_ca_file == files["ca_file"]
    assert tls.temporary_dir is None
    assert not (tmp_path / security.TLS_DIR).exists()


def test_a_key_others_can_read_is_refused(tmp_path):
    files = _user_files(tmp_path, key_mode=0o644)
    with pytest.raises(UserError, match="chmod 600"):
        security.for_cluster({"tls": files}, tmp_path, local=False)


def test_certificate_files_come_as_a_set(tmp_path):
    files = _user_files(tmp_path)
    with pytest.raises(UserError, match="tls.key_file is missing"):
        security.for_cluster({"tls": {**files, "key_file": None}}, tmp_path, local=False)
    with pytest.raises(UserError, match="readable PEM file"):
        bad = {**files, "ca_file": str(tmp_path / "nope.pem")}
        security.for_cluster({"tls": bad}, tmp_path, local=False)


def test_an_existing_plain_scheduler_beyond_loopback_is_refused(tmp_path):
    with pytest.raises(UserError, match="not TLS-protected"):
        security.for_cluster({}, tmp_path, local=False, existing="tcp://10.1.2.3:8786")
    loop = security.for_cluster({}, tmp_path, local=False, existing="tcp://127.0.0.1:8786")
    assert loop.security is None and loop.record["mode"] == "none"
    off = security.for_cluster(
        {"tls": {"enabled": False}}, tmp_path, local=False, existing="tcp://node7:8786"
    )
    assert off.record["opt_out"]


def test_an_existing_tls_scheduler_needs_the_users_files(tmp_path):
    with pytest.raises(UserError, match="speaks TLS"):
        security.for_cluster({}, tmp_path, local=False, existing="tls://10.1.2.3:8786")
    files = _user_files(tmp_path)
    tls = security.for_cluster({"tls": files}, tmp_path, local=False, existing="tls://h:8786")
    assert tls.record["mode"] == "files"


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("tcp://127.0.0.1:8786", True),
        ("tls://127.0.0.2:1", True),
        ("tcp://[::1]:8786", True),
        ("tcp://localhost:8786", True),
        ("tcp://10.0.0.5:8786", False),
        ("tls://node12:8786", False),
        ("not an address", False),
    ],
)
def test_is_loopback(address, loopback):
    assert security.is_loopback(address) is loopback


# -- a TLS scheduler on loopback refuses a client without the run's certificate --------------


@pytest.fixture
def tls_scheduler(temporary):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        security=temporary.security,
        **dashboard.local_cluster_kwargs(False),
    ) as cluster:
        yield cluster.scheduler_address, temporary


def _refused(address, sec) -> bool:
    from distributed import Client

    try:
        with Client(address, security=sec, timeout="3s") as client:
            client.submit(os.getpid).result(timeout=3)
    except (OSError, TimeoutError):  # CommClosedError is an OSError
        return True
    return False


def _no_certificate_refused(address, ca_file) -> bool:
    """A raw TLS connection that trusts the scheduler but shows no certificate of its own
    (Dask's client cannot even be built that way): the scheduler must end it."""
    import socket
    import ssl

    host, port = address.removeprefix("tls://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = False
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as conn:
                conn.sendall(b"\0" * 8)
                return conn.recv(1) == b""  # EOF: closed without a word
        except (ssl.SSLError, ConnectionError):  # TLS 1.3: "certificate required" alert
            return True


def test_a_client_without_the_certificate_is_refused(tls_scheduler):
    from distributed import Client
    from distributed.security import Security

    address, tls = tls_scheduler
    assert address.startswith("tls://127.0.0.1:")
    with Client(address, security=tls.security, timeout="10s") as client:  # the run's own
        assert client.submit(sum, [1, 2]).result(timeout=10) == 3
    other = Security.temporary()
    # trusts the scheduler (right CA) but holds another certificate: the scheduler refuses
    stranger = Security(
        tls_ca_file=tls.record["ca_file"],
        tls_client_cert=other.tls_client_cert,
        tls_client_key=other.tls_client_key,
        require_encryption=True,
    )
    assert _refused(address, stranger)
    other_ca = Security.temporary()  # its own CA: it refuses the scheduler, and vice versa
    assert _refused(address, other_ca)
    assert _no_certificate_refused(address, tls.record["ca_file"])
    # plain TCP to the TLS port
    assert _refused(address.replace("tls://", "tcp://"), None)
