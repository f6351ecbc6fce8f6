"""The fence's Keras saving internals (checked on Keras 3.15).

* `keras.src.saving.saving_lib`: `model.save` / `save_weights` read the
  variables while they write the file (~40 ms for 16 MB on a CPU), so
  training waits. `snapshot_save` runs Keras's own walk over the model
  (`_save_state`) into a store that keeps a host copy of each value, and
  returns a `write(path)` that replays them into Keras's `H5IOStore` (and,
  for a `.keras` file, the zip of `_serialize_model_as_json`'s two JSON
  files, as `_save_model_to_fileobj` lays it out) in any thread, later.
  `is_memory_sufficient` is Keras's own test of whether the state fits in
  memory.
"""

import zipfile
from pathlib import Path

import keras


def snapshot_save(model, weights_only=False):
    """`model.save_weights` (`weights_only`) or `model.save`, in two halves:
    the state is copied to host memory now; the function returned,
    `write(path)`, writes Keras's own file from the copies, in any thread.
    `None` for a model with assets (lookup tables), or whose state Keras
    finds too large for the free memory (`is_memory_sufficient`, where Keras
    writes through a temporary file): save it as usual."""
    from keras.src.saving import saving_lib as lib

    if not lib.is_memory_sufficient(model):
        return None

    class Recorder(lib.H5IOStore):  # Keras's walk checks the store's class.
        def __init__(self):  # No file.
            pass

        def __bool__(self):
            return True

        def make(self, path, metadata=None):
            calls.append((path, metadata, []))
            return self

        def __setitem__(self, key, value):
            # As `H5IOStore` does; a copy on every backend (tested), so
            # training can go on.
            calls[-1][2].append((key, keras.ops.convert_to_numpy(value)))

    calls = []
    # In Keras's order: the config, then the walk.
    jsons = None if weights_only else lib._serialize_model_as_json(model)
    assets = None if weights_only else lib.DiskIOStore("assets", mode="w")
    try:  # The assets go to a folder of their own (removed by `close`).
        lib._save_state(model, Recorder(), assets, "", visited_saveables=set())
        if assets and any(p.is_file() for p in Path(assets.working_dir).rglob("*")):
            return None
    finally:
        if assets:
            assets.close()

    def replay(store):
        try:
            for path, metadata, values in calls:
                store.make(path, metadata)
                for key, value in values:
                    store[key] = value
        finally:
            store.close()

    def write(path):
        if jsons is None:
            return replay(lib.H5IOStore(path, mode="w"))
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(lib._METADATA_FILENAME, jsons[1])
            archive.writestr(lib._CONFIG_FILENAME, jsons[0])
            replay(lib.H5IOStore(lib._VARS_FNAME_H5, archive=archive, mode="w"))

    return write
