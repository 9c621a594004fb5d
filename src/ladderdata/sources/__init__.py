"""Scan sources. Importing this package registers the built-in ones; others register through the
``ladderdata.sources`` entry-point group (see :mod:`ladderdata.sources.base`)."""

from ladderdata.sources import arkitscenes, mixed, scannet, scannetpp

__all__ = ["arkitscenes", "mixed", "scannet", "scannetpp"]
