"""Names are text, never markup: markdown and HTML planted in a link, a file name, a dataset, a method,
a class and an image name are shown as written on every page, and never render as a link, bold text or HTML.

Every element Streamlit renders as markdown is checked: outside inline code spans (where markdown shows
text exactly as written) none of the planted strings may appear.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from samis.datasets import register_dataset
from samis.store import import_predictions

from test_dashboard import APP, TIMEOUT

HOSTILE_STEM = "**b**_[x](javascript:y)<i>"
HOSTILE_CLASS = "_c_<u>u</u>"
HOSTILE_METHOD = "m_x_:y_"
HOSTILE_DATASET = "d_x_"
LINK_VALUES = {"dataset": "[Click here](http://evil.example)", "method_a": "**x**", "gap_method": "<script>s</script>",
               "image": "[y](http://evil.example)", "split": "<b>s</b>"}
PLANTED = [HOSTILE_STEM, "[x](javascript:y)", "**b**", "<i>", HOSTILE_CLASS, "<u>", HOSTILE_METHOD, HOSTILE_DATASET,
           *LINK_VALUES.values(), "http://evil.example"]
MARKDOWN_ELEMENTS = ("markdown", "caption", "info", "warning", "error", "success", "subheader", "title", "header",
                     "exception")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


@pytest.fixture
def hostile(workspace, make_folder_dataset):
    # the factory fixture, not `from conftest import …`: with tests/browser/conftest.py also on the path,
    # that import found the browser one when the whole suite was collected
    root, predictions = make_folder_dataset(n=6)
    # one image, its mask and its maps get a name full of markup; its class too
    for folder in (root / "images", root / "masks", predictions["good"], predictions["weak"]):
        (folder / "img_001.png").rename(folder / f"{HOSTILE_STEM}.png")
    classes = (root / "classes.csv").read_text().replace("img_001,patch", f"{HOSTILE_STEM},{HOSTILE_CLASS}")
    (root / "classes.csv").write_text(classes)
    dataset = register_dataset(workspace, HOSTILE_DATASET, root, "folder")
    import_predictions(workspace, dataset, HOSTILE_METHOD, predictions["good"])
    import_predictions(workspace, dataset, "weak", predictions["weak"])
    return workspace


def _markup_outside_code(at: AppTest) -> list[tuple[str, str]]:
    found = []
    for kind in MARKDOWN_ELEMENTS:
        for element in at.get(kind):
            text = CODE_SPAN.sub("", str(getattr(element, "value", "") or getattr(element, "message", "")))
            found += [(kind, planted) for planted in PLANTED if planted in text]
    return found


def _open(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    if page != "overview":
        at.query_params.update(query)
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


@pytest.mark.parametrize("page", ["overview", "run", "compare", "speed", "gallery", "cases", "good_parts"])
def test_planted_names_render_as_text_on_every_page(hostile, page):
    views = [
        {"dataset": HOSTILE_DATASET, "image": HOSTILE_STEM, "images_by": "chosen", "images": HOSTILE_STEM},
        {**LINK_VALUES},  # every link value is unusable: each page says so, as text
        {"dataset": HOSTILE_DATASET, **{k: v for k, v in LINK_VALUES.items() if k != "dataset"}},
    ]
    for query in views:
        at = _open(page, query)
        assert not at.exception, [e.message for e in at.exception]
        assert _markup_outside_code(at) == [], (page, query)


def test_the_planted_image_opens_on_cases_with_its_name_as_text(hostile):
    at = _open("cases", {"dataset": HOSTILE_DATASET, "image": HOSTILE_STEM})
    assert not at.exception
    assert any(HOSTILE_STEM in str(s.value) for s in at.subheader)  # the image is open, its name shown
    assert _markup_outside_code(at) == []


def test_a_bad_dataset_link_is_named_in_the_notice_as_text(hostile):
    at = _open("overview", {"dataset": LINK_VALUES["dataset"]})
    warnings = [str(w.value) for w in at.warning]
    assert any(f"`{LINK_VALUES['dataset']!r}`" in w or LINK_VALUES["dataset"] in w for w in warnings), warnings
    assert _markup_outside_code(at) == []


def test_exports_show_planted_names_as_text(hostile):
    from samis.tables import ComparisonQuery, comparison_rows

    found = comparison_rows(hostile, ComparisonQuery(HOSTILE_DATASET, measured=True))
    table = found.table(dataset=HOSTILE_DATASET, title=f"{HOSTILE_DATASET} <b>t</b>")
    markdown = table.to_markdown()
    assert HOSTILE_METHOD not in markdown and "m\\_x\\_:y\\_" in markdown  # no emphasis can start
    assert "<b>" not in markdown
    latex = table.to_latex()
    assert HOSTILE_METHOD not in latex and "m\\_x\\_:y\\_" in latex
    assert HOSTILE_METHOD in table.to_csv()  # CSV is data: names exactly as they are
