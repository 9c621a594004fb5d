"""CPU time of one GRPO optimizer step with TRL processing every completion's images (before) and with each
distinct image processed once per step (:func:`laddertrain.processing.images_processed_once`, after).

The tiny offline model, the ``tiny`` recipe with paper-3b's GRPO batch (4 prompts x 8 generations), so the
image processor's share is what it is for a small model; interleaved runs, median of ``--repeats``:

    python benchmarks/bench_grpo_images.py --data demo/dataset
"""

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from laddertrain import runners
from laddertrain.recipe import TrainRecipe
from laddertrain.tiny_model import save_tiny_qwen


def one_step(recipe: TrainRecipe, model: Path, data: Path, out: Path, once: bool) -> tuple[float, int]:
    """(CPU seconds of the step, images the image processor processed)."""
    import transformers
    from transformers.image_utils import make_flat_list_of_images

    from laddertrain import processing

    seconds: list[float] = []
    processed = [0]
    image_processor_class: Any = transformers.Qwen2VLImageProcessorPil
    original_call = image_processor_class.__call__
    original_train = runners.train_resuming

    def counting(self: Any, images: Any = None, **kwargs: Any) -> Any:
        flat: list[Any] = make_flat_list_of_images(images)  # type: ignore[assignment]  # a list for a list
        processed[0] += len(flat)
        return original_call(self, images, **kwargs)

    def timed(*args: Any) -> Any:
        start = time.process_time()
        result = original_train(*args)
        seconds.append(time.process_time() - start)
        return result

    with contextlib.ExitStack() as patches:
        patches.enter_context(mock.patch.object(runners, "train_resuming", timed))
        patches.enter_context(mock.patch.object(image_processor_class, "__call__", counting))
        if not once:  # TRL as is
            patches.enter_context(
                mock.patch.object(processing, "images_processed_once", lambda _: contextlib.nullcontext())
            )
        runners.run_stage("stage3", recipe, model, data, out)
    return seconds[0], processed[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("demo/dataset"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tiny = TrainRecipe.load("tiny")
    stage3 = tiny.stage3.model_copy(
        update={
            "max_steps": 1,
            "num_generations": 8,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": None,
            "effective_batch_size": 32,
            "max_samples": 4,
            "max_images": 8,
        }
    )
    recipe = tiny.model_copy(update={"stage3": stage3})
    figures: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        model = save_tiny_qwen(Path(tmp) / "model")
        for repeat in range(args.repeats):
            for once in (False, True):
                figures[once].append(one_step(recipe, model, args.data, Path(tmp) / f"run-{repeat}-{once}", once))
    for once, runs in figures.items():
        label = "each image once" if once else "TRL as is"
        cpu = statistics.median(s for s, _ in runs)
        print(f"{label:16}: GRPO step {cpu:.2f} CPU s (median of {len(runs)}), images processed {runs[0][1]}")


if __name__ == "__main__":
    main()
