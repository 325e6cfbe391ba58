"""Load, validate and resolve the filerate configuration.

The JSON schema (schema/config.schema.yaml, also workflow/schemas/) holds every key's
default and description. Validation fills the defaults, then cross-checks what a schema
cannot (a phase naming a missing corpus, worker expressions). Any problem raises
ConfigError with one line: the key, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import os
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from filerate.errors import ConfigError
from filerate.expr import ExpressionError, evaluate

MAX_WORKERS = 100_000
ABLATION_KNOBS = ("workers", "batch_size", "gpu_memory_per_worker_gb", "analysis", "staging")


def schema() -> dict:
    text = resources.files("filerate").joinpath("schema/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _with_defaults(validator_class):
    """A validator that fills each property's default before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    sch = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    v = error.validator
    if v == "enum":
        allowed = "one of " + ", ".join(map(str, error.validator_value))
    elif v == "minimum":
        allowed = f"a number >= {error.validator_value}"
    elif v == "exclusiveMinimum":
        allowed = f"a number > {error.validator_value}"
    elif v == "maximum":
        allowed = f"a number <= {error.validator_value}"
    elif v == "type":
        t = error.validator_value
        allowed = "of type " + (" or ".join(t) if isinstance(t, list) else t)
    elif v == "additionalProperties":
        extra = sorted(set(value) - set(sch.get("properties", {})))
        known = ", ".join(sch.get("properties", {}))
        return f"config: {key}: unknown key {', '.join(map(repr, extra))}; known keys: {known}"
    elif v == "required":
        return f"config: {key}: {error.message}"
    elif v == "minProperties":
        return f"config: {key}: must name at least {error.validator_value} entry"
    else:
        allowed = error.message
    return f"config: {key} = {value!r}: must be {allowed}"


def validate(config: dict, cpu_count: int | None = None) -> dict:
    """Return a validated copy of ``config`` with every default filled in."""
    if not isinstance(config, dict):
        raise ConfigError(f"config: top level must be a mapping, got {type(config).__name__}")
    config = _expand_tree(copy.deepcopy(config))
    _full_phases_get_minhash(config)
    errors = sorted(_Validator(schema()).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors)))
    _check_corpora(config)
    cpus = cpu_count or usable_cpus()
    for name, phase in config["phases"].items():
        _check_phase(name, phase, config["corpora"], cpus)
    return config


def _expand_tree(config: dict) -> dict:
    """``tree: DIR`` replaces the corpora and phases with the tree's (filerate.usertree)."""
    from filerate import usertree

    if config.get("tree") and "tree_phase" not in config:  # its default, before expanding
        config["tree_phase"] = copy.deepcopy(schema()["properties"]["tree_phase"]["default"])
    try:
        return usertree.expand(config)
    except usertree.TreeError as exc:
        raise ConfigError(str(exc)) from None


def _check_corpora(config: dict) -> None:
    """Names a path can hold, and an existing tree for the sources that read one."""
    for name, corpus in config["corpora"].items():
        if not _safe_name(name):
            raise ConfigError(
                f"config: corpora.{name!r}: corpus names may use letters, digits, '-' and '_' only"
            )
        if corpus["source"] not in ("directory", "tree"):
            continue
        path = corpus.get("path")
        if not path:
            raise ConfigError(
                f"config: corpora.{name}.path is missing: "
                f"source {corpus['source']!r} needs the tree to read"
            )
        if not Path(path).is_dir():
            raise ConfigError(
                f"config: corpora.{name}.path = {path!r}: must be an existing directory"
            )


def _check_phase(name: str, phase: dict, corpora: dict, cpus: int) -> None:
    """What the schema cannot say of one phase: cross-key rules and the worker count."""
    if not _safe_name(name):
        raise ConfigError(
            f"config: phases.{name!r}: phase names may use letters, digits, '-' and '_' only"
        )
    if phase["corpus"] not in corpora:
        raise ConfigError(
            f"config: phases.{name}.corpus = {phase['corpus']!r}: must be one "
            f"of the corpora: {', '.join(corpora)}"
        )
    if phase["address"] and phase["scheduler_file"]:
        raise ConfigError(
            f"config: phases.{name}.address = {phase['address']!r} and "
            f"scheduler_file = {phase['scheduler_file']!r}: give one, not both"
        )
    if phase["worker_staging"] and phase["staging"]:
        raise ConfigError(
            f"config: phases.{name}.worker_staging = true needs staging: false "
            "(each worker stages its own batches; no shared RAM-disk copy is made)"
        )
    _check_repeats(name, phase)
    try:
        workers = evaluate(phase["workers"], cpus)
    except ExpressionError as exc:
        raise ConfigError(f"config: phases.{name}.workers = {phase['workers']!r}: {exc}") from None
    _check_minhash(name, phase)
    if not 1 <= workers <= MAX_WORKERS:
        bound = f"<= {MAX_WORKERS}" if workers > MAX_WORKERS else ">= 1"
        raise ConfigError(
            f"config: phases.{name}.workers = {phase['workers']!r}: "
            f"gives {workers} with cpu_count={cpus}; must be {bound}"
        )


def _full_phases_get_minhash(config: dict) -> None:
    """A ``full`` phase without ``minhash`` gets an empty one, which the schema fills."""
    phases_ = config.get("phases")
    for phase in phases_.values() if isinstance(phases_, dict) else ():
        if isinstance(phase, dict) and phase.get("analysis") == "full":
            phase.setdefault("minhash", {})


def _check_minhash(name: str, phase: dict) -> None:
    m = phase.get("minhash")
    if m and m["bands"] * m["rows"] != m["hashes"]:
        raise ConfigError(
            f"config: phases.{name}.minhash: bands x rows = {m['bands']} x {m['rows']} "
            f"must equal hashes = {m['hashes']}"
        )


