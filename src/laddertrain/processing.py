"""Loading Qwen2.5-VL-style processors with the pixel budget shared by training and evaluation."""

import logging
from pathlib import Path
from typing import Any

from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS

log = logging.getLogger(__name__)


def load_processor(path: str | Path, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> Any:
    """The model folder's processor with the image pixel budget set.

    transformers 5 builds Qwen2-VL video processors only with torchvision; without it ``AutoProcessor`` fails,
    so an image-only processor is assembled from the folder's image processor and tokenizer instead (videos
    are then given as frame lists, which is how ladder shards store them anyway).
    """
    import transformers

    processor: Any = None
    auto: Any = transformers.AutoProcessor  # untyped in transformers
    try:
        processor = auto.from_pretrained(path)
    except (ImportError, ValueError, TypeError, OSError) as e:
        log.info("AutoProcessor failed for %s (%s)", path, e)
    if not hasattr(processor, "image_processor"):  # failed, or fell back to a bare tokenizer
        log.info("using an image-only Qwen2.5-VL processor for %s", path)
        processor = _image_only_processor(path)
    image_processor = processor.image_processor
    image_processor.size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if hasattr(image_processor, name):
            setattr(image_processor, name, value)
    return processor


def image_only_processor_class() -> type:
    import transformers

    base: Any = transformers.Qwen2_5_VLProcessor  # untyped in transformers

    class ImageOnlyQwen2_5_VLProcessor(base):  # type: ignore[misc]  # noqa: N801 (transformers' naming)
        """Qwen2.5-VL processor without a video processor (no torchvision needed)."""

        def __init__(
            self, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kwargs: Any
        ):
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    return ImageOnlyQwen2_5_VLProcessor


def _image_only_processor(path: str | Path) -> Any:
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(path)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    return image_only_processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=tokenizer.chat_template
    )
