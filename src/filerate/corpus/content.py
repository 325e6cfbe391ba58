"""Content of synthetic files: per-type text generators, the seeded pools files are cut
from, and the small edits that make a near-duplicate.

Each text type (Python, Markdown, JSON, text, log, CSV, config) has a block generator; a pool
is about ``POOL_BYTES`` of blocks, and a file is its header plus a slice of its pool starting
at a block boundary. Every draw comes from one seeded ``Picker``, in a fixed order.
"""

from __future__ import annotations

import numpy as np

from filerate.corpus.vocabulary import (
    ADJS,
    CITIES,
    EXCEPTIONS,
    LEVELS,
    NOUNS,
    PAST,
    STATUS,
    SUFFIXES,
    UNI_CITIES,
    UNI_USERS,
    UNICODE,
    USERS,
    VERBS,
    Picker,
    ident,
    paragraph,
    sentence,
)

POOLS = ("python", "markdown", "json", "text", "log", "csv", "config", "binary")
POOL_BYTES = 512 * 1024  # per ASCII pool; the non-ASCII pools are half of it
BINARY_BLOCK = 64  # a binary file's slice starts at a multiple of this

#: a pool: its bytes, the bytes twice (so a slice may wrap), and where its blocks start
Pool = tuple[bytes, bytes, np.ndarray]


