"""Near- and exact-duplicate detection: a `full` phase on a 2-worker cluster judged against
planted truth, LSH buckets, groups, and a corpus with nothing to find (ratios undefined)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from filerate import config as cfg
from filerate import corpus, validate
from filerate.dedup import find, judge, lsh, verify
from filerate.dedup.shingles import common_counts, jaccard, shingle_set, shingle_sets
from filerate.engine import process
from filerate.engine.file_results import FileResults
from filerate.engine.records import FileStatus

EDIT_RATES = [0.002, 0.005, 0.01, 0.02, 0.03, 0.04]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    out = tmp_path_factory.mktemp("planted") / "nd"
    settings = {
        "files": 400,
        "seed": 21,
        "near_duplicate_rate": 0.1,
        "duplicate_rate": 0.03,
        "near_duplicate_edit_rates": EDIT_RATES,
    }
    corpus.generate("nd", settings, out, processes=1)
    return out


@pytest.fixture(scope="module")
def full_phase(planted, tmp_path_factory):
    conf = cfg.validate(
        {
            "corpora": {"nd": {"files": 400}},
            "phases": {
                "full": {
                    "corpus": "nd",
                    "backend": "cpu",
                    "workers": 2,
                    "processes": 2,  # the shuffle crosses worker processes
                    "batch_size": 50,
                    "analysis": "full",
                    "staging": False,
                    "warmup": 0,
                    "repeats": 1,
                }
            },
        }
    )
    settings = cfg.phases(conf)["full"]
    out = tmp_path_factory.mktemp("phase") / "full"
    manifest = str(planted / "manifest.parquet")
    run = process.run_phase(settings, manifest, str(planted / "files"), None, out)
    return out, run


def test_full_phase_meets_planted_truth(planted, full_phase):
    out, run = full_phase
    manifest = pd.read_parquet(planted / "manifest.parquet")
    files = pd.read_parquet(out / "files.parquet")
    assert validate.validate(manifest, files, run)["ok"]
    assert run["settings"]["minhash"] == {
        "shingle_bytes": 5,
        "hashes": 128,
        "bands": 16,
        "rows": 8,
        "threshold": 0.8,
    }
    assert run["cluster"]["processes"] == 2
    judged = validate._judge_duplicates(manifest, out, planted / "manifest.parquet", run)
    near, exact = judged["near"], judged["exact"]
    assert near["planted_truth"] and near["planted_positives"] >= 10
    assert near["planted_below_threshold"] >= 5  # precision is tested, not only recall
    assert near["planted_below_threshold_reported"] == 0
    assert near["precision"] >= 0.9 and near["recall"] >= 0.9 and near["f1"] >= 0.9
    assert exact["precision"] == 1.0 and exact["recall"] == 1.0
    ok = files["status"] == "ok"
    assert files.loc[ok, "entropy"].between(0, 8).all()
    assert files.loc[ok, "minhash"].map(len).eq(4 * 128).all()
    dups = pd.read_parquet(out / "duplicates.parquet")
    assert list(dups.columns) == list(find.COLUMNS)
    assert set(dups["kind"]) <= set(find.KINDS)
    assert ((dups["kind"] == "below_threshold") == (dups["group"] < 0)).all()
    assert run["dedup"]["near_pairs"] == int((dups["kind"] == "near").sum())
    d = run["dedup"]
    assert d["pairs_over_partner_cap"] == 0 and d["max_partners"] == lsh.MAX_PARTNERS
    kept = d["candidate_pairs"] - d["pairs_over_partner_cap"]
    assert (
        kept == d["near_pairs"] + d["below_threshold_pairs"] == int((dups["kind"] != "exact").sum())
    )


def test_bucket_pairs_within_each_band():
    part = pd.DataFrame(
        {
            "file": [1, 2, 3, 1, 3, 4],
            "band": np.array([0, 0, 0, 1, 1, 1], np.int16),
            "key": np.array([9, 9, 8, 7, 7, 9], np.uint64),
        }
    )
    pairs = lsh.bucket_pairs(part)
    assert sorted(zip(pairs["a"], pairs["b"], strict=True)) == [(1, 2), (1, 3)]


def test_components_merge_chains():
    label = find.components(6, np.array([0, 3, 4]), np.array([1, 4, 5]))
    assert label.tolist() == [0, 0, 2, 3, 3, 3]


def _results_of(datas: list[bytes], hashes: int = 16) -> FileResults:
    from filerate.engine import fullscan
    from slots import layout

    buf, offsets, sizes = layout(datas)
    res = FileResults(len(datas))
    res.status[:] = FileStatus.OK
    res.bytes[:] = sizes
    res.hash[:] = np.arange(len(datas)) + 1  # all distinct
    res.signature = fullscan.full_batch(buf, offsets, sizes, 5, hashes).sig
    return res


def test_nothing_to_find_is_undefined(tmp_path):
    rng = np.random.default_rng(1)
    datas = [rng.integers(0, 256, 2000, dtype=np.uint8).tobytes() for _ in range(20)]
    paths = [f"f{i}.bin" for i in range(len(datas))]
    for p, d in zip(paths, datas, strict=True):
        (tmp_path / p).write_bytes(d)
    manifest = pd.DataFrame(
        {
            "path": paths,
            "path_raw": [p.encode() for p in paths],
            "bytes": [len(d) for d in datas],
            "xxh3": [f"{i:016x}" for i in range(len(datas))],
            "near_dup_group": -1,
        }
    )
    params = {"shingle_bytes": 5, "hashes": 16, "bands": 4, "rows": 4, "threshold": 0.8}
    dups, record = find.find_duplicates(None, _results_of(datas), manifest, params, str(tmp_path))
    assert len(dups) == 0 and record["near_pairs"] == 0 and record["groups"] == 0
    near = judge.judge_near(manifest, dups, str(tmp_path), params)
    assert near["precision"] == near["recall"] == near["f1"] == judge.UNDEFINED
    assert not near["planted_truth"] and "no planted truth" in near["note"]
    exact = judge.judge_exact(manifest, dups)
    assert exact["precision"] == exact["recall"] == judge.UNDEFINED


def _alike_files(tmp_path, count=24):
    """Files cut from one text at nearby offsets (many similar pairs), a few shorter than a
    shingle, one with every shingle repeated; (paths, datas)."""
    rng = np.random.default_rng(3)
    text = rng.choice(np.frombuffer(b"abcde fgh\n", np.uint8), 6000).tobytes()
    datas = [text[i * 50 : i * 50 + 1500 + 40 * i] for i in range(count)]
    datas += [b"ab", b"abcd", b"xy" * 500]
    paths = [f"f{i}.txt" for i in range(len(datas))]
    for p, d in zip(paths, datas, strict=True):
        (tmp_path / p).write_bytes(d)
    return paths, datas


def test_batched_sets_and_counts_match_the_reference(tmp_path):
    paths, datas = _alike_files(tmp_path)
    buf, offsets, lengths = verify.read_files(str(tmp_path), [p.encode() for p in paths])
    values, starts, counts = shingle_sets(buf, offsets, lengths, 5)
    for i, d in enumerate(datas):
        assert values[starts[i] : starts[i] + counts[i]].tolist() == shingle_set(d, 5).tolist()
    a, b = np.triu_indices(len(datas), k=1)
    common = common_counts(values, starts, counts, a, b)
    got = verify.verify_tile(paths, a, b, str(tmp_path), 5)
    sets = [shingle_set(d, 5) for d in datas]
    want = [jaccard(sets[i], sets[j]) for i, j in zip(a, b, strict=True)]
    assert got.tolist() == want  # exact, not approximately
    assert common[0] == len(np.intersect1d(sets[0], sets[1]))


def test_verify_in_small_tiles_equals_one_tile(tmp_path, monkeypatch):
    paths, datas = _alike_files(tmp_path)
    a, b = (x.astype(np.int64) for x in np.triu_indices(len(datas), k=1))
    size = np.array([len(d) for d in datas], dtype=np.int64)
    raw = np.array([p.encode() for p in paths], dtype=object)
    whole = verify.verify(None, a, b, size, raw, str(tmp_path), 5)
    tiles = verify.plan_tiles(a, b, size, 4000)
    assert len(tiles) > 3 and sorted(np.concatenate(tiles).tolist()) == list(range(len(a)))
    monkeypatch.setattr(verify, "BLOCK_BYTES", 4000)
    assert verify.verify(None, a, b, size, raw, str(tmp_path), 5).tolist() == whole.tolist()
    order = verify.file_order(np.array([5, 1, 7]), np.array([7, 5, 9]))
    assert order.tolist() == [1, 5, 7, 9]  # breadth-first from the lowest file


def test_estimates_and_partner_cap():
    rng = np.random.default_rng(4)
    sig = rng.integers(0, 3, (6, 16)).astype(np.uint32)
    a, b = (x.astype(np.int64) for x in np.triu_indices(6, k=1))
    est = lsh.estimated_jaccard(sig, a, b)
    assert est.tolist() == (sig[a] == sig[b]).mean(axis=1).tolist()
    keep = lsh.within_partner_cap(a, b, est, 2)
    assert np.bincount(np.concatenate([a[keep], b[keep]]), minlength=6).max() <= 2
    assert lsh.within_partner_cap(a, b, est, 5).all()  # 5 partners each: nothing cut
    hub = lsh.within_partner_cap(
        np.zeros(3, np.int64), np.arange(1, 4), np.array([0.5, 0.9, 0.7]), 2
    )
    assert hub.tolist() == [False, True, True]  # the hub keeps its two best estimates
