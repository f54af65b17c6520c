"""Model files: writing them, and reading any of them back by what the file holds, not its name.

Two formats, decided once:

* a torch model (``model.pt``: CropNet 2D / 1D or a CNN baseline) is ``torch.save`` of a dict of
  plain JSON-able metadata plus ``state_dict``, so it loads with ``torch.load(weights_only=True)``
  (no code is unpickled)::

      gee_crop_model   format version (str)
      arch             a registered architecture (config.Arch)
      arch_kwargs      constructor arguments (dict)
      state_dict       weights and normalization buffers
      classes, bands, season, cloud_threshold, max_gap_bins, feature_kind   the contract (FeatureSpec)
      input_scaling    "standard" | "log" (absent in older files: standard), applied inside the model
      train_config, metrics
      domain_summary   the training inputs' distribution (features/shift.py; absent in older files)
      training_footprint  where the training samples lay: climate zones, lon/lat box (models/domain.py; absent in older)

* an ONNX model (a Random Forest's ``model.onnx``, or a torch model exported by ``gee-crop export``)
  carries the same metadata in ``metadata_props`` (strings; lists and dicts as JSON).

A command reads its model file once, as a :class:`ModelFile` (bytes, kind, metadata, contract, sha256),
and hands that on; every reader here takes a ModelFile or, for scripts and tests, a path (read once
then). A gee-crop 0.1.0 forest pickle (``model.pkl``) is refused with the command that converts it
(:func:`load_pickled_forest` is that conversion's only reader, behind ``trust_pickle=True``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import onnx
import torch

from gee_crop.atomic import atomic_write
from gee_crop.config import Arch
from gee_crop.errors import ModelFileError
from gee_crop.features.spec import FeatureSpec
from gee_crop.models.forest import forest_to_onnx
from gee_crop.models.normalization import apply_input_scaling
from gee_crop.models.registry import build_model, torch_archs

FORMAT_VERSION = "1"
FORMAT_KEY = "gee_crop_model"
#: the input and output names of every ONNX graph gee-crop writes.
INPUT_NAME = "reflectance"
OUTPUT_NAME = "probabilities"
#: the contract's keys (FeatureSpec.to_meta) that every model file carries.
CONTRACT_KEYS = ("classes", "bands", "season", "cloud_threshold", "max_gap_bins", "feature_kind")

FileKind = Literal["torch", "onnx", "pickle"]


def convert_command(path: str | os.PathLike) -> str:
    """The command that converts a gee-crop 0.1.0 forest pickle into a model.onnx."""
    path = Path(path)
    return f"gee-crop export {path} --out {path.with_suffix('.onnx')} --trust-pickle"


def _not_a_model(path: Path, why: str) -> ModelFileError:
    return ModelFileError(
        f"{path} is not a gee-crop model ({why}); give a model.pt or model.onnx written by "
        "`gee-crop train` or `gee-crop export`"
    )


def _onnx_proto(data: bytes) -> onnx.ModelProto | None:
    try:
        proto = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - any parse failure means "not an ONNX model"
        return None
    return proto if proto.graph.node else None


def read_file_bytes(path: Path) -> bytes:
    """The bytes of a model file: the one place gee-crop opens a model file for reading (ModelFileError
    for a missing file)."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist; train one with `gee-crop train`")
    return path.read_bytes()


def _kind_of(path: Path, data: bytes) -> tuple[FileKind, onnx.ModelProto | None]:
    """What the bytes of a model file hold (and the ONNX graph they parse to), from the bytes themselves."""
    head = data[:4]
    if head == b"PK\x03\x04":  # torch.save writes a zip archive
        return "torch", None
    if head[:1] == b"\x80":  # pickle protocol 2+ (joblib writes plain pickles)
        return "pickle", None
    proto = _onnx_proto(data)
    if proto is not None:
        return "onnx", proto
    raise _not_a_model(path, "not an ONNX model, a torch file or a pickle")


