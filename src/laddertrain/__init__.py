"""laddertrain: three-stage training of Qwen2.5-VL-style models on ladder shards (SFT -> SFT -> GRPO).

torch, transformers and TRL are imported lazily, inside the functions that need them, so that importing
this package costs nothing on machines without the ``train`` extra.
"""

__version__ = "0.1.0"
