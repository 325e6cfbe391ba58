"""What engine.cluster starts, and where it listens; TLS to an existing scheduler; the Dask
performance report of a real phase (docs/SECURITY.md)."""

from __future__ import annotations

import json
import os

import pandas as pd
import psutil
import pytest

from filerate import config as cfg
from filerate import corpus
from filerate.engine import cluster, dashboard, daskreport, process, security
from filerate.errors import UserError


def _settings(**phase) -> dict:
    conf = cfg.validate(
        {
            "corpora": {"c": {"files": 200}},
            "phases": {
                "p": {
                    "corpus": "c",
                    "backend": "cpu",
                    "workers": 2,
                    "batch_size": 50,
                    "repeats": 2,
                    "min_repeat_s": 0,  # one pass per repeat: per-pass wall = repeat wall
                    "warmup": 1,
                    "staging": False,
                    "timeout_s": 120,
                    **phase,
                }
            },
        },
        cpu_count=2,
    )
    return cfg.phases(conf, cpu_count=2)["p"]


def _pids() -> list[int]:
    me = psutil.Process()
    return [me.pid, *(c.pid for c in me.children(recursive=True))]


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # another run holds it
@pytest.mark.parametrize("dash", [False, True])
def test_the_local_cluster_listens_on_loopback_only(tmp_path, dash):
    settings = _settings(dashboard=dash)
    info = cluster.start(settings, cluster.choose_backend(settings), tmp_path)
    try:
        assert info.record["address"].startswith("tcp://127.0.0.1:")
        listening = dashboard.listening(_pids())
        assert len({pid for pid, _, _ in listening}) >= 3  # the scheduler here, 2 workers
        assert dashboard.beyond_loopback(_pids()) == []
        assert not any(port == 8787 for _, _, port in listening) or dash  # off: no 8787
        assert info.record["tls"]["mode"] == "none"
        d = info.record["dashboard"]
        assert d["enabled"] is dash
        assert (d["link"] or "").startswith("http://127.0.0.1:") is dash
    finally:
        info.close()


def test_tls_for_the_local_cluster_when_asked(tmp_path):
    settings = _settings(tls={"local": True})
    info = cluster.start(settings, cluster.choose_backend(settings), tmp_path)
    try:
        assert info.record["address"].startswith("tls://127.0.0.1:")
        assert info.record["tls"]["mode"] == "temporary"
        assert (tmp_path / security.TLS_DIR / "key.pem").is_file()
        assert info.client.submit(sum, [1, 2]).result(timeout=30) == 3
    finally:
        info.close()
    assert not (tmp_path / security.TLS_DIR).exists()  # the temporary key is gone
    assert info.record["tls"]["temporary_files_removed"]


@pytest.fixture
def tls_scheduler_file(tmp_path):
    """A TLS scheduler with one worker (in this process, loopback), its scheduler file and
    the certificate files its workers use."""
    from distributed import LocalCluster

    tls = security.for_cluster({}, tmp_path / "certs", local=False)
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        security=tls.security,
        **dashboard.local_cluster_kwargs(False),
    ) as lc:
        path = tmp_path / "sched.json"
        path.write_text(json.dumps({"address": lc.scheduler_address}))
        yield path, {k: tls.record[k] for k in ("ca_file", "cert_file", "key_file")}
    tls.cleanup()


def test_an_existing_tls_scheduler_with_the_users_files(tmp_path, tls_scheduler_file):
    path, files = tls_scheduler_file
    with pytest.raises(UserError, match="speaks TLS"):
        settings = _settings(scheduler_file=str(path))
        cluster.start(settings, cluster.choose_backend(settings), tmp_path)
    settings = _settings(scheduler_file=str(path), tls=files)
    info = cluster.start(settings, cluster.choose_backend(settings), tmp_path)
    try:
        assert info.record["kind"] == "external" and info.record["tls"]["mode"] == "files"
        assert info.client.submit(sum, [2, 3]).result(timeout=30) == 5
    finally:
        info.close()


