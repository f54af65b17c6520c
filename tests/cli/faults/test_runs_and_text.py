"""Items 8, 10 (truncated checkpoint) and 11: training folders are never clobbered, and hostile text in a
model's metadata or an experiment's results is shown inert by info (a terminal), model_card.md (Markdown) and
the HTML report, each escaped for its medium."""
from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest

from gee_crop.errors import InputError
from gee_crop.experiments.report import write_report
from gee_crop.export.onnx import export_onnx
from gee_crop.models.io import read_model_meta, update_model_meta
from gee_crop.pipeline.info import model_card_text
from gee_crop.training.trainer import train

HOSTILE = "<script>alert(1)</script>\x1b[31m|red|\x1b[2J\x1b]0;pwned\x07\u202e"
#: what must never reach the medium: escape sequences (ESC, C1 CSI), the OSC's bell and payload, a bidi override
CONTROLS = ("\x1b", "\x9b", "\x07", "\u202e", "pwned")


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def cropnet_run(tmp_path, tiny_model_pt):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_pt.parent, run)
    return run


def test_resume_with_another_arch_is_refused_and_touches_nothing(cropnet_run, bel_table):
    before = digest(cropnet_run)
    for arch in ("random_forest", "cropnet1d"):
        with pytest.raises(InputError):
            train(bel_table, cropnet_run, arch=arch, resume=True, progress=False, echo=lambda _: None)
    assert digest(cropnet_run) == before


def test_resume_with_other_options_names_them(cropnet_run, bel_table):
    with pytest.raises(InputError, match=r"other training options \(.*arch.*differ\)"):
        train(bel_table, cropnet_run, arch="cropnet1d", resume=True, progress=False, echo=lambda _: None)


def test_resume_without_a_checkpoint_says_so(tmp_path, cropnet_run, bel_table):
    with pytest.raises(InputError, match=r"--resume: .*empty has no checkpoint.pt to resume from; drop --resume"):
        train(bel_table, tmp_path / "empty", resume=True, progress=False, echo=lambda _: None)
    (cropnet_run / "checkpoint.pt").unlink()
    before = digest(cropnet_run)
    with pytest.raises(InputError, match=r"no checkpoint.pt to resume from \(it holds model.pt\)"):
        train(bel_table, cropnet_run, resume=True, progress=False, echo=lambda _: None)
    assert digest(cropnet_run) == before


def test_a_truncated_checkpoint_is_a_one_line_error(cropnet_run, bel_table):
    checkpoint = cropnet_run / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(InputError, match="checkpoint.pt is damaged or truncated.*--overwrite"):
        train(bel_table, cropnet_run, resume=True, progress=False, echo=lambda _: None)


def hostile_model(cropnet_run):
    model = cropnet_run / "model.pt"
    meta = read_model_meta(model)
    config = meta["train_config"]
    data = {**config["data"], "source": HOSTILE, "regions": [HOSTILE],
            "class_counts": {**config["data"]["class_counts"], HOSTILE: 3}}
    update_model_meta(model, train_config={**config, "data": data},
                      metrics={**meta["metrics"], "transfers": [{"transfer": HOSTILE, "target": HOSTILE,
                                                                 "overall_accuracy": HOSTILE, "n_samples": HOSTILE}]})
    return model


def assert_inert(text: str, medium: str):
    """No control sequence in any medium; the markup shown as text in the medium's own escaping."""
    assert not [c for c in CONTROLS if c in text]
    if medium == "terminal":  # a terminal shows text as it is: no HTML entities
        assert "<script>alert(1)</script>" in text and "&lt;" not in text and "&amp;" not in text
    elif medium == "markdown":  # no tag, cell or link opens
        assert not re.search(r"(?<!\\)<", text) and r"\<script\>alert(1)\</script\>" in text and r"\|red\|" in text
    else:
        assert "<script" not in text and "&lt;script&gt;" in text


def test_info_prints_hostile_metadata_inert(cropnet_run):
    text = model_card_text(hostile_model(cropnet_run))
    assert_inert(text, "terminal")
    assert json.loads(model_card_text(cropnet_run / "model.pt", as_json=True))["training_data"]["source"] == HOSTILE


def test_model_card_md_is_inert(cropnet_run):
    onnx_path = export_onnx(hostile_model(cropnet_run), cropnet_run / "model.onnx")
    assert_inert((onnx_path.parent / "model_card.md").read_text(encoding="utf-8"), "markdown")
    assert_inert(model_card_text(onnx_path), "terminal")


def results_with(text, number):
    """A results.json of one model and one transfer (synthetic) with ``text`` in every string field and
    ``number`` in every numeric one."""
    return {"title": text, "name": text, "table": text, "seeds": [0, text],
            "transfers": [{"label": text, "source": text, "target": text}], "models": [{"name": text}],
            "results": [{"model": text, "transfer": text, "seed": text, "overall_accuracy": number,
                         "macro_f1": number, "n_samples": text, "alignment_rule": text,
                         "train_seconds": number, "n_parameters": number}]}


@pytest.mark.parametrize("number", [0.9, HOSTILE])
def test_every_field_of_results_json_is_escaped_in_the_report(tmp_path, number):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "results.json").write_text(json.dumps(results_with(HOSTILE, number)), encoding="utf-8")
    try:
        html = write_report(exp).read_text(encoding="utf-8")
    except InputError as exc:  # strings where numbers belong may be refused, in one line
        assert number == HOSTILE and "results.json is damaged" in str(exc)
        return
    assert_inert(html, "html")
    assert html.count("&lt;script&gt;") >= 8
