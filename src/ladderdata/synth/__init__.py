"""Synthetic scans with exact ground truth (``ladder synth``), in the layout of any scan source that has a writer.

``catalogue`` (furniture, structure, scene types) and ``scene`` (placement, trajectory) sample a scene; ``shapes``
holds its closed-form box geometry; ``mesh`` triangulates it; ``render`` draws its colour and depth frames;
``truth`` computes its ground truth from the boxes alone; ``root`` holds the config, the writer registry and the
resume stamp; ``scannet``, ``scannetpp`` and ``arkitscenes`` are the writers, one per source layout.
"""

# the built-in writers register themselves on import (ladderdata.synth.root.SYNTH_WRITERS)
from ladderdata.synth import arkitscenes, scannet, scannetpp

__all__ = ["arkitscenes", "scannet", "scannetpp"]
