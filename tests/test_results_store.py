"""The columnar results store (samis.results_store) and the export (samis.results_export): the scores it gives
equal a plain pysodmetrics loop and the old ``.npz`` store's; old caches and older formats are read as they are and
scored again once (they hold no histograms); a write that is killed leaves the previous file; a newer format is
refused; the export's rows are evaluate's per-image values."""

from __future__ import annotations

import base64
import json
import os
import socket
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference import pysodmetrics_scores

import samis.evaluation as evaluation
import samis.imageio as imageio
import samis.result_cache as result_cache
from samis.cli import main
from samis.datasets import register_dataset
from samis.errors import EvaluationError, SamisWarning
from samis.curve_histograms import curves_from_histograms
from samis.metrics import DATASET_METRICS, IMAGE_METRICS
from samis.result_cache import RowCache
from samis.reference_maps import fill_references, reference_results
from samis.results_store import ParquetRowCache, read_rows
import samis.results_store as results_store
from samis.store import import_predictions

#: dataset metrics read from the per-image curves, which the store keeps in float32 (2^-24 relative)
CURVE_METRICS = ("maxEm", "meanEm", "maxFm", "meanFm")


class _OldRowCache(RowCache):
    """The ``.npz`` row cache, with the calls evaluation makes of a store now (no trust token: never trusted). It
    stored each image's four curves: pysodmetrics' own, which the scorer's histograms give exactly."""

    def put(self, stem, stat, pred_hash, gt_hash, values):
        curves = curves_from_histograms(np.asarray(values["histograms"])[None])[0]
        super().put(stem, stat, pred_hash, gt_hash, {"scalars": values["scalars"], "curves": curves})

    def images(self) -> list[str]:
        return list(self.stems)

    def set_generation(self, generation: str) -> None:
        pass

    def rows_for(self, stems, curves=True):
        rows = super().rows_for(stems)
        return rows if curves else {"scalars": rows["scalars"]}

    def curve_rows(self, stems):
        return super().rows_for(stems)["curves"]


def _old_method_cache(workspace, dataset_id, method):
    """The ``.npz`` row cache evaluation wrote before the results store (the code it replaced, as it was)."""
    return _OldRowCache(workspace.results_dir(dataset_id) / f"{method}.npz",
                    {"scalars": ("f", (len(IMAGE_METRICS),)), "curves": ("f", (4, 256))}, evaluation.CACHE_VERSION,
                    {"metric_names": np.array(IMAGE_METRICS), "curve_names": np.array(["precision", "recall", "fm", "em"])})


