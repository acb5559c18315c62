"""Case review on the dashboard: tags and notes on Cases and on an opened image, filters by tag, author and
notes, review sets saved from the current filter and opened by link (``/cases?…&review_set=NAME``).

The store (:class:`samis.review.ReviewStore`) is read on every rerun, uncached, so colleagues tagging at
once see each other's tags on their next rerun. Every tag, note, author and set name is shown as text
(``st.text``, table cells, code spans), never as markdown or HTML. The author is the sidebar's name field
(starting from ``$SAMIS_USER`` or the OS user); no URL parameter sets it. A read-only server shows tags and
notes but takes none, unless the operator allows it (:func:`samis.dashboard.access.review_on_read_only`).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from samis.dashboard import state, ui
from samis.dashboard.access import review_on_read_only
from samis.errors import SamisError
from samis.html_report import HtmlSection, frame_table
from samis.review import DEFAULT_TAGS, Note, ReviewSet, ReviewStore, Tag, check_author, default_author

AUTHOR_KEY = "review_author"
_MOVED = "_review_moved_aside"
ANYONE = "anyone"
NO_SET = "(no review set)"


@dataclass
class Review:
    """One rerun's view of the review store for a dataset."""

    store: ReviewStore
    dataset: str
    writable: bool
    tags: list[Tag] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    sets: list[ReviewSet] = field(default_factory=list)

    def tags_of(self, image: str) -> list[Tag]:
        return [t for t in self.tags if t.image == image]

    def notes_of(self, image: str) -> list[Note]:
        return [n for n in self.notes if n.image == image]

    def vocabulary(self) -> list[str]:
        return list(dict.fromkeys([*DEFAULT_TAGS, *sorted({t.tag for t in self.tags})]))


def open_review(root: str, dataset_id: str, read_only: bool) -> Review:
    """The review of ``dataset_id`` (said on the page when the store cannot be read: then it is empty and takes
    nothing). A damaged store was moved aside by the store; the page keeps saying where the earlier tags are."""
    writable = not read_only or review_on_read_only()
    store = ReviewStore(root, read_only=not writable)
    review = Review(store, dataset_id, writable)
    try:
        review.tags, review.notes, review.sets = store.tags(dataset_id), store.notes(dataset_id), store.sets(dataset_id)
    except SamisError as error:
        ui.error(error)
        review.writable = False
    if store.moved_aside is not None:
        st.session_state[_MOVED] = str(store.moved_aside)
    if st.session_state.get(_MOVED):
        st.warning("The review store was damaged and has been moved aside; the tags and notes from before are in "
                   f"{ui.literal(st.session_state[_MOVED])}. A new store was started.")
    return review


def author(review: Review) -> str | None:
    """The name typed in the sidebar (starting from ``$SAMIS_USER`` or the OS user); None when reviews are not taken."""
    if not review.writable:
        return None
    st.session_state.setdefault(AUTHOR_KEY, default_author())
    typed = st.sidebar.text_input("Your name (tags and notes)", key=AUTHOR_KEY,
                                  help="written with every tag and note; starts from $SAMIS_USER or your login")
    try:
        return check_author(typed)
    except SamisError as error:
        st.sidebar.error(str(error))
        return None


