"""Speed measurements are results (issue 20, item 8): saved in the workspace with device and date, listed after
a restart and on a read-only server, written by the CLI too; a damaged record is named, the page stays whole."""

from __future__ import annotations

import json

from samis.cli import main
from samis.speed import SpeedRow, SpeedTable
from samis.speed.records import read_speed_record, record_path, save_speed_record, speed_records
from tests.test_dashboard import assert_clean, open_page, study, texts  # noqa: F401  (study: the fixture)


def _table() -> SpeedTable:
    rows = [SpeedRow("otsu", "Otsu threshold", "measured", "cpu (test, 2 cores)", fps=812.5, ms_median=1.23,
                     ms_q1=1.2, ms_q3=1.3, runs=5, warmup=1, image_size="200x200"),
            SpeedRow("SAM", "SAM", "paper", "RTX 3080", fps=2.0)]
    return SpeedTable(rows, "one synthetic image", "batch 1", ["a note"])


def test_save_and_read_back(workspace):
    saved = save_speed_record(workspace, _table(), None)
    assert saved.path == record_path(workspace, None) and saved.path.name == "synthetic.json"
    assert [p.name for p in saved.path.parent.iterdir()] == ["synthetic.json"]  # no temporary file left
    back = read_speed_record(saved.path)
    assert [r.method for r in back.table.rows] == ["otsu"]  # paper rows are not saved
    assert back.device == "cpu (test, 2 cores)" and back.measured_at == saved.measured_at
    assert back.table.rows[0].fps == 812.5 and back.table.notes == ["a note"]


def test_cli_speed_writes_the_record(workspace, capsys):
    assert main(["--workspace", str(workspace.root), "speed", "--methods", "otsu", "--runs", "3", "--warmup", "1",
                 "--no-paper", "--format", "json"]) == 0
    records, problems = speed_records(workspace)
    assert not problems and list(records) == [None]
    assert [r.method for r in records[None].table.rows] == ["otsu"] and records[None].device
    assert "saved the measurement" in capsys.readouterr().err


def test_speed_page_lists_saved_measurements_after_a_restart_and_read_only(study, monkeypatch):
    save_speed_record(study, _table(), "toy")
    for read_only in ("", "1"):
        monkeypatch.setenv("SAMIS_READ_ONLY", read_only)
        at = open_page("speed")  # a new AppTest: nothing in the server's memory
        assert_clean(at)
        table = at.dataframe[0].value
        measured = table[table["source"].str.startswith("measured")]
        assert list(measured["method"]) == ["Otsu threshold"]
        # no null cell: paper rows have no median ms, a baseline no weights file
        assert not table.isna().any().any() and "None" not in table.astype(str).to_numpy()
        captions = [c.replace("\\", "") for c in texts(at.caption)]  # markdown escapes shown as the text reads
        assert any("Measured" in c and "cpu (test, 2 cores)" in c for c in captions)
        # otsu has no maps on toy here: the chart says why it is not on it
        assert any("Otsu threshold: no maps on toy" in c for c in captions)


def test_a_damaged_speed_record_is_named_and_the_page_stays_whole(study):
    path = record_path(study, "toy")
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    good = save_speed_record(study, _table(), None)
    bad_row = json.loads(good.path.read_text())
    bad_row["rows"][0]["fps"] = "fast"
    (path.parent / "other.json").write_text(json.dumps(bad_row))
    records, problems = speed_records(study)
    assert list(records) == [None] and len(problems) == 2
    assert any("toy.json" in p for p in problems) and any("other.json" in p and "fps" in p for p in problems)
    at = open_page("speed")
    assert_clean(at)
    warnings = [w.replace("\\", "") for w in texts(at.warning)]
    assert any("toy.json" in w for w in warnings) and any("other.json" in w for w in warnings)
    assert "SAM" in list(at.dataframe[0].value["method"])  # Table 7 still there
    assert at.get("plotly_chart")


def test_peak_memory_is_measured_saved_and_missing_in_old_records_shows_a_dash(workspace):
    """measure_fps records the peak memory of the runs; a record saved before it did reads back as not measured."""
    import numpy as np

    from samis.speed.timing import MEMORY_CPU, SpeedSubject, measure_fps

    import mmap

    size = 64 * 1024 * 1024

    def grows(image):  # 64 MiB of fresh pages touched per call, unmapped after (no allocator cache can reuse them)
        block = mmap.mmap(-1, size)
        for offset in range(0, size, mmap.PAGESIZE):
            block[offset] = 1
        block.close()

    row = measure_fps(SpeedSubject("grows", "grows", 0.0, None, grows, "cpu"), [np.zeros((4, 4, 3), np.uint8)],
                      warmup=1, runs=3)
    assert row.memory == MEMORY_CPU and 60 < row.peak_mb < 200, row.peak_mb  # 64 MiB = 67.1 MB
    saved = save_speed_record(workspace, SpeedTable([row], "one image", "batch 1"), None)
    assert read_speed_record(saved.path).table.rows[0].peak_mb == row.peak_mb
    document = json.loads(saved.path.read_text())
    for entry in document["rows"]:
        del entry["peak_mb"], entry["memory"]
    saved.path.write_text(json.dumps(document))
    old = read_speed_record(saved.path).table
    assert old.rows[0].peak_mb is None
    text = old.to_text()
    header, first = text.splitlines()[0], text.splitlines()[2]
    assert "peak MB" in header and first.split()[-3] == "–"  # not 0
    assert "peak MB –: not measured" in text
