"""A config file that cannot be read is named in the error, whatever is wrong with it."""

import pytest

from tf_aspmtl.training import NgramConfig, TrainConfig


@pytest.mark.parametrize("load", [TrainConfig.from_json_file, NgramConfig.from_json_file])
def test_a_config_file_that_is_not_utf8_is_named(tmp_path, load):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"seed": 1, "note": "\xff\xfe"}')  # latin-1 bytes, not UTF-8
    with pytest.raises(ValueError, match=r"config\.json: cannot read a (Train|Ngram)Config"):
        load(path)