def _cli(workspace, capsys, *args) -> tuple[int, str, str]:
    code = main(["--workspace", str(workspace.root), *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, preds = make_folder_dataset(n=14, empty_gt=2)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    return dataset, preds


def _assert_equal_to_plain_loop(result, maps: dict[str, Path], samples) -> None:
    for method, folder in maps.items():
        plain = pysodmetrics_scores([(folder / f"{s.id}.png", s.gt_path) for s in samples])
        ours = result.to_json_dict()["methods"][method]
        assert ours["n_images"] == plain["n_images"]
        for name in DATASET_METRICS:
            tolerance = 1e-7 if name in CURVE_METRICS else 1e-10
            assert ours[name] == pytest.approx(plain[name], abs=tolerance), (method, name)


def _migrate_and_compare(workspace, dataset, monkeypatch, maps: dict[str, Path]) -> None:
    """Evaluate with the old store, then with the new one (migrating: an .npz holds curves, no histograms, so its
    rows are scored again once): same rows, same plain-loop scores."""
    with monkeypatch.context() as patch:
        patch.setattr(evaluation, "method_cache", _old_method_cache)
        old = evaluation.evaluate(workspace, dataset, workers=1)
    folder = workspace.results_dir(dataset.id)
    assert sorted(p.name for p in folder.glob("*.npz") if not p.name.startswith("_")) == sorted(f"{m}.npz" for m in maps)
    as_it_is = evaluation.method_cache(workspace, dataset.id, next(iter(maps)))  # a view reads the .npz as it is
    assert as_it_is.stems == sorted(old.methods[next(iter(maps))].stems) and not as_it_is.path.exists()
    with pytest.warns(SamisWarning, match=r"\.npz: an \.npz cache .* is scored again once and stored as format 3 "
                                          r"\(exact histograms\) in .*\.parquet; the \.npz is removed") as said:
        new = evaluation.evaluate(workspace, dataset, workers=1)
    assert len([w for w in said if "scored again once" in str(w.message)]) == len(maps)  # one line per old cache
    assert new.computed == len(dataset.samples) * len(maps)  # every row scored again, once
    assert not [p for p in folder.glob("*.npz") if not p.name.startswith("_")]  # migrated once, then gone
    for method in maps:
        a, b = old.methods[method], new.methods[method]
        assert a.stems == b.stems and np.array_equal(a.scalars, b.scalars)  # per-image values: float64, unchanged
        assert b.curves.dtype == np.float32 and np.array_equal(a.curves.astype(np.float32), b.curves)
        for name in DATASET_METRICS:
            tolerance = 1e-7 if name in CURVE_METRICS else 0.0
            assert new.scores[method][name] == pytest.approx(old.scores[method][name], abs=tolerance), (method, name)
    _assert_equal_to_plain_loop(new, maps, dataset.samples)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamisWarning)  # the second run reads Parquet only: no line
        again = evaluation.evaluate(workspace, dataset, workers=1)
    assert again.computed == 0 and again.scores[next(iter(maps))]["Sa"] == new.scores[next(iter(maps))]["Sa"]


def test_store_equals_plain_loop_and_the_old_store_after_migration(workspace, toy, monkeypatch):
    dataset, preds = toy
    _migrate_and_compare(workspace, dataset, monkeypatch, preds)


def test_sd900_subset_over_the_store_equals_pysodmetrics_and_the_old_store(workspace, sd900_dir, sd900_predictions_dir,
                                                                           monkeypatch):
    """The issue's check on the real data: every metric over the store = the plain loop (1e-6, 1e-10 for the
    per-image means), and = the old store's values; 3 methods on every 10th image, to stay fast."""
    dataset = register_dataset(workspace, "sd900", sd900_dir)
    dataset = replace(dataset, samples=dataset.samples[::10])
    maps = {m: sd900_predictions_dir / m for m in ("FT", "RCRR", "SMD")}
    for method, folder in maps.items():
        import_predictions(workspace, dataset, method, folder)
    _migrate_and_compare(workspace, dataset, monkeypatch, {m: workspace.method_dir("sd900", m) for m in maps})
    result = evaluation.evaluate(workspace, dataset, workers=1)
    for method, folder in maps.items():  # and against the original files, as a person would run pysodmetrics
        plain = pysodmetrics_scores([(folder / f"{s.id}.png", s.gt_path) for s in dataset.samples])
        for name in DATASET_METRICS:
            assert result.scores[method][name] == pytest.approx(plain[name], abs=1e-6), (method, name)


def _rows(n: int, seed: int = 0) -> dict[str, tuple]:
    rng = np.random.default_rng(seed)
    return {f"im_{i:02d}": ((100 + i, 7 * i), f"p{i}", f"g{i}",
                            {"scalars": rng.random(len(IMAGE_METRICS)), "histograms": rng.integers(0, 40, (2, 256))})
            for i in range(n)}


def _cache(path) -> ParquetRowCache:
    return ParquetRowCache(path, IMAGE_METRICS, ("precision", "recall", "fm", "em"), evaluation.CACHE_VERSION)


def _fill(path, rows, order, flush_after=None) -> bytes:
    cache = _cache(path)
    for count, stem in enumerate(order, 1):
        cache.put(stem, *rows[stem])
        if count == flush_after:
            cache.save()
            cache = _cache(path)
    cache.save()
    return path.read_bytes()


def test_same_bytes_in_any_order_and_with_any_flush(tmp_path):
    rows = _rows(9)
    stems = list(rows)
    files = {_fill(tmp_path / f"{i}-{flush}.parquet", rows, order, flush)
             for i, order in enumerate([stems, stems[::-1], stems[4:] + stems[:4]]) for flush in (None, 3)}
    assert len(files) == 1  # a Ray run and a local run write the same file
    cache = _cache(tmp_path / "0-None.parquet")
    assert cache.stems == sorted(stems) and cache.lookup("im_03") == ("p3", "g3")
    got = cache.rows_for(["im_05", "im_01"])
    assert np.array_equal(got["scalars"], np.stack([rows["im_05"][3]["scalars"], rows["im_01"][3]["scalars"]]))
    derived = curves_from_histograms(rows["im_05"][3]["histograms"][None])[0]  # the rows hold the histograms
    assert got["curves"].dtype == np.float32 and np.array_equal(got["curves"][0], derived.astype(np.float32))


def test_a_subset_reads_only_its_row_groups_and_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(results_store, "ROW_GROUP", 4)
    rows = _rows(20)
    path = tmp_path / "m.parquet"
    _fill(path, rows, list(rows))
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 5
    wanted = ["im_05", "im_06", "im_17"]
    assert results_store._groups_holding(metadata, sorted(wanted)) == [1, 4]  # 4 images per group, by id
    table = read_rows(path, wanted, metrics=("Sa", "MAE"))
    assert table.column_names == ["image", "Sa", "MAE"] and table.column("image").to_pylist() == wanted
    sa = IMAGE_METRICS.index("Sa")
    assert table.column("Sa").to_pylist() == [rows[s][3]["scalars"][sa] for s in wanted]
    assert read_rows(path, [], metrics=("Sa",)).num_rows == 0 and read_rows(path).num_rows == 20


def test_a_write_killed_before_its_rename_leaves_the_previous_store(tmp_path, monkeypatch):
    rows = _rows(6)
    path = tmp_path / "m.parquet"
    before = _fill(path, rows, list(rows)[:4])
    cache = _cache(path)
    for stem in list(rows)[4:]:
        cache.put(stem, *rows[stem])

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # what a kill between writing the temp file and renaming it looks like from here

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.save()
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamisWarning)  # readable as it was: not damaged
        assert _cache(path).stems == list(rows)[:4]


