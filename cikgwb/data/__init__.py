"""Datasets: registry and download, loaders with clear errors, the valid split, synthetic data."""

from .dataset import Dataset
from .loader import DataFormatError, load_dataset, load_from_dir

__all__ = ["Dataset", "DataFormatError", "load_dataset", "load_from_dir"]
