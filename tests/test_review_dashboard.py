"""Case review on the dashboard (issue 27), through Streamlit's AppTest: tags and notes on Cases (shown as text),
filters by tag / author / notes, review sets saved and opened by link, Gallery showing a set, read-only rules,
the author never taken from a URL, a damaged store moved aside and said so."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from samis.datasets import register_dataset
from samis.review import ReviewStore
from samis.store import import_predictions

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
MARKUP = "**bold?** <b>html?</b> [link](http://example.org)"


@pytest.fixture
def reviewed(workspace, make_folder_dataset, monkeypatch):
    monkeypatch.setenv("SAMIS_USER", "ann")
    monkeypatch.delenv("SAMIS_READ_ONLY", raising=False)
    monkeypatch.delenv("SAMIS_REVIEW_ON_READ_ONLY", raising=False)
    root, predictions = make_folder_dataset(n=8)
    dataset = register_dataset(workspace, "toy", root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    store = ReviewStore(workspace.root)
    store.add_tag("toy", "img_003", "gt error", author="bob")
    store.add_tag("toy", "img_005", "boundary", method="weak", author="cy")
    store.add_note("toy", "img_003", MARKUP, author="bob")
    return workspace, store


def open_page(page: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    if query:
        at.query_params.update(query)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _table(at):
    return next(d.value for d in at.dataframe if "tags" in getattr(d.value, "columns", []))


def test_cases_show_tags_and_notes_as_text_and_filter(reviewed):
    at = open_page("cases", {"image": "img_003"})
    frame = _table(at)
    assert frame.set_index("image").at["img_003", "tags"] == "gt error"
    assert frame.set_index("image").at["img_005", "tags"] == "boundary (weak)"
    assert MARKUP in [t.value for t in at.text]  # st.text: shown as written, never rendered
    assert all(MARKUP not in m.value for m in at.markdown)
    at = open_page("cases", {"tags": "gt error"})
    assert list(_table(at)["image"]) == ["img_003"]
    at = open_page("cases", {"tagged_by": "cy"})
    assert list(_table(at)["image"]) == ["img_005"]
    at = open_page("cases", {"has_notes": "1"})
    assert list(_table(at)["image"]) == ["img_003"]


def test_tag_note_and_review_set_from_the_page(reviewed):
    workspace, store = reviewed
    at = open_page("cases", {"image": "img_004", "author": "mallory"})
    assert at.sidebar.text_input(key="review_author").value == "ann"  # never from the URL
    at.multiselect(key="review_add_img_004").set_value(["tiny defect"])
    at.text_area(key="review_note_img_004").input("<script>x</script> needs a look")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert [(t.tag, t.author) for t in store.tags("toy", image="img_004")] == [("tiny defect", "ann")]
    assert store.notes("toy", image="img_004")[0].text == "<script>x</script> needs a look"
    at = open_page("cases", {"tags": "gt error,tiny defect"})
    at.text_input(key="review_set_name").input("to redraw")
    at.text_area(key="review_set_description").input("ground truth to fix")
    next(b for b in at.button if b.label == "Save review set").click().run()
    assert not at.exception
    assert store.review_set("toy", "to redraw").images == ("img_003", "img_004")
    assert any("review_set=to+redraw" in c.value for c in at.code)
    at = open_page("cases", {"review_set": "to redraw"})
    assert list(_table(at)["image"]) == ["img_003", "img_004"]
    at = open_page("gallery", {"review_set": "to redraw"})
    assert any("2 images" in c.value for c in at.caption) and "ground truth to fix" in [t.value for t in at.text]
    at = open_page("cases", {"review_set": "../nope"})
    assert any("nope" in str(i.value) for i in [*at.info, *at.warning, *at.markdown])


def test_bad_set_name_is_one_error_and_saves_nothing(reviewed):
    workspace, store = reviewed
    at = open_page("cases")
    at.text_input(key="review_set_name").input("a/b")
    next(b for b in at.button if b.label == "Save review set").click().run()
    assert any("not allowed" in e.value for e in at.error) and store.sets("toy") == []


def test_read_only_server_shows_but_takes_nothing(reviewed, monkeypatch):
    monkeypatch.setenv("SAMIS_READ_ONLY", "1")
    at = open_page("cases", {"image": "img_003"})
    assert MARKUP in [t.value for t in at.text]
    assert not [b for b in at.button if b.label in ("Save", "Save review set")]
    assert any("read-only" in c.value for c in at.caption)
    monkeypatch.setenv("SAMIS_REVIEW_ON_READ_ONLY", "1")
    at = open_page("cases", {"image": "img_003"})
    assert [b for b in at.button if b.label == "Save"]


def test_damaged_store_is_moved_aside_and_the_page_says_where(reviewed):
    workspace, _ = reviewed
    (workspace.root / "review.sqlite").write_bytes(b"garbage" * 500)
    for side in ("review.sqlite-wal", "review.sqlite-shm"):
        (workspace.root / side).unlink(missing_ok=True)
    at = open_page("cases")
    assert any("moved aside" in w.value and "review.sqlite.damaged-" in w.value for w in at.warning)
    assert list(workspace.root.glob("review.sqlite.damaged-*"))


def test_cases_html_report_carries_tags_and_notes_as_text(reviewed):
    from samis.dashboard.review import Review, report_sections
    from samis.html_report import Provenance, cases_section, html_document

    _, store = reviewed
    review = Review(store, "toy", True, store.tags("toy"), store.notes("toy"), [])
    (section,) = report_sections(review, ["img_003", "img_005"])
    assert "&lt;b&gt;html?&lt;/b&gt;" in section.body and "<b>html?" not in section.body
    assert "gt error" in section.body and "boundary" in section.body and "bob" in section.body
    assert report_sections(review, ["img_000"]) == []
    page = html_document("Cases", [section], Provenance("toy", "all", "/cases?dataset=toy", view="Cases"))
    assert "[link](http://example.org)" in page and 'href="http://example.org"' not in page
