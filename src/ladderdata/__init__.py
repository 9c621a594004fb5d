"""ladderdata: turn 3D indoor scans into spatial-reasoning data for vision-language models.

Data flows one way: ``sources`` (scan readers, synthetic scans) -> ``geometry`` -> ``metadata`` -> ``tasks``
-> ``io``. Nothing upstream imports downstream, and nothing here imports torch.
"""

__version__ = "0.1.0"
