"""The one function behind ``gee-crop train``: a model trained on a sample table, written to a run folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gee_crop.config import AUTO_ARCH, EMIT_FEATURE_MONTHS, S2_EMIT_FEATURE_MONTHS
from gee_crop.data.cube import InputKind, input_kind, refuse_stack_as_training_input
from gee_crop.data.emit_table import S2EmitTables, is_emit_table
from gee_crop.errors import InputError
from gee_crop.models.zoo import zoo_models
from gee_crop.outputs import claim_output
from gee_crop.training.cube_train import train_cube
from gee_crop.training.emit import fit_flat, train_emit
from gee_crop.training.s2_emit import prepare_s2_emit
from gee_crop.training.selection import auto_options, select_and_train
from gee_crop.training.trainer import TrainConfig, TrainResult, train


def run_train(
    table: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    emit_table: str | os.PathLike | None = None,
    **options: Any,
) -> TrainResult:
    """Train on ``table`` (a sample table, or a composite cube of ``gee-crop cube``) into ``out_dir`` (model
    file, config.json, history.csv, checkpoint.pt).

    ``options`` are fields of ``gee_crop.training.trainer.TrainConfig`` (arch, epochs, seed, ...);
    ``init_from`` may name a zoo model (its shipped ``<name>.pt``) as well as a model.pt file. The run
    holds ``out_dir``'s lock (``gee_crop.outputs``): a second run into it refuses. ``emit_table``: S2+EMIT
    features, ``table``'s samples joined with the EMIT table sampled beside it (docs/emit.md).
    """
    refuse_stack_as_training_input(table, "train")
    if input_kind(table) is InputKind.CUBE:  # a composite cube streams block by block
        with claim_output(out_dir, folder=True, overwrite=overwrite, resumes=True):
            config = TrainConfig(**options)
            return train_cube(table, out_dir, config, resume=resume, overwrite=overwrite, progress=progress, echo=echo)
    if emit_table is not None:  # S2 and EMIT together: the two tables joined on the sample location
        with claim_output(out_dir, folder=True, overwrite=overwrite, resumes=True):
            run, n_dropped = prepare_s2_emit(S2EmitTables(table, emit_table), out_dir, TrainConfig(**options), echo)
            return fit_flat(run, n_dropped, resume=resume, overwrite=overwrite, progress=progress)
    if options.get("feature_kind") in S2_EMIT_FEATURE_MONTHS:
        raise InputError(f"--features {options['feature_kind']} joins two tables; give --emit-table EMIT_TABLE")
    if is_emit_table(table):  # EMIT monthly medians (docs/emit.md): flat vectors, RF-500 or CropNet 1D
        with claim_output(out_dir, folder=True, overwrite=overwrite, resumes=True):
            config = TrainConfig(**options)
            return train_emit(table, out_dir, config, resume=resume, overwrite=overwrite, progress=progress, echo=echo)
    if options.get("feature_kind") in EMIT_FEATURE_MONTHS:
        raise InputError(
            f"--features {options['feature_kind']} reads EMIT medians, but {table} is not an EMIT table; "
            "give the table of `gee-crop sample --emit`"
        )
    if options.get("arch") == AUTO_ARCH:  # the model chosen by spatial cross-validation (training/selection.py)
        chosen = auto_options({**options, "resume": resume or None})
        models = {m.name: m for m in zoo_models()}
        default = next((m.name for m in models.values() if m.default), None)
        with claim_output(out_dir, folder=True, overwrite=overwrite, resumes=False):
            return select_and_train(
                table,
                out_dir,
                zoo_models=models,
                default_zoo=default,
                overwrite=overwrite,
                progress=progress,
                echo=echo,
                **chosen,
            )[0]
    zoo = {m.name: m.path for m in zoo_models()} if options.get("init_from") else None
    with claim_output(out_dir, folder=True, overwrite=overwrite, resumes=True):  # the trainer resumes or refuses
        return train(
            table, out_dir, resume=resume, overwrite=overwrite, progress=progress, echo=echo, zoo=zoo, **options
        )
