"""TLS for a Dask cluster that listens beyond localhost (docs/SECURITY.md).

A Dask scheduler runs whatever code a connected client sends it, as the user who started
it. On a shared network (a multi-node run, Dask workers as Slurm jobs) the scheduler must
therefore only talk to peers that prove they hold the run's certificate: Dask's mutual TLS
(`distributed.security.Security`). This module decides, for one phase, which certificates
the cluster uses and records the decision for run.json:

- ``temporary``: a fresh self-signed key and certificate (``Security.temporary()``) written
  into the run directory (``<phase dir>/.tls/``, folder 0700, files 0600) so that workers
  started elsewhere (Slurm jobs, `dask worker` on other nodes) read the same files; removed
  when the phase ends;
- ``files``: the CA, certificate and key files the user names (``tls.ca_file``,
  ``tls.cert_file``, ``tls.key_file``); a key that others may read is refused;
- ``off``: the explicit opt-out ``tls: {enabled: false}``, recorded so the report flags it.

`for_cluster` is the one function the cluster code calls.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from filerate.errors import UserError

#: folder of the run directory that holds a run's temporary certificates
TLS_DIR = ".tls"
#: the certificate files written for mode "temporary" (the self-signed certificate is its own CA)
CERT_FILES = ("ca.pem", "cert.pem", "key.pem")
DEFAULTS = {"enabled": True, "local": False, "ca_file": None, "cert_file": None, "key_file": None}


@dataclass
class Tls:
    """The security a cluster uses (None: plain TCP) and what run.json records of it."""

    security: object | None
    record: dict = field(default_factory=dict)
    temporary_dir: Path | None = None

    def cleanup(self) -> None:
        """Remove the run's temporary certificates (nothing to do for user files)."""
        if self.temporary_dir is not None:
            shutil.rmtree(self.temporary_dir, ignore_errors=True)
            self.record["temporary_files_removed"] = not self.temporary_dir.exists()


def remove_stale(run_dir: str | os.PathLike) -> None:
    """Remove temporary certificates a killed run left in ``run_dir``."""
    shutil.rmtree(Path(run_dir) / TLS_DIR, ignore_errors=True)


def settings_of(settings: dict) -> dict:
    """The phase's ``tls`` settings with every default filled in."""
    return {**DEFAULTS, **(settings.get("tls") or {})}


def for_cluster(
    settings: dict, run_dir: str | os.PathLike, *, local: bool, existing: str | None = None
) -> Tls:
    """The TLS a phase's cluster uses, and its record: the one call the cluster code makes.

    - ``existing``: the address of a scheduler the user started (``address:`` or the one in
      ``scheduler_file:``); it is used with the user's certificate files when it speaks
      tls://, and refused when it speaks plain TCP beyond loopback unless TLS is opted out;
    - ``local=True``: a cluster filerate starts bound to 127.0.0.1: TLS only with
      ``tls.local: true`` (on a shared login node other local users reach 127.0.0.1 too);
    - ``local=False``: a cluster filerate starts that listens beyond localhost (Dask
      workers as Slurm jobs): the user's files, else a temporary certificate in
      ``run_dir/.tls``, unless opted out.
    """
    tls = settings_of(settings)
    named = [tls["ca_file"], tls["cert_file"], tls["key_file"]]
    if existing is not None:
        return _for_existing(existing, tls, named)
    if local and not (tls["local"] and tls["enabled"]):
        return Tls(None, _record("none", "local cluster bound to 127.0.0.1 (tls.local: false)"))
    if not tls["enabled"]:
        return _opted_out("a cluster that listens beyond localhost")
    if any(named):
        return _from_user_files(*named)
    return _temporary(Path(run_dir) / TLS_DIR)


def _for_existing(address: str, tls: dict, named: list) -> Tls:
    if not tls["enabled"]:
        return _opted_out(f"the scheduler at {address}")
    if address.startswith("tls://"):
        if not any(named):
            raise UserError(
                f"the scheduler at {address} speaks TLS: name the CA, certificate and key its "
                "workers use in tls.ca_file, tls.cert_file and tls.key_file"
            )
        return _from_user_files(*named)
    if is_loopback(address):
        return Tls(None, _record("none", f"existing scheduler on loopback ({address})"))
    raise UserError(
        f"the scheduler at {address} is not TLS-protected: anyone who reaches it can run code "
        "as you. Start it and its workers with --tls-ca-file/--tls-cert/--tls-key and name the "
        "same files in tls.ca_file/cert_file/key_file (docs/SECURITY.md), or opt out with "
        "tls: {enabled: false} (the report flags it)"
    )