@dataclass(frozen=True, eq=False)
class ModelFile:
    """A model file read once (:meth:`read`): its bytes, what they hold, its metadata and contract.

    A command reads its model file once and hands this on: the predictor, the card, the map's ledger
    (``sha256``) and Dask's workers (the bytes travel, not the path) all take it, so nothing opens the
    file again. A gee-crop 0.1.0 forest pickle is read as bytes, never unpickled: its ``meta`` and
    ``contract`` raise the refusal naming the conversion command.
    """

    path: Path
    kind: FileKind
    data: bytes = field(repr=False)
    sha256: str
    _meta: dict | None = field(default=None, repr=False)  # every metadata entry, without the weights

    @classmethod
    def read(cls, path: str | os.PathLike) -> ModelFile:
        """Read and check the model file at ``path``: ModelFileError for anything but a gee-crop model
        (or a 0.1.0 pickle, refused when its metadata is asked for)."""
        path = Path(path)
        data = read_file_bytes(path)
        kind, proto = _kind_of(path, data)
        meta = None
        if kind == "onnx":
            assert proto is not None  # _kind_of parses every ONNX file it names
            meta = _onnx_metadata(path, proto)
        elif kind == "torch":
            meta = {k: v for k, v in _torch_payload(path, data).items() if k != "state_dict"}
        return cls(path, kind, data, hashlib.sha256(data).hexdigest(), meta)

    def __eq__(self, other: object) -> bool:
        """The same file with the same bytes (two reads of one unchanged file are equal)."""
        if not isinstance(other, ModelFile):
            return NotImplemented
        return (self.path, self.sha256) == (other.path, other.sha256)

    def __hash__(self) -> int:
        return hash((self.path, self.sha256))

    @property
    def meta(self) -> dict:
        """Every metadata entry (torch or ONNX), without the weights; the refusal for a pickle."""
        if self._meta is None:
            raise _pickle_refused(self.path)
        return self._meta

    @property
    def contract(self) -> FeatureSpec:
        """How to composite the model's input and what comes out (its FeatureSpec)."""
        return FeatureSpec.from_meta(self.meta)


#: a model file already read, or its path (read once by :func:`read_model_file`).
ModelLike = ModelFile | str | os.PathLike


def read_model_file(model: ModelLike) -> ModelFile:
    """``model`` itself when it is a ModelFile, else the file at that path, read once."""
    return model if isinstance(model, ModelFile) else ModelFile.read(model)


def file_kind(model: ModelLike) -> FileKind:
    """What a model file holds, from its bytes: a torch zip, an ONNX protobuf or a pickle
    (ModelFileError for a missing file or anything else)."""
    return read_model_file(model).kind


def _pickle_refused(path: Path) -> ModelFileError:
    return ModelFileError(
        f"{path} is a pickle (gee-crop 0.1.0 wrote Random Forests as model.pkl), which gee-crop "
        "no longer loads because unpickling can run any code; if you made the file yourself, "
        f"convert it once with `{convert_command(path)}`"
    )


def _check_payload(path: Path, payload: Any, what: str) -> dict:
    """The metadata dict of a model file, checked: format key and version, the contract's keys."""
    if not isinstance(payload, dict) or FORMAT_KEY not in payload:
        held = "a plain torch state_dict or checkpoint" if isinstance(payload, dict) else type(payload).__name__
        raise _not_a_model(path, f"it holds {held} without the '{FORMAT_KEY}' key")
    if str(payload[FORMAT_KEY]) != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format {payload[FORMAT_KEY]!r} but this gee-crop reads "
            f"format {FORMAT_VERSION!r}; upgrade gee-crop or retrain the model"
        )
    missing = [k for k in CONTRACT_KEYS if k not in payload]
    if missing:
        raise _not_a_model(path, f"its {what} lacks {', '.join(missing)}")
    return {**payload, FORMAT_KEY: str(payload[FORMAT_KEY])}


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _onnx_metadata(path: Path, proto: onnx.ModelProto) -> dict:
    """The gee-crop metadata of a parsed ONNX file, decoded and checked."""
    props = {p.key: p.value for p in proto.metadata_props}
    if FORMAT_KEY not in props:
        raise ModelFileError(
            f"{path} is an ONNX model without gee-crop metadata; export it with "
            "`gee-crop export MODEL.pt --out FILE.onnx`"
        )
    meta = {key: _decode(value) for key, value in props.items()}
    meta = _check_payload(path, meta, "ONNX metadata")
    try:
        meta["cloud_threshold"] = float(meta["cloud_threshold"])
        meta["max_gap_bins"] = int(meta["max_gap_bins"])
        spec = FeatureSpec.from_meta(meta)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} has damaged gee-crop metadata ({exc}); export the model again") from None
    _check_graph(path, proto, spec)
    return meta


def _dims(value: onnx.ValueInfoProto) -> list[int | None]:
    """The dimensions of a graph input or output; None where a dimension is symbolic or unknown."""
    return [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]


