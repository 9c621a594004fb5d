"""Scan sources. Importing this package registers the built-in ones; others register through the
``ladderdata.sources`` entry-point group (see :mod:`ladderdata.sources.base`)."""

from ladderdata.sources import scannet

__all__ = ["scannet"]
