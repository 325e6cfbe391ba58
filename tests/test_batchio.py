"""filerate.engine.batchio: the compiled reader/hasher/counter, judged by filerate.reference."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from filerate import corpus, reference
from filerate.engine import batchio
from filerate.engine.records import FileStatus
from filerate.reference import TYPES


def _write(root: Path, files: dict[bytes, bytes]) -> None:
    rootb = os.fsencode(root)
    for rel, data in files.items():
        full = os.path.join(rootb, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)


def _read(
    root, paths, sizes, start=0, stop=None, skip=None, count=True, fill=None, layout=None, **kw
):
    table = batchio.FileTable(list(paths), np.asarray(sizes))
    stop = len(table) if stop is None else stop
    sub = table.sizes[start:stop]
    skip = np.zeros(len(sub), dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    offsets, nbytes = (layout or batchio.slot_layout)(sub, skip)
    buf = np.empty(nbytes, dtype=np.uint8)
    if fill is not None:
        buf[:] = fill
    dirfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return batchio.read_batch(dirfd, table, start, stop, buf, offsets, skip, count, **kw)
    finally:
        os.close(dirfd)


def _got(res, i) -> dict:
    return {
        "bytes": int(res.nbytes[i]),
        "xxh3": f"{int(res.hashes[i]):016x}",
        "lines": int(res.counts[0, i]),
        "words": int(res.counts[1, i]),
        "non_ascii": int(res.counts[2, i]),
        "binary": bool(res.counts[3, i] > 0),
        "type": TYPES[res.types[i]],
    }


def _check_all(root, files: dict[bytes, bytes], **kw):
    paths = sorted(files)
    res = _read(root, paths, [len(files[p]) for p in paths], **kw)
    assert res.status.tolist() == [FileStatus.OK] * len(paths)
    assert res.hashes.dtype == np.uint64
    assert res.counts.shape == (4, len(paths))
    for i, p in enumerate(paths):
        data = files[p]
        truth = reference.truth(data, p)
        assert _got(res, i) == truth, p
        assert int(res.counts[3, i]) == data.count(b"\0"), p
    return res


# ---------------------------------------------------------------- synthetic corpus


@pytest.fixture(scope="module")
def gen_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("batchio-corpus")
    corpus.generate(
        "bio",
        {
            "files": 300,
            "seed": 9,
            "files_per_dir": 50,
            "binary_rate": 0.05,
            "empty_rate": 0.05,
            "non_ascii_rate": 0.2,
        },
        out,
        processes=1,
    )
    return out


def _manifest_check(res, manifest, start):
    for i in range(len(res.status)):
        row = manifest.iloc[start + i]
        assert res.status[i] == FileStatus.OK
        got = _got(res, i)
        for field in ("bytes", "xxh3", "lines", "words", "non_ascii", "binary", "type"):
            assert got[field] == row[field], (row["path"], field)


def test_generated_corpus_matches_manifest(gen_corpus):
    manifest = pd.read_parquet(gen_corpus / "manifest.parquet")
    assert manifest["binary"].any() and (manifest["bytes"] == 0).any()
    assert (manifest["non_ascii"] > 0).any()
    table = batchio.FileTable.from_manifest(str(gen_corpus / "manifest.parquet"))
    res = _read(gen_corpus / "files", table.path_raw, table.sizes)
    _manifest_check(res, manifest, 0)
    # and the manifest itself agrees with the reference on the bytes on disk
    for i in range(0, len(manifest), 37):
        p = manifest["path_raw"].iloc[i]
        with open(os.path.join(os.fsencode(gen_corpus / "files"), p), "rb") as fh:
            assert _got(res, i) == reference.truth(fh.read(), p)


@pytest.mark.parametrize("start,stop", [(0, 1), (1, 2), (17, 130), (250, 300), (299, 300)])
def test_sub_ranges(gen_corpus, start, stop):
    manifest = pd.read_parquet(gen_corpus / "manifest.parquet")
    table = batchio.FileTable.from_manifest(str(gen_corpus / "manifest.parquet"))
    res = _read(gen_corpus / "files", table.path_raw, table.sizes, start=start, stop=stop)
    assert len(res.status) == stop - start
    _manifest_check(res, manifest, start)


def test_file_table_cache(gen_corpus):
    path = str(gen_corpus / "manifest.parquet")
    a = batchio.file_table(path)
    assert batchio.file_table(path) is a
    assert len(a) == 300
    assert a.names[a.name_offsets[1] - 1] == 0  # NUL-terminated names


def test_minimal_reading_does_not_count(gen_corpus):
    manifest = pd.read_parquet(gen_corpus / "manifest.parquet")
    table = batchio.FileTable.from_manifest(str(gen_corpus / "manifest.parquet"))
    res = _read(gen_corpus / "files", table.path_raw, table.sizes, count=False)
    assert (res.status == 0).all()
    assert [f"{int(h):016x}" for h in res.hashes] == list(manifest["xxh3"])
    assert res.nbytes.tolist() == manifest["bytes"].tolist()
    assert not res.counts.any()


# ---------------------------------------------------------------- hand-made contents


def test_random_bytes_and_whitespace(tmp_path):
    rng = np.random.default_rng(1234)
    ws = list(b" \t\n\v\f\r")
    files = {
        b"all256.bin": bytes(range(256)) * 5,
        b"all256-rev.txt": bytes(range(255, -1, -1)) * 3 + b"x",
        b"ws-only.txt": bytes(rng.choice(ws, 4000)),
        b"nul-only.txt": b"\0" * 100,
        b"high-only.txt": b"\xff\x80\xc3\xa9" * 50,
        b"mixed.log": bytes(rng.choice(ws + [0, 0x41, 0x7F, 0x80, 0xFF, 0x08, 0x0E, 0x1F], 9000)),
        b"words.md": b"  a  bb\tccc\n\n d\x0be\x0cf\rg\x85h\xa0i  \n",
        b"ctrl.txt": bytes([8, 9, 10, 11, 12, 13, 14, 31, 32, 33]) * 20,
        b"crlf.csv": b"a,b\r\nc,d\r\n",
        b"no-final-newline.py": b"print(1)\nprint(2)",
    }
    for k in range(20):
        n = int(rng.integers(1, 5000))
        mode = k % 4
        if mode == 0:
            data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        elif mode == 1:
            data = bytes(rng.choice(ws + [0x61, 0x62], n))
        elif mode == 2:
            data = bytes(rng.choice(ws + [0x80, 0xFF, 0x00], n))
        else:
            data = bytes(rng.choice([0x20, 0x0A, 0x61, 0x00, 0xC3, 0xA9], n))
        files[f"rand{k:02d}.txt".encode()] = data
    _write(tmp_path, files)
    _check_all(tmp_path, files)


def test_every_length_0_to_70(tmp_path):
    rng = np.random.default_rng(7)
    files = {}
    for n in range(71):
        files[f"w{n:03d}.txt".encode()] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        files[f"a{n:03d}.txt".encode()] = b"a" * n  # one word that ends at the slot edge
        files[f"s{n:03d}.txt".encode()] = (b"ab " * 30)[:n]
        files[f"n{n:03d}.txt".encode()] = b"\n" * n
        files[f"z{n:03d}.txt".encode()] = b"\0" * n
    _write(tmp_path, files)
    # garbage left in the buffer must not leak into any count
    for fill in (0x00, 0x41, 0x80, 0x0A):
        _check_all(tmp_path, files, fill=fill)


def test_long_runs_overflow_no_counter_lane(tmp_path):
    # the kernel sums per-byte counters every 255 words: runs of one byte far longer than
    # that (every lane counting on every word) must still give exact counts
    files = {
        b"nl.txt": b"\n" * 70_001,
        b"nul.bin": b"\0" * 70_003,
        b"high.bin": b"\xff" * 65_536,
        b"words.txt": b"a " * 40_000,
        b"tabs.txt": b"x\t" * 33_333 + b"y",
    }
    _write(tmp_path, files)
    _check_all(tmp_path, files, fill=0x41)


def test_one_reused_slot(tmp_path):
    # the CPU path reads every file into one slot: a shorter file after a longer one
    # must not count the longer one's leftover bytes
    rng = np.random.default_rng(11)
    files = {}
    for k, n in enumerate([5000, 3, 0, 4097, 64, 1, 2048, 9, 70, 8, 7]):
        files[f"f{k:02d}.txt".encode()] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        files[f"g{k:02d}.txt".encode()] = (b"word \n" * 1000)[:n]
    _write(tmp_path, files)
    for fill in (0x00, 0x41):
        _check_all(tmp_path, files, fill=fill, layout=batchio.reused_slot)
    offsets, nbytes = batchio.reused_slot(np.array([5, 17, 3]), np.array([False, False, True]))
    assert offsets.tolist() == [0, 0, 0] and nbytes == 24 + 8
    assert batchio.reused_slot(np.array([], dtype=np.int64), np.array([], dtype=bool))[1] == 16


def test_empty_files(tmp_path):
    files = {b"e1.txt": b"", b"e2.py": b"", b"e3": b"", b"x.md": b"word", b"e4.bin": b""}
    _write(tmp_path, files)
    res = _check_all(tmp_path, files, fill=0x00)
    assert res.nbytes.tolist() == [0, 0, 0, 0, 4]


def test_only_empty_files(tmp_path):
    files = {b"a": b"", b"b": b""}
    _write(tmp_path, files)
    _check_all(tmp_path, files, fill=0x41)


def test_awkward_names(tmp_path):
    files = {
        b"with space.txt": b"one two\n",
        b"new\nline.py": b"import os\n",
        b"-leading-dash.md": b"# title\n",
        b"non-utf8-\xff\xfe.json": b'{"a": 1}\n',
        b"sub dir/\xe9t\xe9.log": b"caf\xc3\xa9 ok\n",
        b"sub dir/--.csv": b"a,b\n",
        b"a" * 200 + b".txt": b"long name\n",
    }
    _write(tmp_path, files)
    _check_all(tmp_path, files)


TYPE_NAMES = [
    b".gitignore",
    b"a.py",
    b"x.PY",
    b"dir.py/file",
    b"dir.py/.bashrc",
    b"a.csv.gz",
    b".config.json",
    b"name.",
    b"...",
    b"a..py",
    b"a.md",
    b"b.json",
    b"c.txt",
    b"d.log",
    b"e.csv",
    b"f.jsonl",
    b"g.p",
    b"h.pyc",
    b"noext",
    b"deep/er/x.txt",
    b"deep/er.md/x",
]


def test_type_codes(tmp_path):
    files = {name: b"text\n" for name in TYPE_NAMES}
    _write(tmp_path, files)
    paths = sorted(files)
    res = _read(tmp_path, paths, [5] * len(paths))
    got = {p: TYPES[res.types[i]] for i, p in enumerate(paths)}
    expected = {p: reference.file_type(p, False) for p in paths}
    assert got == expected
    assert got[b".gitignore"] == "other"
    assert got[b"a.py"] == "python"
    assert got[b"x.PY"] == "other"
    assert got[b"dir.py/file"] == "other"
    assert got[b"a.csv.gz"] == "other"
    assert got[b".config.json"] == "json"
    assert got[b"a..py"] == "python"


def test_type_codes_without_counting_and_for_failures(tmp_path):
    # the type comes from the name even when the file is not counted or cannot be read
    files = {b"a.py": b"x\0y", b"b.md": b""}
    _write(tmp_path, files)
    res = _read(tmp_path, [b"a.py", b"b.md", b"gone.csv"], [3, 0, 4], count=False)
    assert [TYPES[t] for t in res.types] == ["python", "markdown", "csv"]
    res = _read(tmp_path, [b"a.py", b"b.md"], [3, 0], count=True)
    assert [TYPES[t] for t in res.types] == ["binary", "markdown"]
    # minimal analysis reports no type: the lookup is skipped, the file still read and hashed
    res = _read(tmp_path, [b"a.py", b"b.md"], [3, 0], count=False, classify=False)
    assert res.types.tolist() == [0, 0]
    assert res.status.tolist() == [FileStatus.OK] * 2 and res.nbytes.tolist() == [3, 0]


# ---------------------------------------------------------------- statuses


def test_statuses(tmp_path):
    files = {
        b"a-ok.txt": b"hello world\n",
        b"b-grew.txt": b"0123456789",
        b"c-shrank.txt": b"0123",
        b"d-skip.txt": b"abcdef",
        b"e-ok.py": b"x = 1\n",
        b"g-emptied.txt": b"",
    }
    _write(tmp_path, files)
    (tmp_path / "h-dir.txt").mkdir()
    paths = [
        b"a-ok.txt",
        b"b-grew.txt",
        b"c-shrank.txt",
        b"d-skip.txt",
        b"e-ok.py",
        b"f-missing.txt",
        b"g-emptied.txt",
        b"h-dir.txt",
    ]
    sizes = [12, 5, 9, 6, 6, 3, 1, 0]
    skip = [False, False, False, True, False, False, False, False]
    res = _read(tmp_path, paths, sizes, skip=skip, fill=0x41)
    assert res.status.tolist() == [
        FileStatus.OK,
        FileStatus.GREW,
        FileStatus.SHRANK,
        FileStatus.TOO_LARGE,
        FileStatus.OK,
        FileStatus.OPEN_FAILED,
        FileStatus.SHRANK,
        FileStatus.READ_FAILED,
    ]
    assert (FileStatus.OPEN_FAILED, FileStatus.GREW, FileStatus.SHRANK, FileStatus.TOO_LARGE) == (
        1,
        3,
        4,
        5,
    )
    assert res.nbytes[1] == 6  # read one byte past the manifest size: detects growth
    assert res.nbytes[2] == 4
    assert res.nbytes[3] == 0
    # the good files around the bad ones are still right
    for i in (0, 4):
        assert _got(res, i) == reference.truth(files[paths[i]], paths[i])


def test_grew_after_table_was_built(tmp_path):
    files = {b"f.txt": b"abc\n"}
    _write(tmp_path, files)
    table_sizes = [4]
    with open(tmp_path / "f.txt", "ab") as fh:
        fh.write(b"more\n")
    res = _read(tmp_path, [b"f.txt"], table_sizes)
    assert res.status.tolist() == [FileStatus.GREW]
    (tmp_path / "f.txt").write_bytes(b"ab")
    res = _read(tmp_path, [b"f.txt"], table_sizes)
    assert res.status.tolist() == [FileStatus.SHRANK]
    assert res.nbytes.tolist() == [2]


def test_skip_in_a_sub_range(tmp_path):
    files = {f"{i}.txt".encode(): b"w " * i for i in range(6)}
    _write(tmp_path, files)
    paths = sorted(files)
    res = _read(
        tmp_path, paths, [len(files[p]) for p in paths], start=2, stop=5, skip=[False, True, False]
    )
    assert res.status.tolist() == [0, 5, 0]
    assert _got(res, 0) == reference.truth(files[paths[2]], paths[2])
    assert _got(res, 2) == reference.truth(files[paths[4]], paths[4])


# ---------------------------------------------------------------- layout


def test_slot_layout():
    sizes = np.array([0, 1, 7, 8, 9, 100, 5], dtype=np.int64)
    skip = np.array([False, False, False, False, False, True, False])
    offsets, total = batchio.slot_layout(sizes, skip)
    assert (offsets % 8 == 0).all()
    ends = np.append(offsets[1:], total)
    room = ends - offsets
    for size, sk, r in zip(sizes, skip, room, strict=True):
        if not sk:
            assert r >= size + 1  # the probe byte fits
        else:
            assert r >= 8 and r < 100  # a skipped file takes no room for its content
    assert total >= offsets[-1] + sizes[-1] + 1


def test_slot_layout_empty():
    offsets, total = batchio.slot_layout(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    assert len(offsets) == 0 and total >= 8


def test_file_table_layout():
    paths = [b"a", b"bb/c", b"d\xff"]
    t = batchio.FileTable(paths, np.array([1, 2, 3]))
    assert len(t) == 3
    assert t.name_offsets.tolist() == [0, 2, 7]
    assert bytes(t.names) == b"a\0bb/c\0d\xff\0"
    assert t.sizes.dtype == np.int64


def test_warm_up_returns_seconds():
    assert batchio.warm_up() >= 0


def test_slot_layout_keeps_slots_out_of_the_page_aliasing_window():
    """No slot starts 1 to ALIASING - 1 bytes into a page (the kernel's copy into it runs
    at half speed on AMD Zen); slots still never overlap and still hold size + 1 bytes."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(0, 9000, 5000)
    skip = rng.random(5000) < 0.05
    offsets, total = batchio.slot_layout(sizes, skip)
    into_page = offsets % 4096
    assert not ((into_page > 0) & (into_page < batchio.ALIASING)).any()
    assert (offsets % 8 == 0).all()
    room = np.append(offsets[1:], total) - offsets
    assert (room >= np.where(skip, 0, sizes) + 1).all()
    # tight: the window costs at most ALIASING bytes per page of data
    assert total <= (((np.where(skip, 0, sizes) + 8) // 8) * 8).sum() + 8 + batchio.ALIASING * (
        total // 4096 + 1
    )