def _check_graph(path: Path, proto: onnx.ModelProto, spec: FeatureSpec) -> None:
    """ModelFileError unless the graph reads and writes what its metadata promises: one float input
    ``reflectance`` of (batch, *spec.input_shape) (or (batch, features) for a forest) and an output
    ``probabilities`` of (batch, classes). Metadata copied into another network would pass every other
    check and fail (or silently misread the bands) at the first tile."""
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    outputs = {o.name: o for o in proto.graph.output}
    problem = None
    if [i.name for i in inputs] != [INPUT_NAME] or OUTPUT_NAME not in outputs:
        problem = (
            f"its graph reads {', '.join(i.name for i in inputs) or 'nothing'} and writes "
            f"{', '.join(outputs) or 'nothing'}, not {INPUT_NAME} -> {OUTPUT_NAME}"
        )
    else:
        sample = _dims(inputs[0])[1:]
        flat = math.prod(spec.input_shape)
        if sample not in (list(spec.input_shape), [flat]):
            shown = "x".join("?" if d is None else str(d) for d in sample)
            problem = (
                f"its input holds {shown} values per pixel, its metadata {'x'.join(map(str, spec.input_shape))} "
                f"({len(spec.bands)} bands x {spec.n_bins} bins)"
            )
        elif _dims(outputs[OUTPUT_NAME])[1:] != [len(spec.classes)]:
            shown = "x".join("?" if d is None else str(d) for d in _dims(outputs[OUTPUT_NAME])[1:])
            problem = f"it outputs {shown} values per pixel for the {len(spec.classes)} classes of its metadata"
    if problem is not None:
        raise ModelFileError(
            f"{path} does not match the gee-crop metadata it carries ({problem}); give a model.onnx written by "
            "`gee-crop export` or `gee-crop train`, unmodified"
        )


def read_onnx_metadata(model: ModelLike) -> dict:
    """The gee-crop metadata of an ONNX file, decoded: classes/bands lists, season/model_card dicts,
    cloud_threshold float, max_gap_bins int, feature_kind and gee_crop_model str.

    Raises ModelFileError when the file is not an ONNX model written by gee-crop.
    """
    model = read_model_file(model)
    if model.kind != "onnx":
        raise ModelFileError(
            f"{model.path} is not an ONNX model; give a file written by `gee-crop export` "
            "or `gee-crop train --arch random_forest`"
        )
    return model.meta


def onnx_metadata_props(meta: dict) -> dict[str, str]:
    """``metadata_props`` of an ONNX file: strings as they are, everything else as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(_plain(value)) for key, value in meta.items()}


def set_onnx_metadata(proto: onnx.ModelProto, meta: dict) -> None:
    """Replace the metadata_props of ``proto`` with ``meta`` (encoded by :func:`onnx_metadata_props`)."""
    del proto.metadata_props[:]
    for key, value in onnx_metadata_props(meta).items():
        proto.metadata_props.add(key=key, value=value)


def _plain(meta: Any) -> Any:
    """Metadata as plain JSON types (numpy scalars, tuples -> Python), so weights_only loading works."""
    return json.loads(json.dumps(meta, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _torch_payload(path: Path, data: bytes) -> dict:
    """The checked payload of a torch model file's bytes, loaded with ``weights_only=True`` (no code runs)."""
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable content is the user's file problem
        raise _not_a_model(path, f"torch cannot read it safely: {type(exc).__name__}") from None
    payload = _check_payload(path, payload, "metadata")
    if "state_dict" not in payload:
        raise _not_a_model(path, "missing weights")
    return payload


def read_model_meta(model: ModelLike) -> dict:
    """Every metadata entry of a model file (torch or ONNX), without the weights; ModelFileError for
    anything else, naming the conversion command for a 0.1.0 pickle."""
    return read_model_file(model).meta


def read_contract(model: ModelLike) -> FeatureSpec:
    """The contract (how to composite the input, what comes out) of any gee-crop model file."""
    return read_model_file(model).contract


def _trained_meta(contract: FeatureSpec, arch: Arch | str, arch_kwargs: dict, extra: dict) -> dict:
    missing = [k for k in ("train_config", "metrics") if k not in extra]
    if missing:
        raise ValueError(f"model metadata lacks {missing}")
    return _plain(
        {
            FORMAT_KEY: FORMAT_VERSION,
            **contract.to_meta(),
            "arch": Arch(arch).value,
            "arch_kwargs": arch_kwargs,
            **extra,
        }
    )