def _check_repeats(name: str, phase: dict) -> None:
    """What the schema cannot say about the repeat rule's keys."""
    if phase["min_repeats"] > phase["max_repeats"]:
        raise ConfigError(
            f"config: phases.{name}.min_repeats = {phase['min_repeats']}: must be <= "
            f"max_repeats ({phase['max_repeats']})"
        )
    if phase["duration_s"] and phase["duration_s"] >= phase["timeout_s"]:
        raise ConfigError(
            f"config: phases.{name}.duration_s = {phase['duration_s']:g}: must be < "
            f"timeout_s ({phase['timeout_s']:g}), or the soak is cut short; raise timeout_s"
        )


def _safe_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_" for c in name) and name.isascii()


def usable_cpus() -> int:
    """CPUs this process may run on (respects taskset, cgroups cpusets and Slurm)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load(path: str | os.PathLike) -> dict:
    """Read and validate a YAML config file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return validate(data or {})


def _minhash_of(phase: dict, knob: str) -> dict:
    """What an ablation variant taking ``analysis: full`` from ``phase`` also needs."""
    return {"minhash": phase["minhash"]} if knob == "analysis" and "minhash" in phase else {}


def resolve_workers(phase: dict, cpu_count: int) -> dict:
    """Map the plan's worker count onto processes x threads, and say how."""
    workers = evaluate(phase["workers"], cpu_count)
    if phase.get("processes"):
        processes = phase["processes"]
        how = f"processes set explicitly to {processes}"
    else:
        processes = max(1, min(workers, cpu_count))
        how = f"worker count spread as threads over min(workers, cpu_count) = {processes} processes"
    threads = -(-workers // processes)  # ceil, exact for big ints
    return {
        "expression": str(phase["workers"]),
        "cpu_count": cpu_count,
        "workers": workers,
        "processes": processes,
        "threads_per_process": threads,
        "total_threads": processes * threads,
        "how": how,
    }


def oversubscribed(threads: int | None, processes: int | None, cpu_count: int | None) -> bool:
    """More threads or processes than CPUs: the one test the plan's warning and the
    bottleneck report's "CPU (oversubscribed)" rule share."""
    cpus = cpu_count or 1
    return (threads or 0) > cpus or (processes or 0) > cpus


def oversubscription_warning(resolved: dict, cold: bool = False) -> str | None:
    """One line for people where a resolved worker mapping oversubscribes the CPUs (in a
    cold phase the extra threads are queue depth for storage, which may pay)."""
    threads, procs, cpus = (
        resolved.get("total_threads"),
        resolved.get("processes"),
        resolved.get("cpu_count"),
    )
    if not oversubscribed(threads, procs, cpus):
        return None
    why = (
        "in a cold phase they are queue depth for storage, which can pay"
        if cold
        else "expect tasks to wait for a core"
    )
    return (
        f"{threads} threads in {procs} processes on {cpus} CPUs: oversubscribed; {why} "
        "(the report says whether it cost files/s)"
    )


def phases(config: dict, cpu_count: int | None = None) -> dict[str, dict]:
    """All phases to run, in order: the configured ones, then ablation variants if enabled.

    Each value is a complete, JSON-serialisable settings dict with ``name``, the resolved
    worker mapping under ``resolved`` and, for ablation variants, an ``ablation`` record.
    """
    cpus = cpu_count or usable_cpus()
    out: dict[str, dict] = {}
    for name, phase in config["phases"].items():
        out[name] = {**copy.deepcopy(phase), "name": name, "ablation": None}
    if config.get("ablation"):
        names = list(config["phases"])
        # the plan's phases (warm) give the knob values; cold storage phases do not
        base_name = names[0]
        later = [n for n in names[1:] if config["phases"][n].get("cache", "warm") == "warm"]
        base = config["phases"][base_name]
        for knob in ABLATION_KNOBS:
            seen = set()
            for other in later:
                value = config["phases"][other][knob]
                if value == base[knob] or repr(value) in seen:
                    continue
                seen.add(repr(value))
                variant = f"ablate-{knob.split('_per_')[0].replace('_', '-')}-{other}"
                out[variant] = {
                    **copy.deepcopy(base),
                    **_minhash_of(config["phases"][other], knob),
                    knob: value,
                    "name": variant,
                    "ablation": {
                        "base": base_name,
                        "knob": knob,
                        "from": base[knob],
                        "to": value,
                        "value_of": other,
                    },
                }
    if config.get("ablation") and config.get("ablation_cold"):
        out.update(_cold_twins(out, next(iter(config["phases"]))))
    for settings in out.values():
        settings["resolved"] = resolve_workers(settings, cpus)
    return out


def _cold_twins(phases: dict[str, dict], base_name: str) -> dict[str, dict]:
    """The ablation again with the page cache evicted before every timed repeat: the
    baseline cold (``ablate-cache``) and a ``-cold`` twin of each variant, whose base is
    the cold baseline, so each prediction is tested warm and cold side by side."""
    base = phases[base_name]
    cold_base = f"ablate-cache-{base_name}"
    out = {
        cold_base: {
            **copy.deepcopy(base),
            "cache": "cold",
            "name": cold_base,
            "ablation": {
                "base": base_name,
                "knob": "cache",
                "from": base.get("cache", "warm"),
                "to": "cold",
                "value_of": None,
            },
        }
    }
    for name, phase in phases.items():
        if not phase.get("ablation"):
            continue
        twin = f"{name}-cold"
        out[twin] = {
            **copy.deepcopy(phase),
            "cache": "cold",
            "name": twin,
            "ablation": {**phase["ablation"], "base": cold_base},
        }
    return out
