"""The tune cache: one JSON file per hardware fingerprint, holding the result of each
request (corpus, analysis, backend, cache state ...) measured on that hardware.

A later `filerate tune` with the same fingerprint and request reuses the result instead of
measuring again (unless forced); a changed fingerprint (other CPU, core count, memory, GPU
or storage device) names another file, so an old result is never reused on new hardware.
"""

from __future__ import annotations

import json
from pathlib import Path

from filerate import atomic
from filerate.tune.fingerprint import digest


def path_for(cache_dir: str | Path, fp: dict) -> Path:
    return Path(cache_dir) / f"{digest(fp)}.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # missing or damaged: nothing cached
    return data if isinstance(data, dict) else {}


def lookup(cache_dir: str | Path, fp: dict, request: dict) -> dict | None:
    """The cached result for this fingerprint and request, or None. The fingerprint
    stored in the file must equal ``fp`` (a hash collision or a hand-edited file is a miss)."""
    data = _read(path_for(cache_dir, fp))
    if data.get("fingerprint") != fp:
        return None
    return (data.get("results") or {}).get(digest(request))


def store(cache_dir: str | Path, fp: dict, request: dict, result: dict) -> Path:
    """Keep ``result`` for this fingerprint and request (other requests' results stay)."""
    path = path_for(cache_dir, fp)
    data = _read(path)
    if data.get("fingerprint") != fp:
        data = {"fingerprint": fp, "results": {}}
    data.setdefault("results", {})[digest(request)] = {**result, "request": request}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, data)
    return path
