"""Render: template wording, option order with answer letters balanced per task x modality, answers in stored
pixels, rows derived by the recipe's deriving tasks (paired localization), then each subset de-duplicated by id
and shuffled in a seeded order."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ladderdata.cache import content_key
from ladderdata.io.shards import stored_size
from ladderdata.pipeline.config import DraftRecord
from ladderdata.pipeline.select import Selection
from ladderdata.pipeline.stage import BuildContext, Stage, StageStats
from ladderdata.prompts import LETTERS, QuestionTemplates, choice_fields
from ladderdata.recipe import Recipe
from ladderdata.seeding import rng_for
from ladderdata.tasks import Modality, Sample, TaskGenerator


@dataclass
class Renderer:
    """Turns selected drafts into samples: wording, options, balanced letters, answers in stored pixels."""

    recipe: Recipe
    seed: int
    source: Callable[[str], str]
    """Scan id -> name of the source that read it (``scannet``): every sample's ``source``."""
    templates: QuestionTemplates = field(init=False)
    generators: dict[str, TaskGenerator] = field(init=False)

    def __post_init__(self) -> None:
        self.generators = {g.name: g for g in self.recipe.generators()}
        wording = {key: list(texts) for g in self.generators.values() for key, texts in g.questions.items()}
        self.templates = QuestionTemplates(self.recipe.templates, wording)

    def render_group(self, task: str, modality: Modality, records: list[DraftRecord]) -> list[Sample]:
        gen = self.generators[task]
        rng = rng_for(self.seed, "render", task, modality)
        mcq = [r for r in records if r.draft.choices]
        sizes = Counter(len(r.draft.choices) for r in mcq)
        # answer positions: an exact round-robin per option count, in a seeded order
        positions: dict[int, list[int]] = {
            n: [int(p) for p in rng.permutation(np.arange(count) % n)] for n, count in sorted(sizes.items())
        }
        out = []
        for r in records:
            d = r.draft
            fields = dict(d.fields)
            options: list[str] = []
            answer = d.answer
            if d.choices:
                n = len(d.choices)
                correct = positions[n].pop()
                rest = [d.choices[1 + int(i)] for i in rng.permutation(n - 1)]
                ordered = [*rest[:correct], d.choices[0], *rest[correct:]]
                fields.update(choice_fields(ordered))
                options = [f"{LETTERS[i]}. {c}" for i, c in enumerate(ordered)]
                answer = LETTERS[correct]
            question = self.templates.render(d.template, fields, rng if self.recipe.paraphrases else None)
            width, height = stored_size(r.image_width, r.image_height, self.recipe.images)
            scale = width / r.image_width
            objects = [
                o if o.bbox_2d is None else o.model_copy(update={"bbox_2d": [v * scale for v in o.bbox_2d]})
                for o in d.objects
            ]
            if not d.choices:
                answer = gen.final_answer(d, objects)
            digest = content_key({"frames": str(r.frame_ids), "question": question, "answer": answer})[:12]
            out.append(
                Sample(
                    id=f"{r.scene_id}-{task}-{modality.value}-{digest}",
                    task=task,
                    modality=modality,
                    scene_id=r.scene_id,
                    source=self.source(r.scene_id),
                    frame_ids=r.frame_ids,
                    timestamps=r.timestamps,
                    image_width=width,
                    image_height=height,
                    question=question,
                    options=options,
                    answer=answer,
                    answer_type=gen.answer_type,
                    objects=objects,
                    margins=d.margins,
                    extras=d.extras,
                )
            )
        return out


@dataclass
class Rendered:
    subsets: dict[str, list[Sample]]
    """Subset name -> its rows in their final (shuffled) order."""


def subset_names(recipe: Recipe, benchmark: bool) -> list[str]:
    """Subsets in card order: a benchmark has one, named after its recipe; a dataset one per task subset."""
    if benchmark:
        return [recipe.name]
    return list(dict.fromkeys(g.subset for g in [*recipe.generators(), *recipe.derivers()]))


def unique_ids(rows: list[Sample]) -> list[Sample]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out


class RenderStage(Stage[Selection, Rendered]):
    name = "render"

    def run(self, ctx: BuildContext, data: Selection, stats: StageStats) -> Rendered:
        config = ctx.config
        recipe = config.recipe
        renderer = Renderer(recipe, config.seed, ctx.source.source_of)
        derivers = recipe.derivers()
        subsets: dict[str, list[Sample]] = {s: [] for s in subset_names(recipe, config.benchmark)}

        def subset_of(task: TaskGenerator) -> str:
            return recipe.name if config.benchmark else task.subset

        for (task, modality), records in data.groups.items():
            samples = renderer.render_group(task, modality, records)
            subsets[subset_of(renderer.generators[task])].extend(samples)
            stats.counters["rendered"] += len(samples)
            for deriver in derivers:
                derived = [row for s in samples if (row := deriver.derive(s)) is not None]
                subsets[subset_of(deriver)].extend(derived)
                stats.counters[f"derived ({deriver.name})"] += len(derived)
        dropped = set(config.drop_ids)
        for subset, rows in subsets.items():
            if dropped:
                pruned = [r for r in rows if r.id not in dropped]
                stats.counters["dropped by id (debias)"] += len(rows) - len(pruned)
                rows = pruned
            kept = unique_ids(rows)
            stats.counters["duplicate ids dropped"] += len(rows) - len(kept)
            order = rng_for(config.seed, "shuffle", subset).permutation(len(kept))
            subsets[subset] = [kept[int(i)] for i in order]
        return Rendered(subsets)