def save_model(
    path: str | os.PathLike, model: torch.nn.Module, arch: Arch | str, arch_kwargs: dict, contract: FeatureSpec, **extra
) -> Path:
    """Write a torch model file atomically (weights on CPU); ``extra`` holds ``train_config`` and
    ``metrics`` (plain data). Returns the path."""
    if Arch(arch) not in torch_archs():
        raise ValueError(f"arch must be one of {[a.value for a in torch_archs()]}, got {arch!r}")
    payload = {
        **_trained_meta(contract, arch, arch_kwargs, extra),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def save_forest(path: str | os.PathLike, forest: Any, arch_kwargs: dict, contract: FeatureSpec, **extra) -> Path:
    """Write a fitted Random Forest as ONNX with its metadata (``model.onnx``), atomically."""
    proto = forest_to_onnx(forest, contract.n_features, INPUT_NAME, OUTPUT_NAME, len(contract.classes))
    set_onnx_metadata(proto, _trained_meta(contract, Arch.RANDOM_FOREST, arch_kwargs, extra))
    return atomic_write(Path(path), lambda tmp: onnx.save(proto, str(tmp)))


def load_model(model: ModelLike) -> tuple[torch.nn.Module, dict]:
    """A torch model file: ``(model in eval mode on CPU, metadata without the weights)``."""
    model = read_model_file(model)
    path = model.path
    if model.kind == "pickle":
        raise _pickle_refused(path)
    if model.kind == "onnx":
        raise ModelFileError(
            f"{path} is an ONNX model, not a torch model.pt; run it with `gee-crop map` or "
            "`gee-crop evaluate`, or give the model.pt it was exported from"
        )
    payload = _torch_payload(path, model.data)
    arch: Any = payload.get("arch")  # whatever the file holds: build_model refuses what it does not know
    kwargs = payload.get("arch_kwargs", {})
    try:
        net = build_model(arch, kwargs)
    except (ValueError, TypeError):
        raise _not_a_model(path, f"unknown architecture {arch!r}") from None
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ModelFileError(
            f"{path}: weights do not match {arch} {kwargs} ({str(exc).splitlines()[0]}); "
            "the file is damaged, retrain the model"
        ) from None
    apply_input_scaling(net, FeatureSpec.from_meta(payload).input_scaling)
    return net.eval(), {k: v for k, v in payload.items() if k != "state_dict"}


def update_model_meta(model: ModelLike, **entries) -> Path:
    """Set metadata ``entries`` (plain data, e.g. ``metrics``) of a torch or ONNX model file, rewritten
    atomically; the weights are untouched. Returns the path (a ModelFile of it is then out of date)."""
    model = read_model_file(model)
    path = model.path
    if model.kind == "pickle":
        raise _pickle_refused(path)
    if model.kind == "torch":
        payload = {**_torch_payload(path, model.data), **_plain(entries)}
        return atomic_write(path, lambda tmp: torch.save(payload, tmp))
    proto = onnx.load_model_from_string(model.data)
    set_onnx_metadata(proto, {**model.meta, **entries})
    return atomic_write(path, lambda tmp: onnx.save(proto, str(tmp)))


def load_pickled_forest(model: ModelLike, *, trust_pickle: bool = False) -> tuple[Any, dict]:
    """``(estimator, metadata)`` of a gee-crop 0.1.0 Random Forest pickle: the conversion path only.

    Unpickling runs whatever code the file names, so it happens only with ``trust_pickle=True``
    (and a warning); otherwise ModelFileError naming the conversion command.
    """
    import joblib

    model = read_model_file(model)
    path = model.path
    if model.kind != "pickle":
        raise ModelFileError(f"{path} is not a pickle; only gee-crop 0.1.0 model.pkl files need converting")
    if not trust_pickle:
        raise _pickle_refused(path)
    warnings.warn(f"unpickling {path} (trust_pickle=True): only do this for files you made yourself", stacklevel=2)
    try:
        payload = joblib.load(io.BytesIO(model.data))
    except Exception as exc:  # noqa: BLE001
        raise _not_a_model(path, f"unreadable pickle: {type(exc).__name__}") from None
    payload = _check_payload(path, payload, "metadata")
    if payload.get("arch") != Arch.RANDOM_FOREST or "estimator" not in payload:
        raise _not_a_model(path, "a pickle that holds no Random Forest")
    return payload["estimator"], {k: v for k, v in payload.items() if k != "estimator"}
