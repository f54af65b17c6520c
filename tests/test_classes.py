"""Classes: legends with the one exclude word, class-name -> index, NO_CLASS and the one colour table."""
from __future__ import annotations

import numpy as np
import pytest

from gee_crop.classes import (CLASS_COLORS, CLASS_HEX, CLASSES, EXCLUDE, NO_CLASS, OTHER, Legend, class_color,
                              class_indices, class_rgba, class_rgba_table)
from gee_crop.data.patch import read_patch
from gee_crop.errors import InputError, UnknownClassError


@pytest.fixture(scope="module")
def reference(patch_dir) -> np.ndarray:
    """(64, 64) class indices of the real Flanders 2019 patch labels."""
    return read_patch(patch_dir).classes


def test_class_indices_and_the_error_naming_the_valid_classes():
    assert class_indices(np.array(["wheat", "corn", "wheat", OTHER])).tolist() == [3, 0, 3, 6]
    assert class_indices(np.array([], dtype=object)).tolist() == []
    with pytest.raises(UnknownClassError, match=r"unknown class name\(s\) 'maize'; use one of corn, soybeans, rice"):
        class_indices(np.array(["corn", "maize"]))


def test_legend_csv_with_the_exclude_word_and_a_default_row(tmp_path):
    path = tmp_path / "legend.csv"
    path.write_text("# a product's legend\ncode,name,gee_crop_class\n007,maize,corn\n12,fallow,exclude\n"
                    "*,any other crop,other\n")
    legend = Legend.read(path)
    assert legend["7"] == legend[7] == "corn" and legend[12] == EXCLUDE and len(legend) == 3
    codes = np.array([[7, 12], [99, 7]])
    assert legend.names(codes).tolist() == [["corn", EXCLUDE], [OTHER, "corn"]]
    assert legend.indices(codes).tolist() == [[0, NO_CLASS], [6, 0]]
    assert legend.lookup() == (["7", "12"], [0, NO_CLASS], 6)
    assert legend.excluding(7).indices(codes).tolist() == [[NO_CLASS, NO_CLASS], [6, NO_CLASS]]


def test_legend_without_default_names_the_unlisted_codes():
    legend = Legend({1: "wheat", 0: EXCLUDE})
    assert legend.lookup() == (["1", "0"], [3, NO_CLASS], NO_CLASS)
    with pytest.raises(InputError, match=r"label codes \['5'\] are not in the class-mapping table"):
        legend.names(np.array([0, 1, 5]))


def test_old_legend_word_unlabeled_is_read_as_exclude_and_unknown_classes_are_refused(tmp_path):
    assert Legend({0: "unlabeled"})[0] == EXCLUDE
    with pytest.raises(UnknownClassError, match="'maize'.*use one of corn.*or 'exclude'"):
        Legend({1: "maize"})
    with pytest.raises(InputError, match="does not exist.*code,gee_crop_class"):
        Legend.read(tmp_path / "absent.csv")
    (tmp_path / "bad.csv").write_text("code;class\n1;corn\n")
    with pytest.raises(InputError, match="needs the columns code,gee_crop_class"):
        Legend.read(tmp_path / "bad.csv")


def test_shipped_worldcereal_legend_on_the_real_patch(reference, patch_dir):
    legend = Legend.worldcereal()
    assert legend[0] == EXCLUDE and legend[1100] == "wheat"
    assert Legend.of(None) is legend and Legend.of({1: "corn"})[1] == "corn"
    codes = read_patch(patch_dir).labels
    assert np.array_equal(legend.indices(codes), reference)
    assert dict(zip(*np.unique(reference, return_counts=True))) == {0: 413, 3: 1378, 6: 1934, NO_CLASS: 371}


def test_one_colour_table():
    assert CLASS_COLORS["corn"] == (255, 211, 0) and CLASS_HEX["corn"] == "ffd300"
    assert class_color("other") == pytest.approx((190 / 255, 190 / 255, 190 / 255))
    table = class_rgba_table()
    assert table.shape == (256, 4) and table[CLASSES.index("wheat")].tolist() == [168, 112, 0, 255]
    assert table[len(CLASSES):].max() == 0  # NO_CLASS and every other value are transparent


def test_class_rgba_matches_the_map_colour_table(reference):
    from gee_crop.mapping.writers import colormap

    rgba = class_rgba(reference)
    assert rgba.shape == reference.shape + (4,)
    for value, color in colormap().items():
        if (reference == value).any():
            assert (rgba[reference == value] == color).all()
    assert (rgba[reference == NO_CLASS, 3] == 0).all()  # unlabeled pixels are transparent
