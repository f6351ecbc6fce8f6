"""The manifest of `BestCheckpoint` (`checkpoints.json`): read, checked;
the names of its files.

Every field is validated when read back, and every kept file is checked
against the size and SHA-256 recorded when it was saved, before it is
trusted: a damaged file or field is a `StateFileError` naming it and the fix.
"""

import math
import os
import re
import warnings
from pathlib import Path

from keras_recipes._internal.atomic import (
    StateFileError,
    file_sha256,
    read_json,
    refusal,
)
from keras_recipes._internal.background import wait_for_all
from keras_recipes._internal.validation import check_positive_int

# 3: each file's run, size and SHA-256; the runs that wrote into the folder.
MANIFEST_VERSION = 3
MANIFEST_NAME = "checkpoints.json"


def read_manifest(path):
    """Reads a `BestCheckpoint` manifest, its paths resolved.

    The manifest names its files relative to its own folder, so a run
    restarted from another working directory, or a folder mounted elsewhere
    (a distributed search), still finds them.

    Args:
        path: The manifest, or the folder that holds `checkpoints.json`.

    Returns:
        The manifest (`monitor`, `mode`, `best`, `checkpoints`, `last`,
        `runs`) with every `path` joined to the manifest's folder, or `None`
        if there is no manifest.

    Raises:
        StateFileError: (a `ValueError`) If the manifest is not valid JSON
            or a field is not what `BestCheckpoint` writes; the message
            names the file, the field and the fix.
    """
    wait_for_all()  # A save still landing (after a fit that raised).
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    fix = _fix(path)
    manifest = read_json(path, fix=fix)
    if manifest is not None:
        _check_manifest(manifest, f"{path} cannot be trusted", fix)
    return _resolved(manifest, path.parent)


def _resolved(manifest, folder):
    """A manifest's content with its paths joined to `folder` (or `None`)."""
    if manifest is None:
        return None
    manifest = dict(manifest)

    def resolved(entry):
        if entry is None:
            return None
        return {**entry, "path": os.path.normpath(folder / entry["path"])}

    manifest["checkpoints"] = [resolved(c) for c in manifest.get("checkpoints", [])]
    manifest["best"] = resolved(manifest.get("best"))
    manifest["last"] = resolved(manifest.get("last"))
    return manifest


def best_checkpoint_path(path):
    """The best checkpoint that a `BestCheckpoint` manifest names, if it exists.

    Args:
        path: The manifest, or the folder that holds `checkpoints.json`.

    Returns:
        A `pathlib.Path`, or `None` without a manifest or a kept file.

    Raises:
        StateFileError: If the manifest cannot be trusted, or the file's size
            or SHA-256 is not the one the manifest recorded (a damaged file).
    """
    manifest = read_manifest(path)
    if not manifest or not manifest["checkpoints"]:
        return None
    best = manifest["checkpoints"][0]
    if not os.path.exists(best["path"]):
        return None
    verify_checkpoint(best)
    return Path(best["path"])


def verify_checkpoint(entry):
    """Checks a kept file against the size and SHA-256 its manifest recorded.

    Args:
        entry: A manifest entry (`path`, `size`, `sha256`).

    Raises:
        StateFileError: Naming the file, if it differs from what was saved.
    """
    path = entry["path"]
    size, digest = entry["size"], entry["sha256"]
    problem = None
    if os.path.getsize(path) != size:
        problem = f"its size is {os.path.getsize(path):,} bytes, {size:,} were saved"
    elif file_sha256(path) != digest:
        problem = "its SHA-256 differs from the one recorded when it was saved"
    if problem:
        raise StateFileError(
            f"The checkpoint {path} is damaged ({problem}): it cannot be "
            "trusted. Delete it (a rerun then forgets its entry) or the whole "
            "folder to start afresh."
        )


def _fix(path):
    return (
        f"Delete {path} and the checkpoints beside it to start afresh, or pass "
        "existing='overwrite'."
    )


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_manifest(manifest, refused, fix):
    """Refuses a manifest that is not what `BestCheckpoint` writes, naming
    the field: `refused` starts the message (the file), `fix` ends it."""

    refuse = refusal(refused, fix)
    if not isinstance(manifest, dict):
        refuse(f"it holds a {type(manifest).__name__}, not a manifest's fields")
    version = manifest.get("version")
    if version != MANIFEST_VERSION:
        refuse(
            f"`version` is {version!r}; this BestCheckpoint reads version "
            f"{MANIFEST_VERSION} (another keras_recipes release wrote it?)"
        )
    if manifest.get("mode") not in ("min", "max"):
        refuse(f"`mode` must be 'min' or 'max', got {manifest.get('mode')!r}")
    checkpoints = manifest.get("checkpoints")
    if not isinstance(checkpoints, list):
        refuse(f"`checkpoints` must be a list, got {checkpoints!r}")
    for index, entry in enumerate(checkpoints):
        _check_entry(entry, f"`checkpoints[{index}]`", refuse, finite=True)
    if manifest.get("best") != (checkpoints[0] if checkpoints else None):
        refuse("`best` is not the first of `checkpoints`")
    values = [c["value"] for c in checkpoints]
    if values != sorted(values, reverse=manifest["mode"] == "max"):
        refuse(f"`checkpoints` are not best first for mode {manifest['mode']!r}")
    if manifest.get("last") is not None:
        _check_entry(manifest["last"], "`last`", refuse, finite=False)
    runs = manifest.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
        refuse(f"`runs` must be a list of run ids, got {runs!r}")