def build_pools(rng: np.random.Generator) -> dict[tuple[str, bool], Pool]:
    """Every pool, keyed by (kind, non-ASCII), drawn from ``rng`` in a fixed order."""
    p = Picker(rng)
    pools: dict[tuple[str, bool], Pool] = {}
    for kind in POOLS[:-1]:
        for unicode in (False, True):
            pool, starts = _build_pool(kind, p, POOL_BYTES // (2 if unicode else 1), unicode)
            pools[(kind, unicode)] = (pool, pool + pool, starts)
    binpool = rng.bytes(POOL_BYTES)
    starts = np.arange(0, POOL_BYTES, BINARY_BLOCK, dtype=np.int64)
    pools[("binary", False)] = (binpool, binpool + binpool, starts)
    return pools


def cut(pool: Pool, head: bytes, size: int, start: float, unicode: bool) -> bytes:
    """A text file of ``size`` bytes: ``head``, then the pool from the block at fraction
    ``start`` of its blocks (wrapping as needed), ending in a newline and valid UTF-8."""
    data = cut_binary(pool, head, size, start)
    return (trim_utf8(data[:-1]) if unicode else data[:-1]) + b"\n"


def cut_binary(pool: Pool, head: bytes, size: int, start: float) -> bytes:
    """``size`` bytes: ``head``, then the pool from the block at fraction ``start``."""
    whole, doubled, starts = pool
    body = size - len(head)
    if body <= 0:
        return head[:size]
    off = int(starts[int(start * len(starts))])
    if body <= len(whole):
        return head + doubled[off : off + body]
    reps = body // len(whole) + 2  # larger than the pool: repeat it
    return head + (whole * reps)[off : off + body]


def binary_header(stem: str) -> bytes:
    """A binary file starts like a WebAssembly module, then its NUL-terminated name."""
    return b"\0asm\x01\0\0\0" + stem.encode() + b"\0"


# --------------------------------------------------------------------------- text blocks


def _python_block(p: Picker) -> str:
    verb, noun, other = p(VERBS), p(NOUNS), p(NOUNS)
    a, b = p(NOUNS), p(ADJS)
    form = _PYTHON_FORMS[p.int(len(_PYTHON_FORMS))]
    return form(p, verb, noun, other, a, b)


def _py_loop(p: Picker, verb: str, noun: str, other: str, a: str, b: str) -> str:
    return (
        f"def {verb}_{noun}({other}s, limit={p.num(1, 500)}):\n"
        f'    """{verb.capitalize()} the {p(ADJS)} {noun} of each {other}."""\n'
        f"    {noun}s = []\n"
        f"    for {other} in {other}s:\n"
        f"        if {other}.{a} > limit:\n"
        f"            {noun}s.append({other}.{a} * {p.num(2, 9)})\n"
        f"    return sum({noun}s)\n\n\n"
    )


def _py_class(p: Picker, verb: str, noun: str, other: str, a: str, b: str) -> str:
    cls = f"{noun.capitalize()}{p(SUFFIXES)}"
    return (
        f"class {cls}:\n"
        f'    """A {p(ADJS)} {noun} {p(SUFFIXES).lower()}."""\n\n'
        f"    def __init__(self, {a}, {b}={p.num(0, 1024)}):\n"
        f"        self.{a} = {a}\n"
        f"        self.{b} = {b}\n"
        f"        self._{other} = None\n\n"
        f"    def {verb}(self):\n"
        f"        if self._{other} is None:\n"
        f"            self._{other} = {p(VERBS)}_{other}(self.{a}, limit=self.{b})\n"
        f"        return self._{other}\n\n"
        f"    def __repr__(self):\n"
        f'        return f"{cls}({{self.{a}!r}})"\n\n\n'
    )


def _py_try(p: Picker, verb: str, noun: str, other: str, a: str, b: str) -> str:
    return (
        f"def {verb}_{noun}({a}, {b}=None):\n"
        f"    try:\n"
        f"        {other} = {a}.{p(VERBS)}({b})\n"
        f"    except ({p(EXCEPTIONS)}, {p(EXCEPTIONS)}) as exc:\n"
        f'        raise RuntimeError(f"cannot {verb} {noun} {{{a}!r}}: {{exc}}") from exc\n'
        f"    return {other}\n\n\n"
    )


def _py_constants(p: Picker, verb: str, noun: str, other: str, a: str, b: str) -> str:
    return (
        f"{b.upper()}_{noun.upper()} = {p.num(0, 65536)}\n"
        f'{p(ADJS).upper()}_{other.upper()} = "{p(VERBS)}-{p(NOUNS)}"\n\n\n'
    )


def _py_decorated(p: Picker, verb: str, noun: str, other: str, a: str, b: str) -> str:
    return (
        f"@{p(('staticmethod', 'functools.cache', 'property', 'contextlib.contextmanager'))}\n"
        f"def {verb}_{noun}(self, *{other}s, **options):\n"
        f"    # {sentence(p)}\n"
        f"    options.setdefault({b!r}, {p.num(0, 100)})\n"
        f"    return {{{other}: options[{b!r}] for {other} in {other}s if {other}}}\n\n\n"
    )


def _py_async(p: Picker, verb: str, noun: str, other: str, a: str, b: str) -> str:
    return (
        f"async def {verb}_{noun}(session, {a}_id: int, *, timeout: float = "
        f"{p.num(1, 60)}.0) -> dict:\n"
        f'    async with session.get(f"/api/{noun}s/{{{a}_id}}", timeout=timeout) as response:\n'
        f"        response.raise_for_status()\n"
        f"        data = await response.json()\n"
        f"    return {{key: data[key] for key in ({b!r}, {other!r}) if key in data}}\n\n\n"
    )


# the order is part of the corpus's definition: a draw picks the form by position
_PYTHON_FORMS = (_py_loop, _py_class, _py_try, _py_constants, _py_decorated, _py_async)


def _markdown_block(p: Picker) -> str:
    title = f"{p(VERBS).capitalize()} the {p(ADJS)} {p(NOUNS)}"
    parts = [f"{'#' * p.num(2, 3)} {title}\n\n{paragraph(p)}\n\n"]
    if p.int(2):
        parts.append("".join(f"- **{p(NOUNS)}**: {sentence(p)}\n" for _ in range(p.num(2, 5))))
        parts.append("\n")
    if p.int(3) == 0:
        parts.append(f"```python\n{_python_block(p).rstrip()}\n```\n\n")
    if p.int(4) == 0:
        parts.append(f"| {p(NOUNS)} | {p(NOUNS)} | count |\n|---|---|---:|\n")
        parts.append(
            "".join(f"| {p(ADJS)} | {p(VERBS)} | {p.num(0, 999)} |\n" for _ in range(p.num(2, 4)))
        )
        parts.append("\n")
    return "".join(parts)


def _json_block(p: Picker) -> str:
    return (
        f'  {{"id": {p.num(1, 999999)}, "name": "{p(NOUNS)}_{p.num(0, 999)}", '
        f'"{p(ADJS)}": {p.num(0, 99999) / 100:.2f}, "active": {p(("true", "false"))}, '
        f'"owner": "{p(USERS)}", "tags": ["{p(ADJS)}", "{p(NOUNS)}"]}},\n'
    )


def _text_block(p: Picker) -> str:
    return paragraph(p, 3, 7) + "\n\n"


def _stamp(p: Picker, t: list) -> str:
    """The next timestamp of a log whose clock (ms) is ``t[0]``."""
    t[0] += p.num(1, 4000)
    ms = t[0]
    return (
        f"2024-{1 + ms // 2_678_400_000 % 12:02d}-{1 + ms // 86_400_000 % 28:02d}T"
        f"{ms // 3_600_000 % 24:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}."
        f"{ms % 1000:03d}Z"
    )


def _log_block(p: Picker, t: list) -> str:
    stamp = _stamp(p, t)
    level = p(LEVELS)
    line = (
        f"{stamp} {level:<5} [worker-{p.int(16)}] {PAST[p(VERBS)]} {p.num(1, 5000)} "
        f"{p(NOUNS)}s in {p.num(1, 99999) / 100:.2f} ms user={p(USERS)}\n"
    )
    if level == "ERROR":
        line += (
            f"Traceback (most recent call last):\n"
            f'  File "/srv/app/{p(NOUNS)}.py", line {p.num(1, 900)}, in {p(VERBS)}_{p(NOUNS)}\n'
            f"{p(EXCEPTIONS)}: cannot {p(VERBS)} {p(NOUNS)} {p.num(1, 9999)}\n"
        )
    return line


def _csv_block(p: Picker) -> str:
    return (
        f"{p.num(1, 9999999)},2024-{p.num(1, 12):02d}-{p.num(1, 28):02d} "
        f"{p.num(0, 23):02d}:{p.num(0, 59):02d}:{p.num(0, 59):02d},{p(USERS)},"
        f"{p(CITIES)},{p.num(0, 10_000_000) / 100:.2f},{p(STATUS)}\n"
    )


def _config_block(p: Picker) -> str:
    lines = [f"[{p(NOUNS)}.{p(ADJS)}]\n"]
    for _ in range(p.num(2, 6)):
        key = ident(p)
        val = p(
            (
                f"{p.num(0, 9999)}",
                f'"{p(VERBS)}-{p(NOUNS)}"',
                p(("true", "false")),
                f"{p.num(0, 999) / 10:.1f}",
            )
        )
        lines.append(f"{key} = {val}\n")
    lines.append("\n")
    return "".join(lines)


def _unicode_line(kind: str, p: Picker, t: list) -> str:
    """A line with non-ASCII UTF-8 that fits the type (it starts each non-ASCII block)."""
    u1, u2 = p(UNICODE), p(UNICODE)
    if kind == "python":
        return f"# {u1} {p(NOUNS)} {u2}\n"
    if kind == "markdown":
        return f"> {u1}: {p(ADJS)} {p(NOUNS)} {u2}\n\n"
    if kind == "json":
        return f'  {{"note": "{u1} {u2}", "city": "{p(UNI_CITIES)}"}},\n'
    if kind == "text":
        return f"{u1} — {p(ADJS)} {p(NOUNS)} {u2}.\n"
    if kind == "log":
        return f'{_stamp(p, t)} INFO  [worker-{p.int(16)}] user={p(UNI_USERS)} msg="{u1} {u2}"\n'
    if kind == "csv":
        return (
            f"{p.num(1, 9999999)},2024-{p.num(1, 12):02d}-{p.num(1, 28):02d} 12:00:00,"
            f"{p(UNI_USERS)},{p(UNI_CITIES)},{p.num(0, 100000) / 100:.2f},{p(STATUS)}\n"
        )
    return f"# {u1} {u2}\n"


def header(kind: str, stem: str, unicode: bool) -> bytes:
    """Each file starts with a header naming it, so no two generated files are identical."""
    u = " — données 日本語" if unicode else ""
    if kind == "python":
        text = f'"""{stem}: generated module{u}."""\n\nimport os\nimport sys\n\n\n'
    elif kind == "markdown":
        text = f"# {stem}{u}\n\n"
    elif kind == "json":
        text = f'{{"name": "{stem}{u}", "records": [\n'
    elif kind == "text":
        text = f"{stem}{u}\n\n"
    elif kind == "log":
        text = f"2024-01-01T00:00:00.000Z INFO  [main] start {stem}{u}\n"
    elif kind == "csv":
        text = f"# {stem}{u}\nid,timestamp,user,city,amount,status\n"
    else:
        text = f"# {stem}{u}\n\n"
    return text.encode()


def _build_pool(kind: str, p: Picker, target: int, unicode: bool) -> tuple[bytes, np.ndarray]:
    """A text pool of about ``target`` bytes and the offsets where its blocks start."""
    blocks: list[bytes] = []
    size = 0
    t = [0]
    make = {
        "python": _python_block,
        "markdown": _markdown_block,
        "json": _json_block,
        "text": _text_block,
        "csv": _csv_block,
        "config": _config_block,
        "log": lambda p: _log_block(p, t),
    }[kind]
    while size < target:
        block = make(p)
        if unicode:
            block = _unicode_line(kind, p, t) + block
        data = block.encode()
        blocks.append(data)
        size += len(data)
    starts = np.cumsum([0] + [len(b) for b in blocks[:-1]], dtype=np.int64)
    return b"".join(blocks), starts


def trim_utf8(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 sequence cut off at the end of ``data``."""
    n = len(data)
    for k in range(1, min(4, n) + 1):
        c = data[n - k]
        if c < 0x80:
            return data
        if c >= 0xC0:  # lead byte of a k-byte tail
            need = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            return data if need <= k else data[: n - k]
    return data


# --------------------------------------------------------------------------- near-duplicates

_ALNUM = np.zeros(256, dtype=bool)
for _c in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _ALNUM[_c] = True
_ALNUM_CHARS = b"abcdefghijklmnopqrstuvwxyz0123456789"


def perturb(data: bytes, u: np.ndarray, binary: bool) -> bytes:
    """Change 1-4 bytes at distinct positions (keeping text text and binary binary)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    cand = np.flatnonzero(arr != 0) if binary else np.flatnonzero(_ALNUM[arr])
    out = bytearray(data)
    if len(cand) == 0:
        out[0] ^= 1 if out[0] != 1 else 2
        return bytes(out)
    used = set()
    for k in range(1 + int(u[0] * 4)):
        pos = int(cand[int(u[1 + 2 * k] * len(cand))])
        if pos in used:
            continue
        used.add(pos)
        old = out[pos]
        if binary:
            new = 1 + int(u[2 + 2 * k] * 255)
            out[pos] = new if new != old else new % 255 + 1
        else:
            new = _ALNUM_CHARS[int(u[2 + 2 * k] * len(_ALNUM_CHARS))]
            out[pos] = (
                new
                if new != old
                else _ALNUM_CHARS[(_ALNUM_CHARS.index(new) + 1) % len(_ALNUM_CHARS)]
            )
    return bytes(out)


def perturb_share(data: bytes, rate: float, seed: int, binary: bool) -> bytes:
    """Change ``rate`` of the changeable bytes (letters and digits; any non-NUL byte of a
    binary file), at least one, at distinct positions chosen by ``seed``."""
    arr = np.frombuffer(data, dtype=np.uint8).copy()
    cand = np.flatnonzero(arr != 0) if binary else np.flatnonzero(_ALNUM[arr])
    if len(cand) == 0:
        arr[0] ^= 1 if arr[0] != 1 else 2
        return arr.tobytes()
    rng = np.random.Generator(np.random.PCG64(seed))
    m = min(len(cand), max(1, int(round(rate * len(cand)))))
    pos = rng.choice(cand, size=m, replace=False)
    old = arr[pos]
    if binary:
        new = (1 + rng.integers(0, 255, size=m)).astype(np.uint8)
        new = np.where(new == old, new % 255 + 1, new).astype(np.uint8)
    else:
        chars = np.frombuffer(_ALNUM_CHARS, dtype=np.uint8)
        pick = rng.integers(0, len(chars), size=m)
        pick = np.where(chars[pick] == old, (pick + 1) % len(chars), pick)
        new = chars[pick]
    arr[pos] = new
    return arr.tobytes()
