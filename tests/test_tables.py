"""Comparison tables: best marks and ties, missing cells, both gap definitions, exports, bad input, CLI."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from samis.cli import main
from samis.errors import ReportError
from samis.methods import describe
from samis.tables import (
    TableRow, build_table, gap_percent, latex_escape, measured_rows, read_rows_csv, resolve_metrics,
    round_half_up,
)


def _rows():
    return [
        TableRow("A", {"Sa": 0.900, "MAE": 0.020, "Em": 0.950, "Fw": 0.800, "Fm": 0.850}, source="paper"),
        TableRow("B", {"Sa": 0.900, "MAE": 0.030, "Em": 0.940, "Fw": None, "Fm": 0.860}, source="paper"),
        TableRow("SAM", {"Sa": 0.720, "MAE": 0.080, "Em": 0.800, "Fw": 0.600, "Fm": 0.688}, source="paper"),
    ]


def test_larger_definition_divides_by_the_larger_value():
    table = build_table(_rows(), gap_definition="larger")
    # Sa: |0.72-0.9|/0.9 = 20%; MAE: |0.08-0.02|/0.08 = 75%; Em: 0.15/0.95 = 15.79%;
    # Fw: 0.2/0.8 = 25% (B is missing); Fm: 0.172/0.86 = 20%
    assert table.gap.percent == {"Sa": 20, "MAE": 75, "Em": 16, "Fw": 25, "Fm": 20}
    assert table.gap.exact["Em"] == pytest.approx(15 / 0.95)
    assert table.gap.against == {"Sa": ["A", "B"], "MAE": ["A"], "Em": ["A"], "Fw": ["A"], "Fm": ["B"]}


def test_reference_definition_divides_by_the_gap_method():
    table = build_table(_rows(), gap_definition="reference")
    # Sa: 0.18/0.72 = 25%; MAE: 0.06/0.08 = 75%; Em: 0.15/0.8 = 18.75%; Fw: 0.2/0.6 = 33.3%; Fm: 0.172/0.688 = 25%
    assert table.gap.percent == {"Sa": 25, "MAE": 75, "Em": 19, "Fw": 33, "Fm": 25}
    assert table.gap.definition == "reference"


def test_percentages_round_half_up_in_exact_decimals():
    assert round_half_up(Decimal("12.5")) == 13 and round_half_up(Decimal("13.5")) == 14
    assert round_half_up(Decimal("24.499")) == 24
    # 0.875 vs 1.0: exactly 12.5 % in decimals (binary floats would give 12.499999…)
    assert gap_percent(0.875, 1.0, "Sa", "larger") == Decimal("12.5")
    rows = [TableRow("X", {"Sa": 1.0}), TableRow("SAM", {"Sa": 0.875})]
    assert build_table(rows, ["Sa"]).gap.percent == {"Sa": 13}


def test_gap_is_negative_when_the_gap_method_leads():
    rows = [TableRow("X", {"Sa": 0.5, "MAE": 0.2}), TableRow("SAM", {"Sa": 0.6, "MAE": 0.1})]
    table = build_table(rows, ["Sa", "MAE"], gap_definition="larger")
    assert table.gap.percent == {"Sa": -17, "MAE": -50}


def test_ties_are_all_marked_including_ties_at_shown_precision():
    rows = _rows() + [TableRow("C", {"Sa": 0.8996, "MAE": 0.0204, "Em": 0.1, "Fw": 0.1, "Fm": 0.1}, source="paper")]
    table = build_table(rows)
    assert list(table.best_mask.index[table.best_mask["Sa"]]) == ["A", "B", "C"]  # 0.8996 shows as 0.900
    assert list(table.best_mask.index[table.best_mask["MAE"]]) == ["A", "C"]  # 0.0204 shows as 0.020
    assert list(table.best_mask.index[table.best_mask["Fm"]]) == ["B"]
    assert not table.best_mask.loc["SAM"].any()


def test_missing_cells_are_shown_as_dash_and_skipped():
    rows = _rows()
    rows[2].values["Fw"] = None
    table = build_table(rows)
    assert table.cell("B", "Fw") == "–" and table.cell("SAM", "Fw") == "–"
    assert table.gap.percent["Fw"] is None and table.gap.against["Fw"] == []
    assert list(table.best_mask.index[table.best_mask["Fw"]]) == ["A"]
    document = table.to_json_document()
    assert document["rows"][1]["Fw"] is None and document["gap"]["Fw"] is None
    assert "| – |" in table.to_markdown()


def test_latex_has_booktabs_bold_best_balanced_braces_one_row_per_method():
    rows = _rows() + [TableRow("sam-vit_h+oracle", {"Sa": 0.7, "MAE": 0.09, "Em": 0.8, "Fw": 0.5, "Fm": 0.6},
                               upper_bound=True)]
    table = build_table(rows)
    latex = table.to_latex()
    assert latex.count("{") == latex.count("}")
    depth = 0
    for ch in latex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    lines = latex.splitlines()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in lines
    body = lines[lines.index(r"\midrule") + 1:]
    # one line per method; a rule between the paper's block and the measured block
    method_lines = [line for line in body if " & " in line and not line.startswith(r"\multicolumn")]
    assert len(method_lines) == len(rows)
    assert all(line.endswith(r"\\") and line.count("&") == 6 for line in method_lines)
    assert latex.count(r"\textbf{") == int(table.best_mask.values.sum())
    assert r"sam-vit\_h+oracle$^\dagger$" in latex
    # the paper's block closes with its own gap row; the measured block (one upper bound) has none
    gap_lines = [line for line in lines if line.startswith(r"\multicolumn{2}{l}{gap:")]
    assert len(gap_lines) == 1 and gap_lines[0].startswith(r"\multicolumn{2}{l}{gap: SAM")
    assert r"Sa $\uparrow$" in latex and r"MAE $\downarrow$" in latex
    assert "20\\%" in latex


def test_latex_escape():
    assert latex_escape("a_b&c%d#e{f}") == r"a\_b\&c\%d\#e\{f\}"
    assert latex_escape("x $^\\dagger$ y_z", keep_math=True) == "x $^\\dagger$ y\\_z"


def test_markdown_and_csv_exports():
    table = build_table(_rows())
    markdown = table.to_markdown().splitlines()
    assert markdown[0] == "| Method | Source | Sa ↑ | MAE ↓ | Em@max ↑ | Fw ↑ | Fm@max ↑ |"
    assert markdown[2] == "| A | paper | **0.900** | **0.020** | **0.950** | **0.800** | 0.850 |"
    assert markdown[5].startswith("| *gap: SAM vs best other, % (larger)* | | 20% | 75% |")
    records = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert [r["method"] for r in records] == ["A", "B", "SAM", "gap:SAM"]
    assert records[0]["best"] == "Sa;MAE;Em;Fw" and records[1]["Fw"] == ""
    assert records[3]["Sa"] == "20" and records[3]["source"] == "gap-larger"
    text = table.to_text()
    assert "0.900*" in text and "gap: SAM vs best" in text


def test_measured_rows_map_em_fm_and_label_upper_bounds():
    scores = {
        "ft": {"n_images": 9, "Sa": 0.5, "MAE": 0.2, "maxEm": 0.7, "meanEm": 0.6, "Fw": 0.3, "maxFm": 0.4},
        "sam-vit_h+oracle": {"n_images": 9, "Sa": 0.8, "MAE": 0.05, "maxEm": 0.9, "Fw": 0.7, "maxFm": 0.75},
        "sam-vit_h+contrast": {"n_images": 9, "Sa": 0.6, "MAE": 0.1, "maxEm": 0.8, "Fw": 0.5, "maxFm": 0.55},
    }
    rows = measured_rows(scores, "sd900", "test", samis_version="9.9", evaluated_at="2024-01-01T00:00:00")
    ft, oracle, contrast = rows
    assert ft.values["Em"] == 0.7 and ft.values["Fm"] == 0.4 and ft.values["meanEm"] == 0.6
    assert ft.values["adpFm"] is None
    assert ft.details == {"dataset": "sd900", "split": "test", "samis_version": "9.9",
                          "time": "2024-01-01T00:00:00", "n_images": 9}
    assert oracle.upper_bound and "upper bound" in oracle.note
    assert not contrast.upper_bound and not ft.upper_bound
    for name in ("sam-vit_b+best-single", "sam-tiny-random+inside-gt", "sam-vit_l+box", "sam-vit_h+point"):
        assert describe(name).upper_bound
    assert not describe("sam-vit_h+small-union").upper_bound and not describe("oracle").upper_bound


def test_bad_input_is_one_clear_error():
    with pytest.raises(ReportError, match="at least two methods; got 1"):
        build_table(_rows()[:1])
    with pytest.raises(ReportError, match="unknown metric 'Foo'"):
        build_table(_rows(), ["Sa", "Foo"])
    with pytest.raises(ReportError, match="gap method 'ICON' is not in the table"):
        build_table(_rows(), gap_method="ICON", require_gap=True)
    with pytest.raises(ReportError, match="unknown gap definition"):
        build_table(_rows(), gap_definition="mean")
    assert build_table(_rows(), gap_method="ICON").gap is None  # default SAM absent: no gap row, a note
    assert resolve_metrics(["maxEm", "Fm", "maxFm"]) == ("Em", "Fm")


def test_rows_csv(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("# my runs\nmethod,Sa,MAE,maxEm\nmine,0.8,0.03,0.9\nother,0.7,–,0.85\n", encoding="utf-8")
    rows = read_rows_csv(path)
    assert rows[0].values == {"Sa": 0.8, "MAE": 0.03, "Em": 0.9} and rows[1].values["MAE"] is None
    assert rows[0].source == "file"
    path.write_text("method,Sa,Bogus\nmine,0.8,1\n", encoding="utf-8")
    with pytest.raises(ReportError, match="column 'Bogus' is not a known metric"):
        read_rows_csv(path)
    path.write_text("method,Sa,MAE\nmine,0.8\n", encoding="utf-8")
    with pytest.raises(ReportError, match=r"rows.csv:2: row has 2 columns, the header has 3"):
        read_rows_csv(path)


@pytest.mark.parametrize("argv, message", [
    (["report", "sd900", "--paper", "--metrics", "Sa,Nope"], "unknown metric 'Nope'"),
    (["report", "sd900", "--paper", "--gap-method", "sam-vit_h+oracle"], "gap method 'sam-vit_h+oracle' is not in"),
    (["report", "sd900", "--paper", "--methods", "ICON"], "at least two methods"),
    (["report", "sd900", "--paper", "--methods", "ICON,NoSuchNet"], "method 'NoSuchNet' is not in Table 3"),
    (["report", "kolektor", "--paper"], "the paper has no table for 'kolektor'"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_cli_measured_on_unregistered_dataset_exits_2(workspace, make_folder_dataset, capsys):
    from samis.datasets import register_dataset

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root)
    assert main(["report", "sd900", "--measured"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dataset 'sd900' is not registered") and err.count("\n") == 1


def test_cli_bad_rows_csv_exits_2(tmp_path, capsys):
    path = tmp_path / "rows.csv"
    path.write_text("method,Sa,MAE\nmine,0.8,0.1,7\n", encoding="utf-8")
    assert main(["report", "sd900", "--paper", "--rows", str(path)]) == 2
    assert "rows.csv:2: row has 4 columns, the header has 3" in capsys.readouterr().err


def test_cli_formats_and_other_definition(capsys):
    assert main(["report", "sd900", "--paper", "--gap-definition", "reference", "--format", "json"]) == 0
    gap = json.loads(capsys.readouterr().out)["gap"]
    assert gap["definition"] == "reference" and [gap[m] for m in ("Sa", "MAE", "Em", "Fw", "Fm")] == [32, 87, 33, 43, 40]
    assert main(["report", "mt", "--paper", "--methods", "ICON,EDRNet,SAM", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert latex.count("{") == latex.count("}") and "SAM$^\\dagger$ & paper" in latex
    assert main(["report", "nrsd-mn", "--paper", "--format", "markdown"]) == 0
    assert "| ICON | paper | **0.874** | **0.023** | **0.944** | **0.820** | **0.854** |" in capsys.readouterr().out


def test_report_measured_and_paper_together(workspace, make_folder_dataset, capsys):
    from samis.datasets import register_dataset
    from samis.evaluation import evaluate
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=6)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    expected = evaluate(workspace, dataset, split="all").scores

    assert main(["report", "toy", "--measured", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {r["method"]: r for r in document["rows"]}
    assert set(rows) == {"good", "weak"}
    for method, row in rows.items():
        assert row["source"] == "measured" and row["split"] == "all" and row["dataset"] == "toy"
        assert row["samis_version"] and row["time"] and row["n_images"] == 6
        assert row["Sa"] == pytest.approx(expected[method]["Sa"]) and row["Em"] == pytest.approx(expected[method]["maxEm"])
        assert row["Fm"] == pytest.approx(expected[method]["maxFm"])
    assert document["gap"] is None and any("no gap row" in n for n in document["notes"])

    assert main(["report", "toy", "--measured", "--gap-method", "weak", "--format", "json"]) == 0
    gap = json.loads(capsys.readouterr().out)["gap"]
    assert gap["method"] == "weak" and gap["against"]["Sa"] == ["good"] and gap["Sa"] > 0

    # a registered folder dataset has no paper table; sd900 rows can be added from the paper with --rows
    assert main(["report", "toy", "--paper"]) == 2
    capsys.readouterr()


def test_paper_and_measured_rows_in_one_table(workspace, make_folder_dataset, capsys):
    from samis.datasets import register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=5)
    dataset = register_dataset(workspace, "sd900", root, layout="folder")  # stands in for SD-saliency-900
    import_predictions(workspace, dataset, "good", preds["good"])
    assert main(["report", "sd900", "--paper", "--measured", "--methods", "ICON,SAM,good", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["source"]) for r in document["rows"]] == [("ICON", "paper"), ("SAM", "paper"),
                                                                      ("good", "measured")]
    assert document["gap"]["method"] == "SAM" and document["gap"]["definition"] == "larger"
    assert any("different splits" in n for n in document["notes"])
    # without flags: every source that exists
    assert main(["report", "sd900", "--format", "csv"]) == 0
    sources = [r["source"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    # each source is its own block: the paper's gap row (its own SAM row) closes the paper's block
    assert sources.count("paper") == 14 and sources.count("measured") == 1 and sources[14] == "gap-larger"


# ---- issue 20: sources are never ranked together ---------------------------------------------------
def test_each_source_is_its_own_block_with_its_own_best_marks_and_gap_row():
    """The paper's best Sa (0.900) is below a measured row's (0.950): both blocks still mark their own best;
    one ranking pass drawn as two blocks would mark only the measured row."""
    measured = [TableRow("ft", {"Sa": 0.950, "MAE": 0.010, "Em": 0.5, "Fw": 0.5, "Fm": 0.5}),
                TableRow("sam-vit_h+small-union", {"Sa": 0.500, "MAE": 0.050, "Em": 0.4, "Fw": 0.4, "Fm": 0.4})]
    table = build_table(_rows() + measured, gap_method="sam-vit_h+small-union")
    assert [s for s, _ in table.blocks()] == ["paper", "measured"]
    assert list(table.best_mask.index[table.best_mask["Sa"]]) == ["A", "B", "ft"]
    assert bool(table.best_mask.at["A", "MAE"]) and bool(table.best_mask.at["ft", "MAE"])
    # the paper's gap row uses its own SAM row against the paper's rows only: 20 % as printed-style arithmetic
    assert table.block_gap("paper").method == "SAM" and table.block_gap("paper").percent["Sa"] == 20
    assert table.block_gap("measured").against["Sa"] == ["ft"]
    assert table.gap.method == "sam-vit_h+small-union"
    text = table.to_text()
    assert text.count("gap: ") == 2
    # the HTML export draws both blocks' gap rows too, each after its block, in the order of the other exports
    from samis.html_report import comparison_section

    markup = comparison_section(table).body
    assert markup.count('<tr class="gap">') == 2
    assert markup.index("B</td>") < markup.index('<tr class="gap">') < markup.index("ft</td>")


def test_random_weights_reference_and_upper_bounds_never_take_a_best_mark():
    rows = [TableRow("ft", {"Sa": 0.6}), TableRow("sam-tiny-random+small-union", {"Sa": 0.9}),
            TableRow("ref:zeros", {"Sa": 0.95}, reference=True), TableRow("sam-vit_h+oracle", {"Sa": 0.99}, upper_bound=True)]
    table = build_table(rows, ["Sa"], gap_method=None)
    assert list(table.best_mask.index[table.best_mask["Sa"]]) == ["ft"]
    assert "random weights" in table.to_text() and "(reference)" in table.to_markdown()
    # the switch lets upper bounds take part
    table.rank(upper_bounds_compete=True)
    assert list(table.best_mask.index[table.best_mask["Sa"]]) == ["sam-vit_h+oracle"]


def test_reference_rows_equal_plain_pysodmetrics(make_folder_dataset, workspace):
    import numpy as np
    import py_sod_metrics as sod

    from samis.datasets import load_dataset, register_dataset
    from samis.tables.references import reference_rows

    root, _ = make_folder_dataset(n=4)
    register_dataset(workspace, "toy", root, "folder")
    samples = load_dataset(workspace, "toy").samples
    rows = {r.method: r for r in reference_rows(workspace, "toy", samples, "all")}
    assert set(rows) == {"ref:zeros", "ref:const128"} and all(r.reference for r in rows.values())
    for method, level in (("ref:zeros", 0), ("ref:const128", 128)):
        sm, mae, fm = sod.Smeasure(), sod.MAE(), sod.Fmeasure()
        for sample in samples:
            gt = sample.read_gt().astype(np.uint8) * 255
            pred = np.full(gt.shape, level, np.uint8)
            sm.step(pred, gt), mae.step(pred, gt), fm.step(pred, gt)
        assert rows[method].values["Sa"] == pytest.approx(sm.get_results()["sm"], abs=1e-6)
        assert rows[method].values["MAE"] == pytest.approx(mae.get_results()["mae"], abs=1e-6)
        assert rows[method].values["Fm"] == pytest.approx(fm.get_results()["fm"]["curve"].max(), abs=1e-6)
