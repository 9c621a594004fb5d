"""Loading Qwen2.5-VL-style processors with the pixel budget shared by training and evaluation."""

import copy
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ladderdata.geometry.vision_grid import MAX_PIXELS, MIN_PIXELS

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

ImageProcessorOptions = Mapping[str, Any]
"""Keyword arguments TRL and the processor hand a Qwen2-VL image processor (``do_resize``, ``min_pixels``, ...):
transformers' own open set, forwarded as given and read only to tell calls apart."""


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


class ImagesOnce:
    """Wraps a Qwen2-VL image processor so that each distinct image is processed once while it is wrapped.

    TRL's GRPOTrainer runs the processor on every completion's prompt, num_generations copies of each, and twice
    per generation batch (to tokenize the prompts, then for the loss pass's pixel values): 16 resizes and
    normalisations of each image per step in paper-3b, in the main process, between GPU steps. This processor
    gives the same output (the Qwen2-VL image processor treats every image on its own: its outputs are the
    per-image patches and grids, concatenated) from one computation per image, recognised by its pixels
    (xxh3-128 of size, mode and bytes: about 1 ms for a 1296x968 frame, against about 100 ms to process it).
    It keeps the last ``keep`` images' outputs (a generation batch's, at most 2.4 MB each at the paper's budget).
    """

    def __init__(self, image_processor: Any, keep: int = 256) -> None:
        self.wrapped = image_processor
        self.keep = keep
        self.cache: OrderedDict[tuple[str, str], dict[str, np.ndarray]] = OrderedDict()
        self.processed = 0
        """Images actually processed (the rest came from the cache)."""

    def __getattr__(self, name: str) -> Any:  # everything else is the wrapped processor's
        if name == "wrapped":  # not set yet (copy and pickle build the object without __init__)
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """The wrapped processor: what a checkpoint's processor config copies and saves (the cache stays here)."""
        return copy.deepcopy(self.wrapped, memo)

    def __call__(self, images: Any = None, **kwargs: Any) -> Any:
        import numpy as np
        from transformers.feature_extraction_utils import BatchFeature
        from transformers.image_utils import make_flat_list_of_images

        tensor_type = kwargs.pop("return_tensors", None)  # outputs are cached as numpy, converted at the end
        flat: list[Any] = make_flat_list_of_images(images)  # type: ignore[assignment]  # a list for a list input
        options = repr(sorted(kwargs.items()))
        parts = [self._one(image, options, kwargs) for image in flat]
        merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        return BatchFeature(data=merged, tensor_type=tensor_type)

    def _one(self, image: Any, options: str, kwargs: ImageProcessorOptions) -> dict[str, "np.ndarray"]:
        """One image's outputs (``pixel_values``: its patches x patch size, ``image_grid_thw``: 1 x 3), as numpy."""
        key = (_pixels_digest(image), options)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        out = dict(self.wrapped([image], **kwargs, return_tensors="np"))
        self.processed += 1
        self.cache[key] = out
        if len(self.cache) > self.keep:
            self.cache.popitem(last=False)
        return out


def _pixels_digest(image: Any) -> str:
    import numpy as np
    import xxhash

    if isinstance(image, np.ndarray):
        head, data = f"{image.shape}{image.dtype}", image.tobytes()
    elif hasattr(image, "tobytes") and hasattr(image, "mode"):  # PIL
        head, data = f"{image.size}{image.mode}", image.tobytes()
    else:  # a torch tensor
        head, data = f"{tuple(image.shape)}{image.dtype}", image.contiguous().cpu().numpy().tobytes()
    return xxhash.xxh3_128_hexdigest(head.encode() + data)


@contextmanager
def images_processed_once(processor: Any) -> Iterator[ImagesOnce | None]:
    """While inside, ``processor`` processes each distinct image once (:class:`ImagesOnce`); its own image
    processor is back afterwards (so it saves as before). Processors other than Qwen2-VL's are left alone."""
    original = processor.image_processor
    if "Qwen2VLImageProcessor" not in type(original).__name__:
        yield None
        return
    once = ImagesOnce(original)
    processor.image_processor = once
    try:
        yield once
    finally:
        processor.image_processor = original
