#!/usr/bin/env python3
"""A one-node Slurm cluster with accounting, on this machine, for tests and the demo.

    python3 tools/slurm/localslurm.py start    # install what is missing, start, wait idle
    python3 tools/slurm/localslurm.py status   # running? (exit 0) and the SLURM_CONF line
    python3 tools/slurm/localslurm.py stop     # end only the daemons `start` started

Everything lives in one state folder ($FILERATE_SLURM_DIR, default /tmp/filerate-slurm):
its own munge key and socket, a private MariaDB on a free loopback port, slurm.conf and
slurmdbd.conf, spool, logs and pid files. Nothing under /etc is written and no system
service is touched, so a site's own Slurm or MariaDB is left alone; clients find this
cluster through SLURM_CONF=<state>/slurm.conf. Needs root and Debian's apt (Slurm 22.05 on
Debian 12); where that is missing, `start` exits 3 with the reason (tests skip on it).
Only the standard library is used, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ("munge", "slurm-client", "slurmctld", "slurmd", "slurmdbd", "mariadb-server")
BINARIES = ("munged", "slurmctld", "slurmd", "slurmdbd", "sinfo", "sacct", "mariadbd")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by tools/slurm/localslurm.py"
PARTITION = "debug"
CLUSTER = "filerate"
DB_PASSWORD = "filerate-local"  # a throwaway database that listens on 127.0.0.1 only
#: the order daemons start in; stop goes backwards
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
START_DEADLINE_S = 60
UNAVAILABLE = 3  # exit status of `start` where Slurm cannot run here


class Unavailable(RuntimeError):
    """Slurm cannot be started on this machine (the message says why)."""


def state_dir() -> Path:
    return Path(os.environ.get("FILERATE_SLURM_DIR", "/tmp/filerate-slurm"))


def conf_path(state: Path | None = None) -> Path:
    return (state or state_dir()) / "slurm.conf"


# ---- processes --------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """Running, not a zombie (a killed daemon lingers as one under the name it had), and
    the same process as recorded (a reused pid has another start time)."""
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return started is None or st[1] == started


def _record_path(state: Path) -> Path:
    return state / "daemons.json"


def _load_record(state: Path) -> dict:
    try:
        return json.loads(_record_path(state).read_text())
    except (OSError, ValueError):
        return {}


def _remember(state: Path, name: str, pid: int) -> None:
    record = _load_record(state)
    st = _proc_stat(pid)
    record[name] = {"pid": pid, "started": st[1] if st else None}
    tmp = _record_path(state).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, _record_path(state))


def running(state: Path | None = None) -> dict[str, int]:
    """name -> pid of the recorded daemons still running."""
    record = _load_record(state or state_dir())
    return {name: r["pid"] for name, r in record.items() if alive(r["pid"], r.get("started"))}


def _wait_pid_file(path: Path, deadline_s: float = 20) -> int:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if pid and alive(pid):
            return pid
        time.sleep(0.1)
    raise RuntimeError(f"no live pid in {path} after {deadline_s:g} s")


def _run(cmd: list[str], timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- installing -------------------------------------------------------------------------


def ensure_installed() -> None:
    """apt-get install what is missing; Unavailable where that cannot be done."""
    missing = [b for b in BINARIES if not shutil.which(b, path=_sbin_path())]
    if not missing:
        return
    if sys.platform != "linux":
        raise Unavailable(f"Slurm is not installed ({', '.join(missing)}) and this is not Linux")
    if os.geteuid() != 0:
        raise Unavailable(f"Slurm is not installed ({', '.join(missing)}) and we are not root")
    if not shutil.which("apt-get"):
        raise Unavailable(f"Slurm is not installed ({', '.join(missing)}) and there is no apt-get")
    print(f"localslurm: installing {' '.join(PACKAGES)} (apt-get) ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    proc = _run(cmd, timeout=600, env=env)
    if proc.returncode != 0:  # a fresh machine may have no package lists yet
        _run(["apt-get", "update", "-q"], timeout=300, env=env)
        proc = _run(cmd, timeout=600, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {' '.join(tail)}")


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _which(name: str) -> str:
    found = shutil.which(name, path=_sbin_path())
    if not found:
        raise Unavailable(f"{name} not found after installing")
    return found


# ---- configuration ----------------------------------------------------------------------


def node_line() -> str:
    """`slurmd -C`'s node line with RealMemory at 95 % (all of it drains the node)."""
    out = _run([_which("slurmd"), "-C"]).stdout.splitlines()[0]
    parts = dict(p.split("=", 1) for p in out.split())
    parts["RealMemory"] = str(int(int(parts["RealMemory"]) * 0.95))
    parts["NodeAddr"] = "127.0.0.1"
    return " ".join(f"{k}={v}" for k, v in parts.items()) + " State=UNKNOWN"


