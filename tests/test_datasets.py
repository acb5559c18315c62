"""Dataset loaders, layout detection, bad folders and frozen splits."""

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from samis.datasets import frozen_splits, get_split, load_dataset, open_dataset, register_dataset
from samis.errors import DatasetError, WorkspaceError


def test_sd900_real_counts_and_classes(sd900_dir):
    dataset = open_dataset(sd900_dir)
    assert dataset.layout == "sd900"
    assert len(dataset) == 900
    assert dataset.class_counts() == {"inclusion": 300, "patches": 300, "scratches": 300}
    sample = dataset.sample("In_1")
    assert sample.image_path.name == "In_1.bmp" and sample.gt_path.name == "In_1.png"


def test_mt_real_counts_default_and_with_defect_free(mt_dir):
    dataset = open_dataset(mt_dir, "mt")
    assert dataset.class_counts() == {"Blowhole": 115, "Break": 85, "Crack": 57, "Fray": 32, "Uneven": 103}
    with_free = open_dataset(mt_dir, "mt", options={"include_defect_free": True})
    assert with_free.class_counts()["Free"] == 952
    assert len(with_free) == 392 + 952
    free = next(s for s in with_free.samples if s.cls == "Free")
    assert not free.read_gt().any()  # defect-free images have empty ground truth


def test_sd900_split_is_540_360_stratified_and_frozen(workspace, sd900_dir):
    dataset = register_dataset(workspace, "sd900", sd900_dir)
    test = get_split(workspace, dataset, "test")
    train = get_split(workspace, dataset, "train")
    assert (len(train), len(test)) == (540, 360)
    assert Counter(s.cls for s in test) == {"inclusion": 120, "patches": 120, "scratches": 120}
    assert not {s.id for s in train} & {s.id for s in test}
    frozen = workspace.split_file("sd900").read_bytes()
    # a second load reads the frozen file and returns the same membership
    again = get_split(workspace, load_dataset(workspace, "sd900"), "test")
    assert [s.id for s in again] == [s.id for s in test]
    assert workspace.split_file("sd900").read_bytes() == frozen


def test_mt_splits_one_to_one_and_seven_to_three(workspace, mt_dir):
    dataset = register_dataset(workspace, "mt", mt_dir)
    sizes = {name: len(get_split(workspace, dataset, name)) for name in ("train", "test", "train-7:3", "test-7:3")}
    assert sizes == {"train": 196, "test": 196, "train-7:3": 274, "test-7:3": 118}
    test_classes = Counter(s.cls for s in get_split(workspace, dataset, "test"))
    # stratified: every class is split about in half
    for cls, count in dataset.class_counts().items():
        assert abs(test_classes[cls] - count / 2) <= 1


#: sha256 (first 16 hex digits) of the newline-joined ids of each real split, in id order: the
#: membership the paper comparison rests on; a change to the seed, the rule or the loader shows here
SPLIT_MEMBERSHIP = {
    "sd900": {"all": "3bd0c4b4933b655a", "train": "2a0fe26b0e69e031", "test": "5dd5695d884a8716"},
    "mt": {"all": "f85775ff6f731095", "train": "92a8a497901b84b4", "test": "52941570344d3baa",
           "train-7:3": "3659a4bebcd95311", "test-7:3": "53d39892ccec9ad0"},
}


@pytest.mark.parametrize("layout", ["sd900", "mt"])
def test_real_split_membership_is_pinned(workspace, request, layout):
    import hashlib

    root = request.getfixturevalue("sd900_dir" if layout == "sd900" else "mt_dir")
    dataset = register_dataset(workspace, layout, root)
    digests = {}
    for name, ids in frozen_splits(workspace, dataset).items():
        assert ids == sorted(ids)
        digests[name] = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    assert digests == SPLIT_MEMBERSHIP[layout]


def test_mt_with_defect_free_keeps_the_papers_splits_and_spreads_mt_free_alike(workspace, mt_dir):
    import hashlib

    dataset = register_dataset(workspace, "mtfree", mt_dir, options={"include_defect_free": True})
    splits = frozen_splits(workspace, dataset)
    free = {s.id for s in dataset.samples if s.cls == "Free"}
    defect_digests = {name: hashlib.sha256("\n".join(i for i in ids if i not in free).encode()).hexdigest()[:16]
                      for name, ids in splits.items()}
    assert defect_digests == SPLIT_MEMBERSHIP["mt"]  # not one defect image moved
    counts = {name: sum(i in free for i in ids) for name, ids in splits.items()}
    assert counts == {"all": 952, "train": 476, "test": 476, "train-7:3": 666, "test-7:3": 286}
    for name in ("train", "train-7:3"):
        assert not set(splits[name]) & set(splits[name.replace("train", "test")])
    digests = {name: hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16] for name, ids in splits.items()}
    assert digests == SPLIT_MEMBERSHIP_WITH_FREE
    document = json.loads(workspace.split_file("mtfree").read_text())
    assert "MT_Free" in document["rules"]["train/test"]