def _record(mode: str, why: str, **paths) -> dict:
    enabled = mode in ("files", "temporary")
    return {"mode": mode, "enabled": enabled, "opt_out": mode == "off", "why": why, **paths}


def _opted_out(what: str) -> Tls:
    print(
        f"filerate process: warning: TLS is off (tls.enabled: false) for {what}: anyone who "
        "reaches the scheduler can run code as you",
        file=sys.stderr,
    )
    return Tls(None, _record("off", f"tls.enabled: false (explicit opt-out) for {what}"))


def _from_user_files(ca_file, cert_file, key_file) -> Tls:
    """Security from the user's PEM files: all three named, readable, the key private."""
    named = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    missing = [k for k, v in named.items() if not v]
    if missing:
        raise UserError(
            f"config: tls.{missing[0]} is missing: give ca_file, cert_file and key_file "
            "together, or none of them for a temporary certificate per run"
        )
    for key, path in named.items():
        if not os.access(path, os.R_OK) or not Path(path).is_file():
            raise UserError(f"config: tls.{key} = {path!r}: must be a readable PEM file")
    _require_private(Path(key_file))
    files = {"ca_file": str(ca_file), "cert_file": str(cert_file), "key_file": str(key_file)}
    record = _record("files", "certificate files named in tls", **files)
    return Tls(security(*files.values()), record)


def _require_private(key: Path) -> None:
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        raise UserError(
            f"config: tls.key_file = {str(key)!r}: the private key is readable by others "
            f"(mode {mode:04o}); run `chmod 600 {key}`"
        )


def _temporary(folder: Path) -> Tls:
    """A fresh self-signed certificate for this run, written 0600 under ``folder`` (0700)."""
    from distributed.security import Security

    try:
        made = Security.temporary()
    except ImportError as exc:
        raise UserError(
            "TLS needs the cryptography package for a temporary certificate: "
            "pip install cryptography (or name your own files in tls.ca_file/cert_file/key_file,"
            " or opt out with tls: {enabled: false})"
        ) from exc
    pems = (made.tls_ca_file, made.tls_client_cert, made.tls_client_key)
    paths = write_private(folder, dict(zip(CERT_FILES, pems, strict=True)))
    ca, cert, key = (str(paths[name]) for name in CERT_FILES)
    why = "temporary self-signed certificate for this run (Security.temporary())"
    record = _record("temporary", why, dir=str(folder), ca_file=ca, cert_file=cert, key_file=key)
    return Tls(security(ca, cert, key), record, temporary_dir=folder)


def write_private(folder: Path, contents: dict[str, str]) -> dict[str, Path]:
    """Write each text to ``folder/name`` readable by the owner only (folder 0700, files
    0600, created so: never briefly readable by others), atomically (temp file, fsync,
    rename). Returns name -> path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # an existing folder, or a umask that dropped bits
    out = {}
    for name, text in contents.items():
        target = folder / name
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        out[name] = target
    return out


def security(ca_file: str, cert_file: str, key_file: str):
    """A `distributed.Security` that requires TLS and uses one certificate for every role
    (scheduler, workers, client): what SLURMCluster(security=...), LocalCluster and
    Client(address, security=...) take."""
    from distributed.security import Security

    return Security(
        tls_ca_file=ca_file,
        tls_client_cert=cert_file,
        tls_client_key=key_file,
        tls_scheduler_cert=cert_file,
        tls_scheduler_key=key_file,
        tls_worker_cert=cert_file,
        tls_worker_key=key_file,
        require_encryption=True,
    )


def is_loopback(address: str) -> bool:
    """True for a Dask address whose host is on the loopback range (tcp://127.0.0.1:8786,
    tls://[::1]:8786, localhost)."""
    from distributed.comm import parse_address, parse_host_port

    try:
        _, location = parse_address(address)
        host, _ = parse_host_port(location)
    except (ValueError, TypeError):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
