"""Files out and saved results back in: every table format read back by an independent reader, and
paths and files that cannot be used named before any work is done."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels.data.files import TABLE_FORMATS, check_writable, read_datatree, read_json, write_table
from loyaltymodels.errors import DataError

TABLE = pd.DataFrame({"x1": [1.5, -2.25, 3.0], "x2": [1, 2, 3], "grp": ["a", "b", "é"]})


@pytest.mark.parametrize("suffix", sorted(TABLE_FORMATS))
def test_every_table_format_reads_back(tmp_path, suffix):
    path = write_table(TABLE, tmp_path / f"t{suffix}")
    if suffix == ".json":
        back = pd.DataFrame(json.loads(path.read_text()))
    else:  # the package's own reader, which sniffs the format from the bytes it finds
        back = lm.read_survey(path)
    if suffix == ".xlsx":
        assert path.read_bytes()[:2] == b"PK"  # a real workbook (a zip), not CSV text
    np.testing.assert_array_equal(back.x1.to_numpy(dtype=float), TABLE.x1)
    np.testing.assert_array_equal(back.x2.to_numpy(dtype=float), TABLE.x2)
    assert back.grp.tolist() == TABLE.grp.tolist()


def test_paths_that_cannot_be_written_are_named_before_anything_is_written(tmp_path):
    with pytest.raises(DataError, match=r"cannot write .*the folder '.*missing' does not exist"):
        check_writable(tmp_path / "missing" / "out.csv")
    with pytest.raises(DataError, match="it is a folder"):
        check_writable(tmp_path)
    with pytest.raises(DataError, match=r"extension '\.xls' is not one of \.csv"):
        write_table(TABLE, tmp_path / "out.xls")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "out.csv")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(DataError, match="permission denied"):
            check_writable(locked / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] + (["locked"] if os.geteuid() != 0 else [])


def test_saved_files_that_cannot_be_read_name_the_file(tmp_path):
    (tmp_path / "cut.json").write_text('{"a": [1, 2')
    with pytest.raises(DataError, match=r"cut.json' is not a readable saved result: invalid JSON .*truncated"):
        read_json(tmp_path / "cut.json")
    with pytest.raises(DataError, match="no saved result at"):
        read_json(tmp_path / "none.json")
    (tmp_path / "empty.nc").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.nc' is not a saved posterior: the file is empty"):
        read_datatree(tmp_path / "empty.nc")
    (tmp_path / "text.nc").write_text("x1,x2\n1,2\n")
    with pytest.raises(DataError, match="not a netCDF-4 file"):
        read_datatree(tmp_path / "text.nc")
    xr = pytest.importorskip("xarray")
    tree = xr.DataTree.from_dict({"/posterior": xr.Dataset({"a": ("draw", np.arange(2000.0))})})
    tree.to_netcdf(tmp_path / "post.nc", engine="h5netcdf")
    assert read_datatree(tmp_path / "post.nc")["posterior"]["a"].size == 2000
    data = (tmp_path / "post.nc").read_bytes()
    (tmp_path / "cut.nc").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut.nc' could not be read as a saved posterior .*truncated"):
        read_datatree(tmp_path / "cut.nc")