def write_configs(state: Path, ports: dict, accounting: bool) -> None:
    host = socket.gethostname()
    node = node_line()
    cpus = int(dict(p.split("=", 1) for p in node.split())["CPUs"])
    mem = int(dict(p.split("=", 1) for p in node.split())["RealMemory"])
    auth = f"socket={state / 'munge' / 'munge.socket'}"
    if accounting:
        acct = (
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=127.0.0.1\nAccountingStoragePort={ports['slurmdbd']}\n"
            # the munge socket for slurmdbd connections (AuthInfo covers only the others)
            f"AccountingStoragePass={state / 'munge' / 'munge.socket'}\n"
        )
    else:
        acct = "AccountingStorageType=accounting_storage/none\n"
    conf = f"""{MARKER}: a one-node test cluster
ClusterName={CLUSTER}
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ports["slurmctld"]}
SlurmdPort={ports["slurmd"]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo={auth}
StateSaveLocation={state}/spool/ctld
SlurmdSpoolDir={state}/spool/d
SlurmctldPidFile={state}/run/slurmctld.pid
SlurmdPidFile={state}/run/slurmd.pid
SlurmctldLogFile={state}/log/slurmctld.log
SlurmdLogFile={state}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
# without a default a job that names no memory takes the whole node
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU={mem // cpus}
SchedulerType=sched/backfill
ReturnToService=2
# squeue must still show a finished job when the executor plugin first looks (40 s)
MinJobAge=300
SlurmdTimeout=60
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
{acct}{node}
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    _write(state / "slurm.conf", conf, 0o644)
    dbd = f"""{MARKER}
