"""Reads TensorBoard event files back, without TensorFlow."""

from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util


def read_run(folder):
    """`{tag: [(step, value), ...]}` of the scalars logged in one run folder."""
    accumulator = _load(folder)
    scalars = {}
    for tag in accumulator.Tags()["tensors"]:
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name != "scalars":
            continue
        scalars[tag] = [
            (event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
            for event in accumulator.Tensors(tag)
        ]
    return scalars


def read_hparams(folder):
    """What the hparams plugin reads in `folder`: the session start (its
    hparams, group name and how many times it was written), the experiment,
    the session end status; each key present only if written there."""
    accumulator = _load(folder)
    found = {}
    for tag in accumulator.Tags()["tensors"]:
        if not tag.startswith("_hparams_/"):
            continue
        data = plugin_data_pb2.HParamsPluginData.FromString(
            accumulator.SummaryMetadata(tag).plugin_data.content
        )
        if data.HasField("session_start_info"):
            info = data.session_start_info
            found["session_start"] = {
                name: _value(value) for name, value in info.hparams.items()
            }
            found["group_name"] = info.group_name
            found["session_count"] = len(accumulator.Tensors(tag))
        if data.HasField("experiment"):
            found["experiment"] = {
                "hparams": [h.name for h in data.experiment.hparam_infos],
                "metrics": [
                    (m.name.group, m.name.tag) for m in data.experiment.metric_infos
                ],
            }
        if data.HasField("session_end_info"):
            found["session_end"] = data.session_end_info.status
    return found


def run_folders(log_dir):
    """Every folder under `log_dir` that holds an event file, relative."""
    log_dir = Path(log_dir)
    return sorted(
        {
            p.parent.relative_to(log_dir).as_posix()
            for p in log_dir.rglob("events.out.tfevents.*")
        }
    )


def _load(folder):
    accumulator = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return accumulator


def _value(value):
    kind = value.WhichOneof("kind")
    return getattr(value, kind)
