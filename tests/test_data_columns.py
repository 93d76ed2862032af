"""`to_dataset` builds the same dataset `datasets.Dataset.from_dict` builds (its features and rows), faster."""

from __future__ import annotations

import datasets

from dayzero.sdk.data.columns import to_dataset


def test_same_features_and_rows_as_from_dict():
    columns = {
        "prompt_ids": [[1, 2, 3], [], [4]],
        "completion_ids": [[5], [6, 7], [8, 9, 10]],
        "label": [True, False, True],
    }
    ours, theirs = to_dataset(columns), datasets.Dataset.from_dict(columns)
    assert ours.features == theirs.features
    assert ours.to_dict() == theirs.to_dict() == columns
    assert len(ours) == 3 and ours[1] == {"prompt_ids": [], "completion_ids": [6, 7], "label": False}


def test_the_fingerprint_is_the_one_given_else_a_fresh_one():
    columns = {"input_ids": [[1, 2]], "labels": [[-100, 2]]}
    assert to_dataset(columns, "abc123-train")._fingerprint == "abc123-train"
    assert to_dataset(columns)._fingerprint != to_dataset(columns)._fingerprint