AuthType=auth/munge
AuthInfo={auth}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports["slurmdbd"]}
SlurmUser=root
PidFile={state}/run/slurmdbd.pid
LogFile={state}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["mariadb"]}
StorageUser=slurm
StoragePass={DB_PASSWORD}
StorageLoc=slurm_acct_db
"""
    _write(state / "slurmdbd.conf", dbd, 0o600)  # slurmdbd refuses a readable one


def link_system_conf(state: Path) -> None:
    """Make /etc/slurm/slurm.conf a link to ours. Commands inside a job need it: the
    executor plugin's job step drops SLURM_CONF before its `srun`. A configuration
    someone else wrote is never replaced."""
    ours = conf_path(state)
    if SYSTEM_CONF.is_symlink() or SYSTEM_CONF.exists():
        if SYSTEM_CONF.resolve() == ours.resolve():
            return
        if MARKER not in SYSTEM_CONF.read_text(errors="replace"):
            raise Unavailable(
                f"{SYSTEM_CONF} exists and was not written by localslurm: this machine has "
                "its own Slurm; use it, or move that file away to try the local cluster"
            )
        SYSTEM_CONF.unlink()
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_CONF.symlink_to(ours)


def unlink_system_conf(state: Path) -> None:
    if SYSTEM_CONF.is_symlink() and SYSTEM_CONF.resolve() == conf_path(state).resolve():
        SYSTEM_CONF.unlink()


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# ---- starting ---------------------------------------------------------------------------


def _start_munged(state: Path) -> None:
    sock_dir, key_dir = state / "munge", state / "munge-key"
    sock_dir.mkdir(mode=0o755, exist_ok=True)  # the socket's folder must be searchable
    key_dir.mkdir(mode=0o700, exist_ok=True)
    key = key_dir / "munge.key"
    if not key.exists():
        _write(key, "", 0o600)
        key.write_bytes(os.urandom(1024))
    pid_file = sock_dir / "munged.pid"
    pid_file.unlink(missing_ok=True)
    cmd = [
        _which("munged"),
        f"--socket={sock_dir / 'munge.socket'}",
        f"--key-file={key}",
        f"--pid-file={pid_file}",
        f"--log-file={state / 'log' / 'munged.log'}",
        f"--seed-file={key_dir / 'munged.seed'}",
    ]
    _check(_run(cmd), "munged", state / "log" / "munged.log")
    _remember(state, "munged", _wait_pid_file(pid_file))


def _start_mariadb(state: Path, port: int) -> None:
    data = state / "mariadb"
    sock = data / "mysqld.sock"
    if not (data / "mysql").is_dir():
        shutil.rmtree(data, ignore_errors=True)
        cmd = [
            _which("mariadb-install-db"),
            "--no-defaults",
            "--user=root",
            f"--datadir={data}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ]
        _check(_run(cmd, timeout=120), "mariadb-install-db", None)
    log = open(state / "log" / "mariadbd.log", "ab")  # noqa: SIM115 (the daemon keeps it)
    proc = subprocess.Popen(
        [
            _which("mariadbd"),
            "--no-defaults",
            "--user=root",
            f"--datadir={data}",
            f"--socket={sock}",
            f"--pid-file={state / 'run' / 'mariadbd.pid'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,  # not killed with the terminal or the test session
    )
    log.close()
    _remember(state, "mariadbd", proc.pid)
    sql = (
        f"CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}';"
        "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    )
    end = time.monotonic() + 30
    while True:
        res = _run([_which("mariadb"), f"--socket={sock}", "-uroot", "-e", sql], timeout=10)
        if res.returncode == 0:
            return
        if time.monotonic() > end or proc.poll() is not None:
            _fail("mariadbd", state / "log" / "mariadbd.log", res.stderr)
        time.sleep(0.2)


def _start_slurm_daemon(state: Path, name: str, args: list[str]) -> None:
    pid_file = state / "run" / f"{name}.pid"
    pid_file.unlink(missing_ok=True)
    env = {**os.environ, "SLURM_CONF": str(conf_path(state))}
    _check(_run([_which(name), *args], env=env), name, state / "log" / f"{name}.log")
    _remember(state, name, _wait_pid_file(pid_file))


def _check(proc: subprocess.CompletedProcess, name: str, log: Path | None) -> None:
    if proc.returncode != 0:
        _fail(name, log, proc.stderr or proc.stdout)


def _fail(name: str, log: Path | None, output: str) -> None:
    tail = ""
    if log is not None and log.exists():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    raise RuntimeError(f"{name} did not start: {output.strip()[-300:]} {tail}".strip())


def sinfo_state(state: Path) -> str:
    """The node's state; sinfo blocks ~10 s while slurmctld is down, hence the timeout."""
    env = {**os.environ, "SLURM_CONF": str(conf_path(state))}
    try:
        res = _run(["sinfo", "-h", "-N", "-o", "%T"], timeout=15, env=env)
    except subprocess.TimeoutExpired:
        return "no answer"
    return res.stdout.strip() or res.stderr.strip()


