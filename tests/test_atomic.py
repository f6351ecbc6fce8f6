"""Atomic writes on a full or read-only disk, JSON state read back checked."""

import errno
import json
import os
import shutil

import pytest

from keras_recipes._internal import atomic

pytestmark = pytest.mark.backend_independent


def full_disk(monkeypatch, free):
    usage = shutil._ntuple_diskusage(10**9, 10**9 - free, free)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: usage)


def test_a_full_disk_is_refused_before_writing_and_the_old_file_stays(
    tmp_path, monkeypatch
):
    path = tmp_path / "state.json"
    atomic.write_json(path, {"epoch": 3})
    full_disk(monkeypatch, free=1000)
    with pytest.raises(OSError, match=f"free space to write {path}") as error:
        atomic.write_json(path, {"epoch": 4})
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(path)
    assert json.loads(path.read_text()) == {"epoch": 3}
    assert os.listdir(tmp_path) == ["state.json"]


def test_the_space_needed_is_the_last_size_plus_a_margin(tmp_path, monkeypatch):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x" * 4_000_000)
    full_disk(monkeypatch, free=4_000_000 + atomic.MARGIN_BYTES)  # < +10 %
    with pytest.raises(OSError, match="4,400,000 \\+|needed"):
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"y")
    full_disk(monkeypatch, free=5_000_000 + atomic.MARGIN_BYTES)
    with atomic.atomic_path(path) as tmp:
        tmp.write_bytes(b"y")
    assert path.read_bytes() == b"y"


def test_enospc_inside_the_write_names_the_path_and_removes_the_temp(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"good")
    with pytest.raises(OSError, match=f"Cannot write {path}"):
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_read_only_folder_names_the_path(tmp_path):
    if os.geteuid() == 0:
        # root writes through permissions: a read-only disk is simulated.
        folder = tmp_path / "missing" / "x"
        (tmp_path / "missing").write_text("a file, not a folder")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
    with pytest.raises(OSError, match=f"Cannot write {folder / 'f.json'}"):
        atomic.write_json(folder / "f.json", {})


def test_stale_temp_files_of_a_target_are_removed_by_its_next_write(tmp_path):
    stale = tmp_path / f"{atomic.PREFIX}record.abc123.json"
    other = tmp_path / f"{atomic.PREFIX}summary.abc123.csv"
    stale.write_text("{")
    other.write_text("")
    atomic.write_json(tmp_path / "record.json", {"a": 1})
    assert not stale.exists() and other.exists()


def test_a_torn_json_falls_back_to_the_previous_copy_or_names_the_file(tmp_path):
    path = tmp_path / "oracle.json"
    atomic.write_json(path, {"n": 1}, keep_previous=True)
    atomic.write_json(path, {"n": 2}, keep_previous=True)
    path.write_text('{"n": ')
    with pytest.warns(UserWarning, match="oracle.json is not valid JSON.*previous"):
        assert atomic.read_json(path) == {"n": 1}
    assert json.loads(path.read_text()) == {"n": 1}  # repaired on disk
    path.write_text("garbage")
    (tmp_path / "oracle.json.prev").write_text("garbage")
    with pytest.raises(atomic.StateFileError, match=f"{path}.*Do this"):
        atomic.read_json(path, fix="Do this.")


def test_a_commit_fsyncs_the_file_then_renames_it_then_fsyncs_the_folder(
    tmp_path, monkeypatch
):
    # Without the fsync before `os.replace`, a power cut after the rename
    # can leave the new name on an empty file.
    calls = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recording_replace(source, target):
        calls.append(("replace", str(source), str(target)))
        replace(source, target)

    monkeypatch.setattr(atomic.os, "fsync", recording_fsync)
    monkeypatch.setattr(atomic.os, "replace", recording_replace)
    target = tmp_path / "state.json"
    with atomic.atomic_path(target) as tmp:
        tmp.write_text("{}")
    assert calls == [
        ("fsync", str(tmp)),
        ("replace", str(tmp), str(target)),
        ("fsync", str(tmp_path)),
    ]