def test_a_store_of_a_newer_format_is_refused_in_one_line_and_kept(workspace, toy, capsys):
    dataset, _ = toy
    evaluation.evaluate(workspace, dataset, workers=1)
    path = workspace.results_dir("toy") / "good.parquet"
    table = pq.read_table(path)
    newer_format = results_store.STORE_FORMAT + 1
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"samis.format": str(newer_format).encode()}),
                   path)
    written = path.read_bytes()
    with pytest.raises(EvaluationError, match=f"written by a newer samis .results store format {newer_format}"):
        evaluation.evaluate(workspace, dataset, workers=1)
    code, out, err = _cli(workspace, capsys, "evaluate", "toy")
    assert code == 2 and out == "" and err.count("\n") == 1 and "newer samis" in err and "good.parquet" in err
    assert path.read_bytes() == written  # never overwritten nor moved aside


def test_export_rows_equal_evaluate_per_image_values(workspace, toy, tmp_path, capsys):
    dataset, _ = toy
    code, out, _ = _cli(workspace, capsys, "evaluate", "toy", "--split", "test", "--format", "json")
    assert code == 0
    scores = json.loads(out)["methods"]
    result = evaluation.evaluate(workspace, dataset, split="test", workers=1)
    expected = result.per_image_frame()
    for fmt in ("parquet", "csv"):
        path = tmp_path / f"rows.{fmt}"
        code, _, err = _cli(workspace, capsys, "results", "export", "toy", "--split", "test", "--format", fmt, "-o", path)
        assert code == 0 and f"exported {len(expected)} rows" in err
        rows = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
        assert list(rows.columns) == ["image", "class", "split", "method", *IMAGE_METRICS]
        assert (rows["split"] == "test").all()
        merged = expected.merge(rows, on=["image", "method"], suffixes=("", "_export"), validate="one_to_one")
        assert len(merged) == len(expected) == len(rows)
        assert (merged["class"] == merged["class_export"]).all()
        for name in IMAGE_METRICS:  # the stored float64 values, unchanged (CSV writes them in full)
            assert np.array_equal(merged[name].to_numpy(), merged[f"{name}_export"].to_numpy()), (fmt, name)
        for method, document in scores.items():  # and the per-image means are evaluate --format json's scores
            for name in ("Sa", "MAE", "Fw", "adpFm", "adpEm"):
                assert rows.loc[rows.method == method, name].mean() == pytest.approx(document[name], rel=1e-12)
    metadata = pq.read_table(tmp_path / "rows.parquet").schema.metadata
    assert metadata[b"samis.dataset"] == b"toy"
    # the export's own layout version, not the private results store's (which changed to format 3, the export did not)
    assert metadata[b"samis.export_format"] == b"1" and b"samis.format" not in metadata


def test_export_scores_what_the_store_lacks(workspace, toy, tmp_path, capsys):
    code, _, err = _cli(workspace, capsys, "results", "export", "toy", "--methods", "good", "-o", tmp_path / "a.parquet")
    assert code == 0 and "14 image-method pairs scored now" in err
    assert (workspace.results_dir("toy") / "good.parquet").exists()
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 14


