"""Data loading: the FDU-MTL benchmark and users' own multi-task tables."""

from tf_aspmtl.data.download import download_fdu_mtl
from tf_aspmtl.data.fdu_mtl import FDU_MTL_SPLITS, load_fdu_mtl
from tf_aspmtl.data.paths import DATA_ENV_VAR, FDU_MTL_TASKS, DataNotFoundError, resolve_fdu_mtl_dir
from tf_aspmtl.data.tabular import LabelMap, load_multitask_table

__all__ = [
    "DATA_ENV_VAR",
    "DataNotFoundError",
    "FDU_MTL_SPLITS",
    "FDU_MTL_TASKS",
    "LabelMap",
    "download_fdu_mtl",
    "load_fdu_mtl",
    "load_multitask_table",
    "resolve_fdu_mtl_dir",
]