def test_a_missing_scheduler_file_is_one_line(tmp_path):
    settings = _settings(scheduler_file=str(tmp_path / "nope.json"))
    with pytest.raises(UserError, match="cannot read the scheduler's address"):
        cluster.start(settings, cluster.choose_backend(settings), tmp_path)


@pytest.fixture(scope="module")
def report_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-corpus")
    corpus.generate("rc", {"files": 200, "seed": 5, "files_per_dir": 50}, out, processes=1)
    return out


@pytest.mark.slow
def test_the_dask_report_is_written_and_kept_out_of_the_timed_figures(report_corpus, tmp_path):
    pytest.importorskip("bokeh")
    out = tmp_path / "out"
    out.mkdir()
    (out / security.TLS_DIR).mkdir()  # left by a killed run: removed
    settings = _settings(dask_report=True)
    run = process.run_phase(
        settings, str(report_corpus / "manifest.parquet"), str(report_corpus / "files"), None, out
    )
    report = out / daskreport.REPORT_NAME
    assert report.is_file() and "Dask Performance Report" in report.read_text()
    rec = run["dask_report"]
    assert rec["untimed"] and rec["bytes"] == report.stat().st_size
    assert rec["repeat_files_ok"] == 200 and rec["repeat_files_error"] == 0
    assert rec["collect_s"] > 0 and rec["timed_wall_s_median"] == run["summary"]["wall_s_median"]
    # not in the figures: 1 warm-up + 2 timed repeats recorded, batches of those only
    assert [r["warmup"] for r in run["repeats"]] == [True, False, False]
    assert run["summary"]["repeats"] == 2
    batches = pd.read_parquet(out / "batches.parquet")
    assert sorted(batches["repeat"].unique()) == [0, 1, 2]
    assert rec["start"] >= max(r["stop"] for r in run["repeats"])  # after the timed ones
    assert not (out / security.TLS_DIR).exists()
    # a rerun without the report removes the old one: no stale report beside new figures
    run2 = process.run_phase(
        _settings(), str(report_corpus / "manifest.parquet"), str(report_corpus / "files"),
        None, out,
    )  # fmt: skip
    assert run2["dask_report"] is None and not report.exists()


def test_no_report_without_bokeh_fails_before_the_cluster_starts(monkeypatch, tmp_path):
    def missing():
        raise UserError("dask_report: true needs bokeh")

    monkeypatch.setattr(daskreport, "check_available", missing)
    monkeypatch.setattr(cluster, "start", lambda *a, **k: pytest.fail("cluster started"))
    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"path": ["a"], "path_raw": [b"a"], "bytes": [1]}).to_parquet(manifest)
    with pytest.raises(UserError, match="needs bokeh"):
        process.run_phase(_settings(dask_report=True), str(manifest), os.fspath(tmp_path),
                          None, tmp_path / "out")  # fmt: skip


@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_the_local_cuda_cluster_listens_on_loopback_only(tmp_path, report_corpus):
    from filerate.engine import gpu

    probe = gpu.probe()
    if not probe["usable"]:
        pytest.skip(f"no usable GPU: {probe['reason']}")
    settings = _settings(backend="gpu", dashboard=True, tls={"local": True})
    info = cluster.start(settings, cluster.choose_backend(settings), tmp_path)
    try:
        assert info.record["kind"] == "LocalCUDACluster"
        assert info.record["address"].startswith("tls://127.0.0.1:")
        assert dashboard.beyond_loopback(_pids()) == []
        assert info.record["dashboard"]["link"].startswith("http://127.0.0.1:")
    finally:
        info.close()
    pytest.importorskip("bokeh")
    out = tmp_path / "out"
    run = process.run_phase(
        _settings(backend="gpu", dask_report=True), str(report_corpus / "manifest.parquet"),
        str(report_corpus / "files"), None, out,
    )  # fmt: skip
    assert run["cluster"]["kind"] == "LocalCUDACluster" and run["status"] == "ok"
    assert (out / daskreport.REPORT_NAME).is_file() and run["dask_report"]["repeat_files_ok"] == 200
    print("GPU dask_report record:", json.dumps(run["dask_report"]))
    print("GPU timed files/s:", [round(r["files_per_s"]) for r in run["repeats"]])