def test_export_bad_input_is_one_line_and_writes_nothing(workspace, toy, tmp_path, capsys, monkeypatch):
    tmp_path = tmp_path / "out"  # the export's folder (the dataset and workspace sit beside it)
    tmp_path.mkdir()
    previous = tmp_path / "old.parquet"
    previous.write_bytes(b"an earlier export")
    listen = socket.socket(socket.AF_UNIX)
    listen.bind(str(tmp_path / "sock"))
    cases = [(("--methods", "nope", "-o", previous), "no predictions for method 'nope'"),
             (("--split", "nope", "-o", previous), "has no split 'nope'"),
             (("-o", tmp_path / "missing" / "x.parquet"), "does not exist"),
             (("-o", tmp_path), "is a folder"),
             (("-o", tmp_path / "sock"), "is a socket")]
    for args, words in cases:
        code, out, err = _cli(workspace, capsys, "results", "export", "toy", *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err, (args, err)
    listen.close()

    evaluation.evaluate(workspace, toy[0], workers=1)  # the store is written: only the export's folder fails
    mkstemp = imageio.tempfile.mkstemp

    def read_only(*args, **kwargs):
        if Path(kwargs["dir"]) == tmp_path:
            raise PermissionError(13, "Permission denied", kwargs["dir"])
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr(imageio.tempfile, "mkstemp", read_only)  # what a read-only folder does, even for root
    code, out, err = _cli(workspace, capsys, "results", "export", "toy", "-o", previous)
    assert code == 2 and err.count("\n") == 1 and "old.parquet: permission denied" in err, err
    assert previous.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.parquet", "sock"]  # no temp file, no part of a file


def _no_file_checks(monkeypatch) -> None:
    """Fail the test if anything stats or hashes a map or mask (the trusted path looks at none)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a file was checked")

    monkeypatch.setattr(result_cache, "content_keys", refuse)
    monkeypatch.setattr(evaluation, "run_task", refuse)


def test_views_trust_a_store_checked_against_the_maps_held_now(workspace, toy, monkeypatch, tmp_path):
    dataset, preds = toy
    checked = evaluation.evaluate(workspace, dataset, workers=1)
    with monkeypatch.context() as patch:
        _no_file_checks(patch)
        trusted = evaluation.evaluate_trusting_generation(workspace, dataset, split="test")
        assert evaluation.evaluate_trusting_generation(workspace, dataset).to_json_dict() == checked.to_json_dict()
    assert trusted.to_json_dict() == evaluation.evaluate(workspace, dataset, split="test", workers=1).to_json_dict()
    # new maps for "good" (an import: a new generation): the test split alone is checked, so the train rows of
    # "good" are not trusted on "all" (they were scored from the old maps)
    import_predictions(workspace, dataset, "good", preds["weak"])
    evaluation.evaluate(workspace, dataset, split="test", workers=1)
    whole = evaluation.evaluate_trusting_generation(workspace, dataset)
    assert whole.computed > 0  # fell back to evaluate, which scored the train images of the new maps
    assert np.array_equal(whole.methods["good"].scalars, whole.methods["weak"].scalars)  # same maps, same rows
    with monkeypatch.context() as patch:
        _no_file_checks(patch)
        assert evaluation.evaluate_trusting_generation(workspace, dataset).to_json_dict() == whole.to_json_dict()


def test_a_read_only_workspace_still_evaluates_when_only_the_trust_token_would_change(workspace, toy, monkeypatch):
    dataset, _ = toy
    clean = evaluation.evaluate(workspace, dataset, workers=1).to_json_dict()  # curves are read as used: now
    path = workspace.results_dir("toy") / "good.parquet"
    table = pq.read_table(path)  # a store from before trust tokens: same rows, no token
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"samis.generation": b""}), path)
    written = path.read_bytes()

    def read_only(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(results_store, "write_bytes_atomic", read_only)
    again = evaluation.evaluate(workspace, dataset, workers=1)
    assert again.computed == 0 and again.to_json_dict() == clean and path.read_bytes() == written


def test_damaged_curves_found_on_first_use_are_moved_aside_in_one_line(workspace, toy, capsys):
    """Curves are read on first use, after the keys and values: a damaged curve column met then (its page's CRC
    fails) is moved aside and named in one line, and the next run scores the method again."""
    dataset, _ = toy
    clean = evaluation.evaluate(workspace, dataset, workers=1).to_json_dict()  # curves are read as used: now
    path = workspace.results_dir("toy") / "good.parquet"
    group = pq.ParquetFile(path).metadata.row_group(0)
    hist = next(group.column(i) for i in range(group.num_columns) if group.column(i).path_in_schema == "bg_hist")
    data = bytearray(path.read_bytes())
    start = hist.data_page_offset + 40  # inside the compressed page, past its header
    data[start:start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    # scores of every row come from the sums the writer stored; a split's subset reads the curves
    code, out, err = _cli(workspace, capsys, "evaluate", "toy", "--split", "test", "--format", "json")
    assert code == 2 and out == "" and err.count("error: ") == 1 and "good.parquet: damaged" in err, err
    assert not path.exists() and len(list(path.parent.glob("good.parquet.damaged-*"))) == 1
    again = evaluation.evaluate(workspace, dataset, workers=1)
    assert again.computed == 14 and again.to_json_dict() == clean


def test_curves_of_a_store_rewritten_in_place_since_are_refused_and_the_new_file_is_kept(workspace, toy):
    """A result reads its curves from the store as they are used. When the file was rewritten in place (not by
    samis, which renames a whole new file over it) after the result was made, reading fails: that is named in
    one line, and the file now there, which is not the one that was read, is not moved aside."""
    dataset, _ = toy
    result = evaluation.evaluate(workspace, dataset, workers=1)
    path = workspace.results_dir("toy") / "good.parquet"
    pq.write_table(pq.read_table(path).slice(0, 3), path)  # in place: same inode, other bytes
    with pytest.raises(EvaluationError, match=r"good\.parquet: changed while it was read"):
        result.class_scores()  # a subset of the rows: their curves are read
    assert path.exists() and not list(path.parent.glob("good.parquet.damaged-*"))


def test_more_images_than_a_run_holds_are_scored_a_method_group_at_a_time(workspace, toy, monkeypatch):
    """Memory is bounded by ROWS_IN_MEMORY rows: past it, each group of methods is scored and written before the
    next one starts; the scores are those of one pass, and progress is one count over every group."""
    dataset, preds = toy
    one_pass = evaluation.evaluate(workspace, dataset, workers=1).to_json_dict()
    for path in workspace.results_dir("toy").glob("*.parquet"):
        path.unlink()
    monkeypatch.setattr(evaluation, "ROWS_IN_MEMORY", 14)  # 14 images: one method per group
    written_before, real_run_task = [], evaluation.run_task

    def run_task(task, units, store, **options):
        written_before.append(sorted(p.stem for p in workspace.results_dir("toy").glob("*.parquet")))
        assert {unit.group for unit in units} == {units[0].group}  # one method per run
        return real_run_task(task, units, store, **options)

    monkeypatch.setattr(evaluation, "run_task", run_task)
    events = []
    grouped = evaluation.evaluate(workspace, dataset, workers=1, progress=events.append)
    assert written_before == [sorted(preds)[:i] for i in range(len(preds))]  # each group written before the next
    assert grouped.to_json_dict() == one_pass and grouped.computed == 14 * len(preds)
    done = [event.done for event in events]
    assert done == sorted(done) and events[-1].done == events[-1].total == 14 * len(preds)


def _as_old_format(path, store_format: int) -> None:
    """Rewrite a store as samis wrote it in results store format 1 or 2: no histograms, each of the four curves
    (pysodmetrics' own: what the histograms give exactly) in float32, format 2 as one 1024-byte binary value per
    row with the curves' sums in the footer, format 1 as a fixed-size list of float32."""
    table = pq.read_table(path)
    counts = np.stack([np.frombuffer(table.column(name).combine_chunks().buffers()[1], "<u4").reshape(-1, 256)
                       for name in ("fg_hist", "bg_hist")], axis=1)
    curves = curves_from_histograms(counts).astype(np.float32)
    table = table.drop_columns(["fg_hist", "bg_hist"])
    metadata = {**table.schema.metadata, b"samis.format": str(store_format).encode()}
    for i, name in enumerate(("precision", "recall", "fm", "em")):
        values = np.ascontiguousarray(curves[:, i, :], "<f4")
        column = (pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), 256) if store_format == 1 else
                  pa.FixedSizeBinaryArray.from_buffers(pa.binary(1024), len(values), [None, pa.py_buffer(values.tobytes())]))
        table = table.append_column(name, column)
    metadata[b"samis.curve_total"] = base64.b64encode(curves.sum(axis=0, dtype=np.float64).astype("<f8").tobytes())
    if store_format == 1:
        del metadata[b"samis.curve_total"]
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")


