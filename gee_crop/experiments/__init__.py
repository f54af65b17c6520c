"""Declarative experiments: combinations of data, transfers, models and seeds, results tables in the
layout of the paper's Tables 3-7, insight figures and model cards (see docs/experiments.md)."""

from gee_crop.experiments.config import ExperimentConfig, ExperimentConfigError, load_experiment
from gee_crop.experiments.runner import ExperimentRun, run_experiment

__all__ = ["ExperimentConfig", "ExperimentConfigError", "ExperimentRun", "load_experiment", "run_experiment"]