def _check_entry(entry, name, refuse, finite):
    if not isinstance(entry, dict):
        refuse(f"{name} must be a mapping, got {entry!r}")
    epoch = entry.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        refuse(f"{name}: `epoch` must be an integer >= 1, got {epoch!r}")
    value = entry.get("value")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (is_number and math.isfinite(value)) and not (value is None and not finite):
        refuse(f"{name}: `value` must be a finite number, got {value!r}")
    if not isinstance(entry.get("path"), str) or not entry["path"]:
        refuse(f"{name}: `path` must name a file, got {entry.get('path')!r}")
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        refuse(f"{name}: `size` must be an integer >= 0, got {size!r}")
    digest = entry.get("sha256")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        refuse(f"{name}: `sha256` must be 64 hex digits, got {digest!r}")


def manifest_content(folder, *, monitor, mode, run, runs, kept, last):
    """The manifest to write, its paths relative to `folder` (its own)."""

    def relative(entry):
        if entry is None:
            return None
        return {**entry, "path": os.path.relpath(entry["path"], folder)}

    kept = [relative(c) for c in kept]
    return {
        "version": MANIFEST_VERSION,
        "monitor": monitor,
        "mode": mode,
        "run": run,
        "runs": list(runs),
        "best": kept[0] if kept else None,
        "checkpoints": kept,
        "last": relative(last),
    }


def read_for_fit(path, existing):
    """`read_manifest(path)`; with existing='overwrite', an unreadable one
    is `None` (with a warning): it is being replaced."""
    try:
        return read_manifest(path)
    except StateFileError as error:
        if existing != "overwrite":
            raise
        warnings.warn(f"{error} existing='overwrite': starting afresh.", stacklevel=4)
        return None


def is_earlier_run(manifest, run_id):
    """Whether `manifest` holds files of another run than `run_id` (`None`:
    the first fit of a callback)."""
    if manifest is None or not (manifest["checkpoints"] or manifest["last"]):
        return False
    return run_id is None or manifest.get("run") != run_id


def refuse_earlier_run(path, manifest, monitor):
    """existing='refuse': the error, naming what the folder holds."""
    best = manifest["checkpoints"][0] if manifest["checkpoints"] else None
    held = (
        f"the best is epoch {best['epoch']}, {monitor}={best['value']:.5g}"
        if best
        else "no checkpoint kept"
    )
    raise ValueError(
        f"{path} holds the checkpoints of an earlier run ({held}) and "
        "existing='refuse'. Pass existing='continue' to keep comparing against "
        "them, existing='overwrite' to delete them, or write into another folder."
    )


def files_named(manifest):
    """The files a (resolved) manifest names: the kept ones and `last`."""
    named = [c["path"] for c in manifest["checkpoints"]]
    if manifest["last"] is not None:
        named.append(manifest["last"]["path"])
    return named


def free_path(path, taken, suffix, run_number):
    """`path`, or if one of `taken` is it, `<stem>-run<k>[-<j>]<suffix>`."""
    if path not in taken:
        return path
    stem = path.removesuffix(suffix) + f"-run{run_number}"
    candidate, copy = stem + suffix, 1
    while candidate in taken:
        copy += 1
        candidate = f"{stem}-{copy}{suffix}"
    return candidate


def trusted_files(manifest, path):
    """The kept entries of a (resolved) manifest, each file checked against
    its size and SHA-256; a deleted file's entry is dropped with a warning."""
    kept = []
    for entry in manifest["checkpoints"]:
        if not os.path.exists(entry["path"]):
            warnings.warn(
                f"{path} keeps {entry['path']} (epoch {entry['epoch']}, "
                f"{manifest['monitor']}={entry['value']:.5g}), which no longer "
                "exists: its entry is dropped.",
                stacklevel=4,
            )
            continue
        verify_checkpoint(entry)
        kept.append(entry)
    return kept


def checkpoint_template(filepath, suffix, save_freq):
    """`(filepath, save_freq)` checked: `filepath` ends in `suffix` and gets
    `-epoch{epoch:03d}` (and `-batch{batch:05d}` with an integer
    `save_freq`) before it unless it already names each save apart."""
    if not filepath.endswith(suffix):
        raise ValueError(
            f"`filepath` must end in '{suffix}' when "
            f"save_weights_only={suffix == '.weights.h5'}. "
            f"Received: filepath={filepath!r}"
        )
    if save_freq != "epoch":
        if isinstance(save_freq, str):
            raise ValueError(
                "`save_freq` must be 'epoch' or an integer >= 1 (batches). "
                f"Received: save_freq={save_freq!r}"
            )
        save_freq = check_positive_int("save_freq", save_freq)
    unique = "{epoch" in filepath and (save_freq == "epoch" or "{batch" in filepath)
    if not unique:
        tag = "-epoch{epoch:03d}"
        tag += "" if save_freq == "epoch" else "-batch{batch:05d}"
        filepath = filepath.removesuffix(suffix) + tag + suffix
    return filepath, save_freq


def format_path(template, epoch, logs, batch=None):
    """The file of a save: `template` formatted with the (1-based) epoch and
    batch and the logs, normalized as the manifest's paths are read back, so
    that one file has one spelling (eviction compares them)."""
    numbers = {"epoch": epoch + 1}
    if batch is not None:
        numbers["batch"] = batch + 1
    try:
        return os.path.normpath(template.format(**numbers, **logs))
    except KeyError as error:
        raise ValueError(
            f"`filepath` names {error.args[0]!r}, which is not in this "
            f"fit's logs ({', '.join(sorted(logs)) or 'none'}). "
            f"Received: filepath={template!r}"
        ) from None