def _close(a: dict, b: dict) -> bool:
    """Two ``evaluate --format json`` documents hold the same scores (the curve metrics to float32's 1e-7)."""
    return a.keys() == b.keys() and all(
        a["methods"][m]["n_images"] == b["methods"][m]["n_images"] and all(
            a["methods"][m][n] == pytest.approx(b["methods"][m][n], abs=1e-7 if n in CURVE_METRICS else 0)
            for n in DATASET_METRICS) for m in a["methods"])


@pytest.mark.parametrize("store_format", [1, 2])
def test_an_older_format_is_read_as_it_is_and_scored_again_once_in_format_3(workspace, toy, store_format):
    """Formats 1 and 2 hold float32 curves and no histograms: every view reads them as they are; the next evaluate
    scores every row again, once, with one line per file, and writes format 3 (the scores it had, to 1e-7). The
    reference rows (same store) follow."""
    dataset, preds = toy
    clean = evaluation.evaluate(workspace, dataset, workers=1).to_json_dict()
    fill_references(workspace, "toy", dataset.samples, workers=1)
    clean_references = reference_results(workspace, "toy", dataset.samples, trusting=True)
    paths = sorted(workspace.results_dir("toy").glob("*.parquet"))
    assert len(paths) == len(preds) + 2
    for path in paths:
        _as_old_format(path, store_format)
    assert {results_store.store_versions(p)[0] for p in paths} == {store_format}
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamisWarning)  # a view reads the old format, says nothing, writes nothing
        viewed = evaluation.evaluate_trusting_generation(workspace, dataset)
        references = reference_results(workspace, "toy", dataset.samples, trusting=True)
        assert all(np.array_equal(references[r].scalars, clean_references[r].scalars) for r in references)
        cache = evaluation.method_cache(workspace, "toy", "good")
        assert cache.rows_for(cache.stems[:2])["curves"].dtype == np.float32
    assert _close(viewed.to_json_dict(), clean) and viewed.computed == 0
    assert {results_store.store_versions(p)[0] for p in paths} == {store_format}
    line = rf"(good|weak|_ref-zeros|_ref-const128)\.parquet: format {store_format} \(float32 curves\) is scored again once and stored as format 3 \(exact histograms\)"
    with pytest.warns(SamisWarning, match=line) as said:
        again = evaluation.evaluate(workspace, dataset, workers=1)
        assert fill_references(workspace, "toy", dataset.samples, workers=1) == 2 * 14
    lines = sorted(str(w.message) for w in said if "scored again once" in str(w.message))
    assert [line.split(": ")[0] for line in lines] == [str(p) for p in paths]  # one line per file, once
    assert again.computed == 14 * len(preds) and again.to_json_dict() == clean
    assert {results_store.store_versions(p)[0] for p in paths} == {results_store.STORE_FORMAT}
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamisWarning)
        repeat = evaluation.evaluate(workspace, dataset, workers=1)
        assert repeat.computed == 0 and repeat.to_json_dict() == clean