# ---- filters -------------------------------------------------------------------------------------------
def review_filters(review: Review) -> tuple[set[str] | None, str]:
    """Filter controls (tags, tagged by, has notes, review set), bound to the URL.

    Returns:
        (the image ids the filters keep, or None when no filter is set; the filters in words)
    """
    columns = st.columns([2, 1, 1, 2])
    tags = state.bind(columns[0].multiselect, "Tagged", key="review_tags", url="tags", default=[],
                      options=review.vocabulary(), placeholder="any tag or none")
    authors = sorted({t.author for t in review.tags} | {n.author for n in review.notes})
    by = state.bind(columns[1].selectbox, "Tagged by", key="review_by", url="tagged_by", default=ANYONE,
                    options=[ANYONE, *authors])
    has_notes = state.bind(columns[2].toggle, "has notes", key="review_has_notes", url=state.flag("has_notes"),
                           default=False)
    names = [s.name for s in review.sets]
    chosen_set = state.bind(columns[3].selectbox, "Review set", key="review_set", default=NO_SET,
                            options=[NO_SET, *names], url=state.UrlParam("review_set", rejected=lambda t: ui.notice(
                                f"The link names review set {ui.literal(repr(t))}, which {ui.literal(review.dataset)} "
                                "does not have.")))
    keep: set[str] | None = None
    words = []
    if tags:
        keep = {t.image for t in review.tags if t.tag in tags}
        words.append("tagged " + " or ".join(repr(t) for t in tags))
    if by != ANYONE:
        mine = {t.image for t in review.tags if t.author == by} | {n.image for n in review.notes if n.author == by}
        keep = mine if keep is None else keep & mine
        words.append(f"reviewed by {by}")
    if has_notes:
        noted = {n.image for n in review.notes}
        keep = noted if keep is None else keep & noted
        words.append("with notes")
    if chosen_set != NO_SET:
        members = set(next(s for s in review.sets if s.name == chosen_set).images)
        keep = members if keep is None else keep & members
        words.append(f"in review set {chosen_set!r}")
    return keep, ", ".join(words)


def keep_rows(frame: pd.DataFrame, keep: set[str] | None) -> pd.DataFrame:
    """The rows of an image-indexed frame whose image the review filters keep."""
    return frame if keep is None else frame[frame.index.isin(keep)]


def with_tags(frame: pd.DataFrame, review: Review) -> pd.DataFrame:
    """The frame with a ``tags`` text column: each image's tags (``tag (method)`` for an image × method tag)."""
    labels: dict[str, list[str]] = {}
    for tag in review.tags:
        labels.setdefault(tag.image, []).append(tag.tag + (f" ({tag.method})" if tag.method else ""))
    out = frame.copy()
    out.insert(0, "tags", [", ".join(dict.fromkeys(labels.get(image, []))) for image in frame.index])
    return out


def save_set(review: Review, who: str | None, image_ids: list[str], filter_text: str, link: dict) -> None:
    """A form that freezes the images shown as a named review set, then shows the link that opens it."""
    if who is None:
        return
    with st.expander(f"Save these {len(image_ids)} images as a review set"):
        with st.form("review_save_set", clear_on_submit=False):
            name = st.text_input("Name", max_chars=80, key="review_set_name", help="letters, digits, spaces and . _ + - = : (no '/', no '..')")
            description = st.text_area("Description", max_chars=2000, key="review_set_description")
            if not st.form_submit_button("Save review set"):
                return
        try:
            made = review.store.create_set(review.dataset, name, image_ids, description=description,
                                           filter_text=filter_text, author=who)
        except SamisError as error:
            ui.error(error)
            return
        st.success(f"Saved review set {ui.literal(made.name)} ({len(made.images)} images). It opens with:")
        st.code(f"/cases?{_query({**link, 'review_set': made.name})}", language=None)


def _query(params: dict) -> str:
    return urlencode({k: v for k, v in params.items() if v}, safe=",:")


# ---- one image ----------------------------------------------------------------------------------------------
def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def show_image_review(review: Review, image_id: str) -> None:
    """Everyone's tags and notes on one image, with author and time, all as text."""
    tags, notes = review.tags_of(image_id), review.notes_of(image_id)
    if tags:
        st.dataframe(pd.DataFrame([{"tag": t.tag, "method": t.method or "(the image)", "author": t.author,
                                    "time": _when(t.created)} for t in tags]), hide_index=True, key="review_tag_table")
    else:
        st.caption("No tags on this image yet.")
    for note in notes:
        st.caption(f"{ui.literal(note.author)} · {_when(note.created)}" + (f" · on {ui.literal(note.method)}"
                                                                             if note.method else ""))
        st.text(note.text)