def _wait_port(port: int, state: Path, name: str, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        _require_alive(state)
        time.sleep(0.1)
    _fail(name, state / "log" / f"{name}.log", f"not listening on port {port}")


def _require_alive(state: Path) -> None:
    """Fail at once (with the log's last lines) when a daemon we started has died."""
    for name, r in _load_record(state).items():
        if not alive(r["pid"], r.get("started")):
            _fail(name, state / "log" / f"{name}.log", "it exited")


def _wait_idle(state: Path, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    seen = ""
    while time.monotonic() < end:
        _require_alive(state)
        seen = sinfo_state(state)
        if seen in ("idle", "mixed", "allocated"):
            return
        time.sleep(0.3)
    raise RuntimeError(f"the node is not idle after {deadline_s:g} s (sinfo says {seen!r})")


def start(accounting: bool = True) -> dict:
    """Start the cluster (or find it running); returns what clients need."""
    state = state_dir()
    if running(state):
        if set(running(state)) >= _daemons(accounting):
            return {**describe(state), "started": False}
        stop()  # half a cluster: start it again
    ensure_installed()
    if os.geteuid() != 0:
        raise Unavailable("a local Slurm runs its daemons as root, and we are not root")
    for sub in ("log", "run", "spool/ctld", "spool/d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    _record_path(state).unlink(missing_ok=True)
    ports = {name: _free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
    write_configs(state, ports, accounting)
    link_system_conf(state)
    t0 = time.monotonic()
    try:
        _start_munged(state)
        conf = ["-f", str(conf_path(state))]
        if accounting:
            _start_mariadb(state, ports["mariadb"])
            _start_slurm_daemon(state, "slurmdbd", [])
            # slurmctld exits if slurmdbd is not answering yet (it makes its tables first)
            _wait_port(ports["slurmdbd"], state, "slurmdbd")
        # no -c: the job id counter must go on from the last start, since the accounting
        # database remembers earlier jobs and sacct looks jobs up by id
        _start_slurm_daemon(state, "slurmctld", conf)
        _wait_port(ports["slurmctld"], state, "slurmctld")
        _start_slurm_daemon(state, "slurmd", ["-c", *conf])
        _wait_idle(state, START_DEADLINE_S)
    except BaseException:
        stop()
        raise
    return {**describe(state), "started": True, "start_s": round(time.monotonic() - t0, 2)}


def _daemons(accounting: bool) -> set[str]:
    return set(DAEMONS) if accounting else {"munged", "slurmctld", "slurmd"}


def describe(state: Path) -> dict:
    conf = conf_path(state)
    text = conf.read_text() if conf.exists() else ""
    return {
        "slurm_conf": str(conf),
        "partition": PARTITION,
        "cluster": CLUSTER,
        "accounting": "accounting_storage/slurmdbd" in text,
        "daemons": running(state),
        "state_dir": str(state),
    }


# ---- stopping ---------------------------------------------------------------------------


def _cancel_jobs(state: Path) -> None:
    env = {**os.environ, "SLURM_CONF": str(conf_path(state))}
    try:
        ids = _run(["squeue", "-h", "-o", "%i"], timeout=15, env=env).stdout.split()
        if ids:
            _run(["scancel", *ids], timeout=15, env=env)
            time.sleep(1)  # let slurmd end the job steps it started
    except (OSError, subprocess.TimeoutExpired):
        pass


def stop() -> list[str]:
    """End the recorded daemons (newest first), by pid: SIGTERM, then SIGKILL after 15 s.
    Returns what was stopped; the state folder (and the database) stays for next time."""
    state = state_dir()
    record = _load_record(state)
    if record.get("slurmctld") and alive(record["slurmctld"]["pid"]):
        _cancel_jobs(state)
    stopped = []
    for name in reversed(DAEMONS):
        r = record.get(name)
        if not r or not alive(r["pid"], r.get("started")):
            continue
        os.kill(r["pid"], signal.SIGTERM)
        end = time.monotonic() + 15
        while alive(r["pid"], r.get("started")) and time.monotonic() < end:
            time.sleep(0.1)
        if alive(r["pid"], r.get("started")):
            os.kill(r["pid"], signal.SIGKILL)
        stopped.append(name)
    for pid_file in (state / "run").glob("*.pid") if (state / "run").is_dir() else ():
        pid_file.unlink(missing_ok=True)  # slurm daemons leave theirs behind
    _record_path(state).unlink(missing_ok=True)
    unlink_system_conf(state)
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument(
        "--no-accounting",
        action="store_true",
        help="start without slurmdbd/MariaDB (sacct then fails: use squeue for status)",
    )
    args = parser.parse_args(argv)
    if args.action == "start":
        try:
            info = start(accounting=not args.no_accounting)
        except Unavailable as exc:
            print(f"localslurm: cannot start Slurm here: {exc}", file=sys.stderr)
            return UNAVAILABLE
        print(json.dumps(info))
        print(f"export SLURM_CONF={info['slurm_conf']}", file=sys.stderr)
        return 0
    if args.action == "stop":
        stopped = stop()
        print(f"localslurm: stopped {', '.join(stopped) or 'nothing (none was running)'}")
        return 0
    up = running()
    print(json.dumps({**describe(state_dir()), "running": bool(up)}))
    return 0 if up else 1


if __name__ == "__main__":
    sys.exit(main())