def test_scores_of_every_row_come_from_the_stored_curve_sums_and_equal_the_streamed_ones(workspace, toy):
    """A store's footer holds each curve's sum over every row (written only when every value is in range): the
    dataset score of a whole store reads no curve, and equals the score streamed from the curves."""
    dataset, _ = toy
    stored = evaluation.evaluate(workspace, dataset, workers=1)
    path = workspace.results_dir("toy") / "good.parquet"
    assert results_store.curve_total(pq.ParquetFile(path), 4) is not None
    streamed = {}
    for method, result in stored.methods.items():
        rows = np.arange(len(result.stems))
        in_memory = evaluation.MethodResult(method, result.stems, result.scalars, np.asarray(result.curves))
        streamed[method] = in_memory.grouped_scores([rows])[0]
        reads = []
        real_read = result.curves._read
        result.curves._read = lambda *a: reads.append(a) or real_read(*a)
        whole = result.grouped_scores([rows])[0]
        assert not reads  # no curve was read
        for name in DATASET_METRICS:
            assert whole[name] == pytest.approx(streamed[method][name], abs=1e-12), (method, name)
    table = pq.read_table(path)  # a footer without the sums (a file written before them): the curves are read
    metadata = {k: v for k, v in table.schema.metadata.items() if k != b"samis.curve_total"}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    again = evaluation.evaluate_trusting_generation(workspace, dataset)
    for name in DATASET_METRICS:
        assert again.scores["good"][name] == pytest.approx(streamed["good"][name], abs=1e-12), name