#: membership of the MT splits with MT_Free (same digest rule as above)
SPLIT_MEMBERSHIP_WITH_FREE = {"all": "0e766bb1b5a5a2d3", "train": "a944410f921020bb", "test": "171c9a6ce2679c1d",
                              "train-7:3": "3d6df0cd79318d9a", "test-7:3": "c14b854d33130cbf"}


def test_nrsd_mn_fixture_uses_published_folders_and_binarises_jpeg_masks(workspace, make_nrsd_dataset):
    root = make_nrsd_dataset(n_train=4, n_test=3)
    dataset = register_dataset(workspace, "nrsd-mn", root)
    assert dataset.layout == "nrsd-mn" and len(dataset) == 7
    assert len(get_split(workspace, dataset, "train")) == 4
    assert [s.subset for s in get_split(workspace, dataset, "test")] == ["test"] * 3
    gt = dataset.samples[0].read_gt()
    raw = np.asarray(Image.open(dataset.samples[0].gt_path).convert("L"))
    assert gt.dtype == bool and np.array_equal(gt, raw > 128)
    assert len(np.unique(raw)) > 2  # JPEG noise really was there to binarise


def test_folder_layout_reads_classes_csv(make_folder_dataset):
    root, _ = make_folder_dataset(n=6)
    dataset = open_dataset(root)
    assert dataset.layout == "folder"
    assert dataset.class_counts() == {"patch": 4, "scratch": 2}


def test_missing_ground_truth_names_the_image(make_folder_dataset):
    root, _ = make_folder_dataset(n=3)
    (root / "masks" / "img_001.png").unlink()
    with pytest.raises(DatasetError, match=r"ground truth missing for image images/img_001.png"):
        open_dataset(root)


@pytest.mark.parametrize("setup, message", [
    ("missing", "does not exist"),
    ("file", "is a file"),
    ("wrong", "unknown dataset layout"),
    ("empty-images", "no images found"),
])
def test_bad_dataset_folders_get_one_line_errors(tmp_path, setup, message):
    path = tmp_path / "ds"
    if setup == "file":
        path.write_text("x")
    elif setup == "wrong":
        (path / "pictures").mkdir(parents=True)
    elif setup == "empty-images":
        (path / "images").mkdir(parents=True)
        (path / "masks").mkdir()
    with pytest.raises(DatasetError, match=message) as info:
        open_dataset(path)
    assert "\n" not in str(info.value)


def test_unknown_dataset_id_lists_registered(workspace, make_folder_dataset):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root)
    with pytest.raises(WorkspaceError, match=r"unknown dataset 'nope' \(registered: toy\)"):
        load_dataset(workspace, "nope")


def test_registered_folder_gone(workspace, make_folder_dataset):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root)
    root.rename(root.with_name("moved"))
    with pytest.raises(DatasetError, match="no longer exists"):
        load_dataset(workspace, "toy")


def test_registry_refuses_bad_ids_and_workspace_inside_dataset(tmp_path, make_folder_dataset):
    from samis.workspace import Workspace

    root, _ = make_folder_dataset(n=2)
    with pytest.raises(WorkspaceError, match="not allowed"):
        register_dataset(Workspace(tmp_path / "ws"), "../evil", root)
    with pytest.raises(WorkspaceError, match="lies inside dataset folder"):
        register_dataset(Workspace(root / "ws"), "toy", root)
    assert not (root / "ws").exists()


def test_frozen_split_survives_and_detects_removed_images(workspace, make_folder_dataset):
    root, _ = make_folder_dataset(n=10)
    dataset = register_dataset(workspace, "toy", root)
    test_ids = [s.id for s in get_split(workspace, dataset, "test")]
    document = json.loads(workspace.split_file("toy").read_text())
    assert document["splits"]["test"] == test_ids and document["seed"]
    removed = test_ids[0]
    (root / "images" / f"{removed}.png").unlink()
    (root / "masks" / f"{removed}.png").unlink()
    with pytest.raises(DatasetError, match="no longer has"):
        get_split(workspace, load_dataset(workspace, "toy"), "test")


def test_workspace_may_not_live_inside_the_shared_reference_folder():
    from samis.workspace import SHARED_REFERENCE_DIR, Workspace

    with pytest.raises(WorkspaceError, match="read-only reference data"):
        Workspace(SHARED_REFERENCE_DIR / "my-workspace")
    assert not (SHARED_REFERENCE_DIR / "my-workspace").exists()
