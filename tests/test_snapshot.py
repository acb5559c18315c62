"""An evaluation reads one version of a method's maps: an import that replaces the method during the run makes it
run again on the new version (never a mix of both), and a second replacement is refused with one line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import samis.evaluation as evaluation_module
import samis.image_level as image_level_module
from samis.engines import EngineSpec
from samis.datasets import register_dataset
from samis.errors import EvaluationError
from samis.evaluation import evaluate, method_cache
from samis.image_level import evaluate_image_level
from samis.result_cache import file_hash
from samis.metrics import DATASET_METRICS
from samis.store import import_predictions, method_generation, prediction_files, read_manifest


@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, predictions = make_folder_dataset(n=16, empty_gt=4)
    dataset = register_dataset(workspace, "toy", root, "folder")
    for name, folder in (("m", predictions["good"]), ("old", predictions["good"]), ("new", predictions["weak"])):
        import_predictions(workspace, dataset, name, folder)
    return workspace, dataset, predictions


def _import_during_reads(monkeypatch, module, workspace, dataset, folders, after: int = 5):
    """Patch ``module.read_prediction`` so that in each pass, once ``after`` maps are read, ``m`` is replaced by the
    next folder of ``folders``, then reading goes on (a pass starts again when a map is read a second time)."""
    original = module.read_prediction
    state = {"seen": set(), "imports": list(folders)}

    def reading(path, expected_shape=None):
        if path.name in state["seen"]:  # the evaluation started again
            state["seen"].clear()
        state["seen"].add(path.name)
        if len(state["seen"]) == after and state["imports"]:
            import_predictions(workspace, dataset, "m", state["imports"].pop(0))
        return original(path, expected_shape)

    monkeypatch.setattr(module, "read_prediction", reading)
    return state


def _scores(result) -> dict:
    scores = result.scores()
    return {name: scores[name] for name in DATASET_METRICS}


def _assert_cache_holds_the_current_maps(workspace, dataset, reference):
    """Every cached row of ``m`` is keyed by the map there now and holds ``reference``'s values for it."""
    cache = method_cache(workspace, dataset.id, "m")
    files = prediction_files(workspace, dataset.id, "m")
    for stem in cache.stems:
        assert cache.lookup(stem)[0] == file_hash(files[stem]), stem  # no old key paired with new content
    position = {stem: i for i, stem in enumerate(reference.stems)}
    rows = cache.rows_for(cache.stems)
    wanted = [position[stem] for stem in cache.stems]
    assert np.array_equal(rows["scalars"], reference.scalars[wanted])
    assert np.array_equal(rows["curves"], reference.curves[wanted])
    return len(cache.stems)


def test_an_import_during_the_evaluation_gives_the_new_maps_scores_exactly(toy, monkeypatch):
    workspace, dataset, predictions = toy
    clean = evaluate(workspace, dataset, ["old", "new"], workers=1).methods
    state = _import_during_reads(monkeypatch, evaluation_module, workspace, dataset, [predictions["weak"]])
    result = evaluate(workspace, dataset, ["m"], engine=EngineSpec(workers=1)).methods["m"]
    assert state["imports"] == []  # the import did happen mid-run
    assert np.array_equal(result.scalars, clean["new"].scalars) and np.array_equal(result.curves, clean["new"].curves)
    assert _scores(result) == _scores(clean["new"])  # not a mix of old and new maps
    monkeypatch.undo()
    assert _assert_cache_holds_the_current_maps(workspace, dataset, clean["new"]) == 16
    again = evaluate(workspace, dataset, ["m"], engine=EngineSpec(workers=1))
    assert again.computed == 0 and _scores(again.methods["m"]) == _scores(clean["new"])


def test_two_imports_during_the_evaluation_are_refused_with_one_line(toy, monkeypatch):
    workspace, dataset, predictions = toy
    clean = evaluate(workspace, dataset, ["old"], workers=1).methods
    _import_during_reads(monkeypatch, evaluation_module, workspace, dataset, [predictions["weak"], predictions["good"]])
    with pytest.raises(EvaluationError) as refused:
        evaluate(workspace, dataset, ["m"], engine=EngineSpec(workers=1))
    message = str(refused.value)
    assert "\n" not in message and "'m'" in message and "replaced twice" in message
    monkeypatch.undo()
    _assert_cache_holds_the_current_maps(workspace, dataset, clean["old"])  # the good maps are back in place
    assert _scores(evaluate(workspace, dataset, ["m"], engine=EngineSpec(workers=1)).methods["m"]) == _scores(clean["old"])


def test_image_level_evaluation_reads_one_version_too(toy, monkeypatch):
    workspace, dataset, predictions = toy
    clean = evaluate_image_level(workspace, dataset, ["new"], engine=EngineSpec(workers=1)).methods["new"]
    _import_during_reads(monkeypatch, image_level_module, workspace, dataset, [predictions["weak"]])
    result = evaluate_image_level(workspace, dataset, ["m"], engine=EngineSpec(workers=1)).methods["m"]
    assert np.array_equal(result.area, clean.area) and np.array_equal(result.max_score, clean.max_score)
    monkeypatch.undo()
    import_predictions(workspace, dataset, "m", predictions["good"])  # maps not scored yet: the next run reads them
    _import_during_reads(monkeypatch, image_level_module, workspace, dataset, [predictions["weak"], predictions["good"]])
    with pytest.raises(EvaluationError, match="'m' .*replaced twice"):
        evaluate_image_level(workspace, dataset, ["m"], engine=EngineSpec(workers=1))


def test_every_import_and_manifest_write_changes_the_generation(toy):
    workspace, dataset, predictions = toy
    first = method_generation(workspace, dataset.id, "m")
    assert read_manifest(workspace, dataset.id, "m")["generation"] in first
    import_predictions(workspace, dataset, "m", predictions["good"])  # the same maps again: still a new version
    second = method_generation(workspace, dataset.id, "m")
    assert second != first and method_generation(workspace, dataset.id, "m") == second
    assert method_generation(workspace, dataset.id, "absent") == "none"


def test_a_replacement_that_removes_a_map_being_read_runs_again_on_the_new_version(toy, monkeypatch, tmp_path):
    workspace, dataset, predictions = toy
    clean = evaluate(workspace, dataset, ["new"], engine=EngineSpec(workers=1)).methods["new"]
    fewer = tmp_path / "fewer"
    shutil.copytree(predictions["weak"], fewer)
    last = clean.stems[-1]
    for path in fewer.glob(f"{last}.*"):
        path.unlink()  # the map read last in the first pass is gone once the import swapped
    _import_during_reads(monkeypatch, evaluation_module, workspace, dataset, [fewer])
    result = evaluate(workspace, dataset, ["m"], allow_missing=True, workers=1).methods["m"]
    assert result.stems == clean.stems[:-1] and result.missing == [last]
    assert np.array_equal(result.scalars, clean.scalars[:-1])