def review_form(review: Review, who: str | None, image_id: str, methods: tuple[str, ...]) -> None:
    """Add tags and a note to an image (or an image × method), or remove a tag; the store keeps who and when."""
    if who is None:
        st.caption("This server is read-only: tags and notes are shown here but not taken."
                   if not review.writable else "Type your name in the sidebar to tag and write notes.")
        return
    with st.form(f"review_form_{image_id}", clear_on_submit=True):
        left, right = st.columns([2, 1])
        chosen = left.multiselect("Add tags", review.vocabulary(), key=f"review_add_{image_id}")
        free = left.text_input("or a new tag", max_chars=100, key=f"review_free_{image_id}")
        target = right.selectbox("On", ["(the image)", *methods], key=f"review_on_{image_id}")
        note = st.text_area("Note (append-only: an edit is a new note)", max_chars=10_000, key=f"review_note_{image_id}")
        submitted = st.form_submit_button("Save")
    if submitted:
        method = "" if target == "(the image)" else target
        try:
            for tag in [*chosen, *([free] if free.strip() else [])]:
                review.store.add_tag(review.dataset, image_id, tag, method=method, author=who)
            if note.strip():
                review.store.add_note(review.dataset, image_id, note, method=method, author=who)
        except SamisError as error:
            ui.error(error)
            return
        st.rerun()
    _remove_form(review, who, image_id)


def _remove_form(review: Review, who: str, image_id: str) -> None:
    tags = review.tags_of(image_id)
    if not tags:
        return
    labels = {f"{t.tag} — {t.method or 'the image'} (by {t.author})": t for t in tags}
    left, right = st.columns([3, 1])
    picked = left.selectbox("Remove a tag (the audit keeps who and when)", list(labels), key=f"review_rm_{image_id}")
    if right.button("Remove", key=f"review_rm_button_{image_id}"):
        tag = labels[picked]
        try:
            review.store.remove_tag(review.dataset, image_id, tag.tag, method=tag.method, author=who)
        except SamisError as error:
            ui.error(error)
            return
        st.rerun()


# ---- the HTML report ---------------------------------------------------------------------------------------
def report_sections(review: Review, image_ids: list[str]) -> list[HtmlSection]:
    """The tags and notes of the images shown, for the Cases HTML report (escaped text, as every cell there)."""
    shown = set(image_ids)
    rows = [{"image": t.image, "kind": "tag", "method": t.method, "text": t.tag, "author": t.author,
             "time": _when(t.created)} for t in review.tags if t.image in shown]
    rows += [{"image": n.image, "kind": "note", "method": n.method, "text": n.text, "author": n.author,
              "time": _when(n.created)} for n in review.notes if n.image in shown]
    if not rows:
        return []
    frame = pd.DataFrame(rows).set_index("image")
    return [HtmlSection("Tags and notes", frame_table(frame, index_name="image"))]


# ---- gallery ------------------------------------------------------------------------------------------------
GALLERY_SET_LIMIT = 48


def gallery_set(root: str, dataset_id: str, split_ids: list[str], picked: list[str]) -> list[str]:
    """Gallery's review-set choice (bound to ``review_set`` in the URL): the set's images of the split, in the set's
    order (at most :data:`GALLERY_SET_LIMIT`), or ``picked`` when no set is chosen or the store cannot be read."""
    try:
        sets = ReviewStore(root, read_only=True).sets(dataset_id)
    except SamisError as error:
        ui.error(error)
        return picked
    if not sets:
        return picked
    names = [s.name for s in sets]
    chosen = state.bind(st.selectbox, "Review set", key="gal_review_set", default=NO_SET,
                        options=[NO_SET, *names], url=state.UrlParam("review_set", rejected=lambda t: ui.notice(
                            f"The link names review set {ui.literal(repr(t))}, which {ui.literal(dataset_id)} does "
                            "not have.")))
    if chosen == NO_SET:
        return picked
    found = next(s for s in sets if s.name == chosen)
    inside = set(split_ids)
    images = [i for i in found.images if i in inside]
    left = len(found.images) - len(images)
    st.caption(f"Review set {ui.literal(found.name)} by {ui.literal(found.author)}: {len(found.images)} images"
               + (f", {left} not in this split" if left else "")
               + (f"; showing the first {GALLERY_SET_LIMIT}" if len(images) > GALLERY_SET_LIMIT else "")
               + " · the Images choice above waits while a set is shown")
    if found.description:
        st.text(found.description)
    return images[:GALLERY_SET_LIMIT]
