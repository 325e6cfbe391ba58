"""The compiled loops are cached on disk (engine.libc binds the C functions by name), so a
second process loads them instead of compiling them again: a phase's start-up no longer
pays seconds of compilation in every worker process."""

import json
import subprocess
import sys

_PROBE = """
import json
from filerate.engine import batchio, floor, fullscan
batchio.warm_up(); floor.warm_up(); fullscan.warm_up()
kernels = {
    "read_batch": batchio._read_batch,
    "floor": floor._open_read_close,
    "full_batch": fullscan._full_batch,
}
print(json.dumps({name: sum(k.stats.cache_hits.values()) for name, k in kernels.items()}))
"""


def _cache_hits() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_the_kernels_from_the_cache():
    _cache_hits()  # compiles and writes the cache, unless an earlier run did
    hits = _cache_hits()
    assert all(n >= 1 for n in hits.values()), hits


def test_the_cache_folder_is_keyed_by_the_source(tmp_path):
    from filerate import kernelcache

    assert kernelcache.CACHE_DIR.endswith(kernelcache.source_digest())
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("X = 1\n")
    (pkg / "sub" / "b.py").write_text("Y = 2\n")
    before = kernelcache.source_digest(pkg)
    (pkg / "sub" / "b.py").write_text("Y = 3\n")  # a constant a kernel might freeze
    assert kernelcache.source_digest(pkg) != before
