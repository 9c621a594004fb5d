"""route_planning on rooms laid out so that the shortest route and its turns are known by construction.

Each room is built so that walls and furniture leave one way from the start object to the goal: the route must
round a known corner of a known object. The expected turns are re-derived here from those corners with plain
trigonometry (never with the generator's code), and each filter is shown to reject a room built to be ambiguous.
"""

import json
import math
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from ladderdata.eval.export import export_benchmark
from ladderdata.eval.report import evaluate
from ladderdata.eval.scorers import BenchmarkSummary, scoring_modes
from ladderdata.geometry.boxes import OrientedBox
from ladderdata.io.dataset import BenchReader
from ladderdata.io.shards import shard_schema
from ladderdata.metadata.config import ObjectInView, ViewRecord
from ladderdata.pipeline.draft import drafts_key
from ladderdata.preview import (
    BOX_COLORS,
    CARD_WIDTH,
    MAP_MARGIN,
    PAD,
    PATH_COLOR,
    PreviewSample,
    render_card,
    route_map_image,
    route_map_view,
)
from ladderdata.prompts import QuestionTemplates
from ladderdata.recipe import Recipe
from ladderdata.tasks import (
    Draft,
    FilterConfig,
    Modality,
    ObjectFacts,
    Rejections,
    Sample,
    SceneContext,
    Shown,
    get_task,
)
from ladderdata.tasks.base import GuardBands
from ladderdata.tasks.route_map import ROUTE_MAP_KEY, RouteMap
from ladderdata.tasks.route_planning import Route, RoutePlanningConfig, plan_route, room_plan

Rect = tuple[float, float, float, float]
BODY = 0.2
BANDS = FilterConfig().guard_bands  # the defaults every recipe gets
NO_BANDS = GuardBands(visibility=0, ratio=0, angle_deg=0, depth=0)  # the thresholds alone


def facts(i: int, category: str, rect: Rect, height: float = 0.8) -> ObjectFacts:
    x0, y0, x1, y1 = rect
    w, d = x1 - x0, y1 - y0
    size, yaw = ((w, d, height), 0.0) if w >= d else ((d, w, height), math.pi / 2)
    box = OrientedBox(center=((x0 + x1) / 2, (y0 + y1) / 2, height / 2), size=size, yaw=yaw)
    return ObjectFacts(i, category, category, box, 100 * max(w, d, height), nyu40_class=category)


def floor_mesh(*rects: Rect) -> tuple[np.ndarray, np.ndarray]:
    vertices: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    for x0, y0, x1, y1 in rects:
        k = len(vertices)
        vertices += [(x0, y0, 0.0), (x1, y0, 0.0), (x1, y1, 0.0), (x0, y1, 0.0)]
        faces += [(k, k + 1, k + 2), (k, k + 2, k + 3)]
    return np.array(vertices, dtype=np.float64), np.array(faces, dtype=np.int64)


def room(objects: dict[str, Rect], floor: tuple[Rect, ...]) -> SceneContext:
    """Objects by category (ids in insertion order from 0); the floor as rectangles."""
    table = {i: facts(i, cat, rect) for i, (cat, rect) in enumerate(objects.items())}
    return SceneContext(
        "scene9999_00", None, table, [], lambda a, b: 0.0, floor_area=None, floor_mesh=floor_mesh(*floor)
    )


def shown(ctx: SceneContext, visibility: dict[str, float] | None = None, extra: dict[int, str] | None = None) -> Shown:
    """Two video frames in which every object is seen (visibility 0.9 unless ``visibility`` says otherwise)."""
    seen = visibility or {}

    def frame(k: int) -> ViewRecord:
        objects = [
            ObjectInView(
                object_id=i,
                label=o.category,
                category=o.category,
                visibility=seen.get(o.category, 0.9),
                in_frustum=1.0,
                pixel_fraction=0.05,
                bbox_2d=[0.0, 0.0, 10.0, 10.0],
                depth_min=1.0,
                depth_median=2.0,
                centroid_cam=[0.0, 0.0, 2.0],
            )
            for i, o in ctx.objects.items()
        ]
        return ViewRecord(
            frame_id=k,
            timestamp_us=k * 500_000,
            cam_to_world=np.eye(4).reshape(-1).tolist(),
            image_width=640,
            image_height=480,
            sharpness=None,
            depth_agreement=None,
            objects=objects,
        )

    return Shown([frame(0), frame(15)])


def ids(ctx: SceneContext) -> dict[str, int]:
    return {o.category: i for i, o in ctx.objects.items()}


# ------------------------------------------------------------------------------------------------ oracle


def heading_change(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    """Degrees from heading a -> b to heading b -> c, counter-clockwise (left) positive, in [-180, 180).
    Written apart from the generator: headings by atan2."""
    change = math.degrees(math.atan2(c[1] - b[1], c[0] - b[0]) - math.atan2(b[1] - a[1], b[0] - a[0]))
    return (change + 180.0) % 360.0 - 180.0


def oracle_turn(points: list[tuple[float, float]]) -> list[str]:
    """The turn at each inner point of a polyline: "back" from 135°, else left (counter-clockwise) or right."""
    out = []
    for p, q, r in zip(points, points[1:], points[2:], strict=False):
        change = heading_change(p, q, r)
        out.append("back" if abs(change) >= 135 else "left" if change > 0 else "right")
    return out


def centre(rect: Rect) -> tuple[float, float]:
    return ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2)


def padded(x: float, y: float, dx: int, dy: int, by: float = BODY) -> tuple[float, float]:
    """A box corner pushed out diagonally by ``by`` (the body radius: where a taut route rounds it)."""
    step = by / math.sqrt(2)
    return (x + dx * step, y + dy * step)


# --- rooms ------------------------------------------------------------------------------------------------
# R1, 8 m x 6 m: a bookshelf stands on the bottom wall up to y = 3.5 with the cabinet on top of it up to 4.5;
# the only way from the chair (bottom left) to the trash can (right) is over the cabinet: up, then right-down.
CHAIR = (0.8, 0.8, 1.3, 1.3)
CABINET = (3.5, 3.5, 4.5, 4.5)
BOOKSHELF = (3.5, 0.0, 4.5, 3.5)
TRASH = (6.8, 3.3, 7.2, 3.7)
R1 = {"chair": CHAIR, "cabinet": CABINET, "bookshelf": BOOKSHELF, "trash can": TRASH}
RECT = ((0.0, 0.0, 8.0, 6.0),)
# R2, 12 m x 6 m: R1's divider, then a second one hanging from the top wall (sofa) with a box at its lower end:
# over the cabinet, under the box, up to the trash can.
BOX = (8.5, 1.5, 9.5, 2.5)
SOFA = (8.5, 2.5, 9.5, 6.0)
TRASH2 = (10.8, 4.3, 11.2, 4.7)
R2_FLOOR = ((0.0, 0.0, 12.0, 6.0),)
R2 = {"chair": CHAIR, "cabinet": CABINET, "bookshelf": BOOKSHELF, "box": BOX, "sofa": SOFA, "trash can": TRASH2}
# L, 6 m x 6 m with the top-right 3 m x 3 m cut away: from the chair in the bottom arm, facing the box north of
# it, to the trash can at the top of the left arm, the route rounds the reflex corner (3, 3), by the plant.
L_FLOOR = ((0.0, 0.0, 6.0, 3.0), (0.0, 3.0, 3.0, 6.0))
L_CHAIR = (4.3, 0.3, 4.7, 0.7)
L_BOX = (4.3, 2.3, 4.7, 2.7)
PLANT = (2.1, 2.1, 2.5, 2.5)
L_TRASH = (2.2, 5.3, 2.6, 5.7)
L_ROOM = {"chair": L_CHAIR, "box": L_BOX, "plant": PLANT, "trash can": L_TRASH}


def plan(
    objects: dict[str, Rect],
    floor: tuple[Rect, ...] = RECT,
    facing: str = "cabinet",
    start: str = "chair",
    goal: str = "trash can",
    bands: GuardBands = BANDS,
    **config: float,
) -> tuple[SceneContext, Route | str]:
    ctx = room(objects, floor)
    cfg = RoutePlanningConfig.model_validate(config)
    rooms = room_plan(ctx, cfg)
    assert rooms is not None
    return ctx, plan_route(ctx, rooms, ids(ctx)[start], ids(ctx)[facing], ids(ctx)[goal], cfg, bands)


def test_one_turn_over_the_divider() -> None:
    ctx, route = plan(R1)
    assert not isinstance(route, str), route
    assert [ctx.objects[i].category for i in route.landmarks] == ["cabinet"]
    # straight to the cabinet, then over it: the turn is the heading change from the leg to the cabinet to the
    # leg down from its top-right corner (going up its side and along its top is part of rounding it)
    start, reached, goal = (tuple(p) for p in (route.path[0], route.path[1], route.path[-1]))
    corners = [padded(3.5, 4.5, -1, 1), padded(4.5, 4.5, 1, 1)]
    assert math.dist(reached, centre(CABINET)) < 0.5 + BODY + 0.1  # in front of the cabinet's left side
    turn = heading_change(start, reached, corners[0]) + heading_change(reached, corners[0], corners[1])
    turn += heading_change(corners[0], corners[1], goal)
    assert -135 < turn < -45
    assert route.turns == ["right"] == oracle_turn([start, centre(CABINET), goal])
    # the bends after the cabinet lie at its top corners, and the onward length is between going through the
    # bare corners and corners padded by the radius plus the raster's safety (up to two cells) on a 16-neighbour
    # grid (at most 2.7 % longer)
    for bend in route.path[2:-1]:  # bends sit on path cells, which keep a cell or two more than the radius
        assert min(math.dist(bend, c) for c in corners) < 0.3
    bare = math.dist(reached, (3.5, 4.5)) + 1.0 + math.dist((4.5, 4.5), goal)
    wide = [padded(3.5, 4.5, -1, 1, BODY + 0.1), padded(4.5, 4.5, 1, 1, BODY + 0.1)]
    taut = math.dist(reached, wide[0]) + math.dist(*wide) + math.dist(wide[1], goal)
    onward = route.margins["route_length"] - math.dist(start, reached)
    assert bare < onward < taut * 1.03


def test_two_turns_over_and_under() -> None:
    ctx, route = plan(R2, floor=R2_FLOOR)
    assert not isinstance(route, str), route
    assert [ctx.objects[i].category for i in route.landmarks] == ["cabinet", "box"]
    start, goal = tuple(route.path[0]), tuple(route.path[-1])
    # by construction: up over the cabinet (right turn down), then under the box (left turn up)
    expected = oracle_turn([start, centre(CABINET), centre(BOX), goal])
    assert expected == ["right", "left"]
    assert route.turns == expected
    assert any(math.dist(b, padded(8.5, 1.5, -1, -1)) < 0.3 for b in route.path[2:-1])


def test_l_shaped_room_turns_at_the_box_and_at_the_corner_plant() -> None:
    ctx, route = plan(L_ROOM, floor=L_FLOOR, facing="box")
    assert not isinstance(route, str), route
    assert [ctx.objects[i].category for i in route.landmarks] == ["box", "plant"]
    bend = padded(3.0, 3.0, -1, -1)  # the reflex corner of the L, where the plant stands
    assert min(math.dist(b, bend) for b in route.path[2:-1]) < 0.3
    # north to the box, west-north-west along the bottom arm (left), then north up the left arm (right)
    start, goal = tuple(route.path[0]), tuple(route.path[-1])
    assert oracle_turn([start, centre(L_BOX), bend, goal]) == ["left", "right"]
    assert route.turns == ["left", "right"] == oracle_turn([start, centre(L_BOX), centre(PLANT), goal])


def test_l_shaped_room_without_an_object_at_the_corner_has_no_landmark() -> None:
    without_plant = {k: v for k, v in L_ROOM.items() if k != "plant"}
    assert plan(without_plant, floor=L_FLOOR, facing="box")[1] == "no_landmark"


def test_the_faced_object_must_be_in_sight() -> None:
    # from the bottom arm the trash can at the top of the left arm is behind the L's corner
    assert plan(L_ROOM, floor=L_FLOOR, facing="trash can", goal="plant")[1] == "facing_blocked"


def box_distance(rect: Rect, point: tuple[float, float]) -> float:
    dx = max(rect[0] - point[0], 0.0, point[0] - rect[2])
    dy = max(rect[1] - point[1], 0.0, point[1] - rect[3])
    return math.hypot(dx, dy)


def test_a_rival_object_near_a_bend_makes_its_landmark_ambiguous() -> None:
    objects = {**R1, "lamp": (2.55, 3.85, 2.85, 4.15)}  # a lamp left of where the walker reaches the cabinet
    _, route = plan(objects, min_landmark_gap=0.0)
    assert not isinstance(route, str), route
    landmark_of = {tuple(b): CABINET for b in route.path[1:-1]}  # every bend rounds the cabinet
    gaps = {
        bend: min(box_distance(r, bend) for r in objects.values() if r != rect) - box_distance(rect, bend)
        for bend, rect in landmark_of.items()
    }
    first = tuple(route.path[1])
    assert min(gaps, key=lambda b: gaps[b]) == first  # the lamp, beside the first bend, is the nearest rival
    assert gaps[first] == pytest.approx(box_distance(objects["lamp"], first) - box_distance(CABINET, first))
    assert route.margins["landmark_gap"] == pytest.approx(gaps[first])
    assert not isinstance(plan(objects, bands=NO_BANDS, min_landmark_gap=gaps[first] - 0.01)[1], str)
    assert plan(objects, bands=NO_BANDS, min_landmark_gap=gaps[first] + 0.01)[1] == "landmark_ambiguous"


def test_a_turn_near_the_back_boundary_is_rejected() -> None:
    # over the cabinet and steeply back down: about 118° from the leg to the cabinet, 17° short of "back"
    trash_can = (6.8, 0.3, 7.2, 0.7)
    _, loose = plan({**R1, "trash can": trash_can}, min_angle_margin_deg=0)
    assert not isinstance(loose, str), loose
    corner = padded(4.5, 4.5, 1, 1)
    start, reached, goal = (tuple(p) for p in (loose.path[0], loose.path[1], loose.path[-1]))
    turn = math.degrees(
        math.atan2(goal[1] - corner[1], goal[0] - corner[0]) - math.atan2(reached[1] - start[1], reached[0] - start[0])
    )
    assert turn == pytest.approx(-118.0, abs=5)
    assert loose.turns == ["right"] and loose.margins["angle_margin_deg"] < 20
    assert plan({**R1, "trash can": trash_can})[1] == "angle_margin"


def test_nearly_straight_on_is_not_a_turn() -> None:
    # the trash can beyond the cabinet, near the top wall: from the cabinet it lies nearly straight ahead
    trash_can = (6.3, 5.3, 6.7, 5.7)
    _, loose = plan({**R1, "trash can": trash_can}, min_angle_margin_deg=0)
    assert not isinstance(loose, str), loose
    start, goal = tuple(loose.path[0]), tuple(loose.path[-1])
    assert abs(heading_change(start, centre(CABINET), goal)) < 20
    assert plan({**R1, "trash can": trash_can})[1] == "angle_margin"


def test_path_and_landmark_turns_must_agree() -> None:
    # just right of the divider: rounding the corners turns "back" (past 135°), but from the cabinet's centre
    # the trash can is a right turn of less than 135°
    assert plan({**R1, "trash can": (5.3, 0.3, 5.7, 0.7)})[1] == "turn_disagrees"


def test_two_equal_ways_round_an_island_are_rejected() -> None:
    # from the box by the left wall to the trash can by the right one, straight through the cabinet: above and
    # below it are equally long
    island = {
        "chair": (2.2, 0.3, 2.6, 0.7),
        "box": (0.3, 2.8, 0.7, 3.2),
        "cabinet": (3.5, 2.5, 4.5, 3.5),
        "trash can": (6.8, 2.8, 7.2, 3.2),
    }
    assert plan(island, facing="box")[1] == "route_not_unique"


def drafts(ctx: SceneContext, view: Shown, seed: int = 0) -> tuple[list[Draft], Rejections]:
    gen = get_task("route_planning")()
    rejections = Rejections()
    return list(gen.drafts(ctx, view, np.random.default_rng(seed), rejections)), rejections


def test_question_options_and_answer_in_vsibench_form() -> None:
    ctx = room(R2, R2_FLOOR)
    kept, _ = drafts(ctx, shown(ctx))
    draft = next(
        d
        for d in kept
        if (d.fields["start"], d.fields["facing"], d.fields["goal"]) == ("chair", "cabinet", "trash can")
    )
    question = QuestionTemplates().render(draft.template, draft.fields)
    assert question == (
        "You are a robot beginning at the chair facing the cabinet. You want to navigate to the trash can. "
        "You will perform the following actions (Note: for each [please fill in], choose either 'turn back,' "
        "'turn left,' or 'turn right.'): 1. Go forward until the cabinet. 2. [please fill in] 3. Go forward until "
        "the box. 4. [please fill in] 5. Go forward until the trash can. You have reached the final destination."
    )
    assert draft.choices[0] == "Turn Right, Turn Left"
    assert len(draft.choices) == 4 and len(set(draft.choices)) == 4
    assert all(
        len(c.split(", ")) == 2 and set(c.split(", ")) <= {"Turn Left", "Turn Right", "Turn Back"}
        for c in draft.choices
    )
    assert [o.role for o in draft.objects] == ["start", "landmark", "landmark", "goal"]
    assert draft.margins["angle_margin_deg"] >= 20 and draft.margins["detour_margin"] >= 0.1


def test_one_turn_has_the_three_turns_as_options() -> None:
    ctx = room(R1, RECT)
    kept, _ = drafts(ctx, shown(ctx))
    draft = next(
        d
        for d in kept
        if (d.fields["start"], d.fields["facing"], d.fields["goal"]) == ("chair", "cabinet", "trash can")
    )
    assert draft.choices[0] == "Turn Right"
    assert sorted(draft.choices) == ["Turn Back", "Turn Left", "Turn Right"]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("second cabinet", "landmark_not_referable"),
        ("cabinet unseen", "landmark_not_referable"),
    ],
)
def test_landmarks_must_be_unique_and_visible(case: str, reason: str) -> None:
    objects = dict(R1)
    visibility: dict[str, float] = {}
    if case == "second cabinet":
        ctx = room(objects, RECT)
        rival = facts(len(ctx.objects), "cabinet", (6.8, 0.3, 7.2, 0.7))
        ctx.objects[rival.object_id] = rival
    else:
        ctx = room(objects, RECT)
        visibility = {"cabinet": 0.1}
    kept, rejections = drafts(ctx, shown(ctx, visibility))
    assert not [d for d in kept if d.fields["facing"] == "cabinet"]
    assert not [d for d in kept if "cabinet" in {o.category for o in d.objects}]
    assert rejections.counts[reason] >= 1


def test_same_seed_same_drafts() -> None:
    ctx = room(R2, R2_FLOOR)
    first = [d.model_dump() for d in drafts(ctx, shown(ctx), seed=3)[0]]
    again = [d.model_dump() for d in drafts(room(R2, R2_FLOOR), shown(ctx), seed=3)[0]]
    assert first and first == again


# ------------------------------------------------------------------------------------------------ export
# lmms-eval's VSI-Bench task as thinking-in-space ships it (vision-x-nyu/thinking-in-space, commit
# 51e089c3ae69b9435e9489058610f5b3964c56a8, lmms_eval/tasks/vsibench/utils.py): route_planning is in
# MCA_QUESTION_TYPES; vsibench_doc_to_text joins pre-prompt, question, "Options:\n" + the options and the post-prompt;
# vsibench_process_results scores exact_match(fuzzy_matching(prediction), ground_truth), fuzzy_matching being
# ``pred.split(' ')[0].rstrip('.').strip()``; vsibench_aggregate_results reports ``route_planning_accuracy``.
LMMS_MCA_QUESTION_TYPES = (
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
    "object_rel_distance",
    "route_planning",
    "obj_appearance_order",
)
ROUTE_QUESTION = re.compile(
    r"You are a robot beginning at the (?P<start>[^.]+?) facing the (?P<facing>[^.]+?)\. "
    r"You want to navigate to the (?P<goal>[^.]+?)\. You will perform the following actions \(Note: for each "
    r"\[please fill in\], choose either 'turn back,' 'turn left,' or 'turn right\.'\): (?P<steps>.+) "
    r"You have reached the final destination\."
)
STEP = re.compile(r"(\d+)\. (Go forward until the ([^.]+)\.|\[please fill in\])")
TURN_WORDS = {"Turn Left", "Turn Right", "Turn Back"}


def lmms_eval_route_doc(doc: dict[str, Any]) -> str:
    """What lmms-eval does with one route_planning row (doc_to_text), plus the form VSI-Bench's questions have:
    numbered steps alternating "Go forward until the X." and "[please fill in]", starting at the faced object and
    ending at the goal; options "A. Turn Left, Turn Back" with one turn per blank; the ground truth a letter."""
    assert doc["question_type"] in LMMS_MCA_QUESTION_TYPES
    text = "\n".join(
        [
            "These are frames of a video.",
            doc["question"],
            "Options:\n" + "\n".join(doc["options"]),
            "Answer with the option's letter from the given choices directly.",
        ]
    )
    found = ROUTE_QUESTION.fullmatch(doc["question"])
    assert found, doc["question"]
    steps = STEP.findall(found["steps"])
    assert " ".join(f"{n}. {step}" for n, step, _ in steps) == found["steps"]
    assert [int(n) for n, _, _ in steps] == list(range(1, len(steps) + 1)) and len(steps) % 2 == 1
    forward = [name for _, step, name in steps[0::2]]
    assert all(step == "[please fill in]" for _, step, _ in steps[1::2])
    assert forward[0] == found["facing"] and forward[-1] == found["goal"]
    blanks = len(steps) // 2
    letters = [o.split(". ", 1)[0] for o in doc["options"]]
    assert letters == [chr(ord("A") + k) for k in range(len(letters))] and doc["ground_truth"] in letters
    for option in doc["options"]:
        turns = option.split(". ", 1)[1].split(", ")
        assert len(turns) == blanks and set(turns) <= TURN_WORDS
    assert len({o.split(". ", 1)[1] for o in doc["options"]}) == len(doc["options"])
    return text


def test_vsibench_export_reads_in_lmms_eval_and_scores_100_in_every_mode(benches: Path, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    (result,) = export_benchmark(benches / "vsi-video", out, "vsibench", fps=2.0)
    assert result.question_types.get("route_planning", 0) >= 1
    docs = pq.read_table(out / result.folder / result.parquet).to_pylist()
    routes = [d for d in docs if d["question_type"] == "route_planning"]
    for doc in routes:
        text = lmms_eval_route_doc(doc)
        assert doc["question"] in text
        # the ground truth as the model's reply scores 1 with lmms-eval's own matching
        assert doc["ground_truth"].split(" ")[0].rstrip(".").strip().lower() == doc["ground_truth"].lower()
    # lmms-eval's --log_samples lines answering every question with its ground truth: 100 in every scoring mode
    results = tmp_path / "samples.jsonl"
    lines = [
        {"doc_id": k, "doc": d, "target": d["ground_truth"], "filtered_resps": [d["ground_truth"]]}
        for k, d in enumerate(docs)
    ]
    results.write_text("".join(json.dumps(line) + "\n" for line in lines))
    # every scoring mode that scores VSI-Bench's question types
    for mode in scoring_modes(["ladder", "spatialladder", "thinking-in-space", "lmms-eval"]):
        (summary,) = evaluate(benches / "vsi-video", results, tmp_path / mode.name, modes=[mode])[mode.name].values()
        assert isinstance(summary, BenchmarkSummary) and summary.tasks["route_planning"] == 100.0, (mode, summary)
        assert summary.avg == 100.0 and not summary.errors
    # and a wrong letter on one route question costs that question only
    wrong = routes[0]
    other = next(o.split(". ", 1)[0] for o in wrong["options"] if o.split(". ", 1)[0] != wrong["ground_truth"])
    lines = [line | {"filtered_resps": [other]} if line["doc"]["id"] == wrong["id"] else line for line in lines]
    results.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (summary,) = evaluate(benches / "vsi-video", results, tmp_path / "wrong", modes=scoring_modes(["lmms-eval"]))[
        "lmms-eval"
    ].values()
    assert isinstance(summary, BenchmarkSummary)
    assert summary.tasks["route_planning"] == pytest.approx(100 * (len(routes) - 1) / len(routes), abs=0.005)


# ------------------------------------------------------------------------------------------------ the map


def route_draft(ctx: SceneContext, facing: str = "cabinet") -> Draft:
    kept, _ = drafts(ctx, shown(ctx))
    return next(
        d for d in kept if (d.fields["start"], d.fields["facing"], d.fields["goal"]) == ("chair", facing, "trash can")
    )


def rect_corners(rect: Rect) -> set[tuple[float, float]]:
    x0, y0, x1, y1 = rect
    return {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}


def test_a_rows_map_holds_the_planned_path_and_the_rooms_footprints() -> None:
    ctx = room(R2, R2_FLOOR)
    stored = RouteMap.model_validate(route_draft(ctx).extras[ROUTE_MAP_KEY])
    _, route = plan(R2, floor=R2_FLOOR)
    assert not isinstance(route, str), route
    # the planner's path, to the millimetre it is stored at
    assert len(stored.path) == len(route.path)
    assert np.abs(np.array(stored.path) - route.path).max() <= 5e-4
    # the question's objects in the row's order, each footprint the rectangle the room was built with
    expected = [("chair", "start", CHAIR), ("cabinet", "landmark", CABINET), ("box", "landmark", BOX)]
    expected.append(("trash can", "goal", TRASH2))
    assert [(o.label, o.role) for o in stored.objects] == [(label, role) for label, role, _ in expected]
    for obj, (_, _, rect) in zip(stored.objects, expected, strict=True):
        assert {(round(x, 2), round(y, 2)) for x, y in obj.footprint} == rect_corners(rect)
    # the other obstacles (bookshelf, sofa) unlabelled
    assert sorted(map(tuple, (sorted(p) for p in stored.obstacles))) == sorted(
        tuple(sorted(rect_corners(r))) for r in (BOOKSHELF, SOFA)
    )
    # one free region inside the floor, less the body radius (outlines run through boundary cell centres)
    assert len(stored.free) == 1 and stored.holes
    xy = np.array(stored.free[0])
    assert xy[:, 0].min() >= BODY - 0.001 and xy[:, 0].max() <= 12.0 - BODY + 0.001
    assert xy[:, 1].min() >= BODY - 0.001 and xy[:, 1].max() <= 6.0 - BODY + 0.001


def rect_distance_px(corners: list[tuple[float, float]], point: tuple[float, float]) -> float:
    """Distance from a pixel to an axis-aligned rectangle given by its corners in pixels."""
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    dx = max(min(xs) - point[0], 0.0, point[0] - max(xs))
    dy = max(min(ys) - point[1], 0.0, point[1] - max(ys))
    return math.hypot(dx, dy)


def test_the_maps_drawn_path_follows_the_route_past_the_landmarks_in_order() -> None:
    ctx = room(R2, R2_FLOOR)
    stored = RouteMap.model_validate(route_draft(ctx).extras[ROUTE_MAP_KEY])
    image, view = route_map_view(stored, 600)
    pixels = np.asarray(image)
    # each object's footprint is drawn in its box colour where the room has it (ties the view to the room)
    for k, rect in enumerate((CHAIR, CABINET, BOX, TRASH2)):
        ((x, y),) = view.px([centre(rect)])
        assert tuple(pixels[round(y), round(x)]) == BOX_COLORS[k]
    # every pixel in the path's colour lies on the stored polyline (within its arrow heads' size)
    path = np.array(view.px(stored.path))
    rows, cols = np.nonzero((pixels == PATH_COLOR).all(axis=2))
    assert len(rows) > 100

    def to_polyline(p: np.ndarray) -> float:
        best = np.inf
        for a, b in pairwise(path):
            t = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0, 1)
            best = min(best, float(np.linalg.norm(p - (a + t * (b - a)))))
        return best

    assert max(to_polyline(np.array([c, r], dtype=float)) for r, c in zip(rows, cols, strict=True)) <= 16
    # and the polyline is drawn: points along it (the room's own route, not the stored one) are in the path's
    # colour, save where a label sits on it
    samples = [a + t * (b - a) for a, b in pairwise(path) for t in np.linspace(0, 1, 60)]
    drawn = [p for p in samples if tuple(pixels[round(p[1]), round(p[0])]) == PATH_COLOR]
    assert len(drawn) >= 0.85 * len(samples)
    # the drawn path passes the cabinet, then the box, each within reach (0.6 m) of its footprint
    reach_px = 0.6 * view.scale
    first_near = [
        next(k for k, p in enumerate(drawn) if rect_distance_px(view.px(sorted(rect_corners(r))), p) <= reach_px)
        for r in (CABINET, BOX)
    ]
    assert first_near[0] < first_near[1]
    # the map is to scale: the 12 m floor spans the image's width less its margins
    assert view.scale * 12.0 == pytest.approx(600 - 2 * MAP_MARGIN, rel=0.05)


def test_rows_without_extras_serialise_as_before() -> None:
    """Shards of datasets without route planning keep their bytes: no ``extras`` in a row's dump (which keys the
    shard) and no ``extras`` column."""
    ctx = room(R1, RECT)
    draft = route_draft(ctx)
    fields = {
        "id": "x",
        "task": "route_planning",
        "modality": Modality.VIDEO,
        "scene_id": ctx.scan_id,
        "source": "scannet",
        "frame_ids": [0],
        "timestamps": None,
        "image_width": 4,
        "image_height": 4,
        "question": "q",
        "options": [],
        "answer": "A",
        "answer_type": "mcq",
        "objects": draft.objects,
        "margins": draft.margins,
    }
    assert "extras" not in Sample.model_validate(fields).model_dump_json()
    assert "extras" in Sample.model_validate(fields | {"extras": draft.extras}).model_dump_json()
    assert "extras" not in shard_schema(["visibility_min"]).names
    assert shard_schema(["visibility_min"], extras=True).names[-1] == "extras"


def test_bench_rows_carry_their_route_map_and_cards_draw_it(benches: Path) -> None:
    rows = list(BenchReader(benches / "vsi-video").rows(with_images=True))
    routes = [r for r in rows if r.task == "route_planning"]
    assert routes and all(not r.extras for r in rows if r.task != "route_planning")
    for row in routes:
        sample = PreviewSample.of(row)
        stored = RouteMap.model_validate(sample.extras[ROUTE_MAP_KEY])
        assert [o.role for o in stored.objects] == [o.role for o in sample.objects]
        assert [o.label for o in stored.objects] == [o.category for o in sample.objects]
        # the card (as the preview and the report draw it) has the map under its frames
        frames = row.images or []
        image = route_map_image(sample, 2 * CARD_WIDTH - 2 * PAD)
        assert image is not None and image.width == 2 * CARD_WIDTH - 2 * PAD
        card = render_card(sample, frames, 2 * CARD_WIDTH)
        without = render_card(sample.model_copy(update={"extras": {}}), frames, 2 * CARD_WIDTH)
        assert card.height == without.height + 4 + image.height
        drawn, expected = np.asarray(card)[:, PAD:-PAD], np.asarray(image)
        tops = [y for y in range(card.height - image.height) if np.array_equal(drawn[y], expected[0])]
        assert any(np.array_equal(drawn[y : y + image.height], expected) for y in tops)


def test_only_recipes_with_route_planning_redraft_for_its_drafts_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bumping route_planning's ``drafts_version`` (its drafts gained the map) recomputes cached drafts of recipes
    with the task; other recipes keep their drafts keys, which key their shards."""
    with_routes, without = Recipe.load("vsi-video"), Recipe.load("spatialladder-26k")
    assert "route_planning" in with_routes.tasks and "route_planning" not in without.tasks
    before = {r.name: drafts_key("metadata", r, 0) for r in (with_routes, without)}
    monkeypatch.setattr(get_task("route_planning"), "drafts_version", "next")
    assert drafts_key("metadata", with_routes, 0) != before[with_routes.name]
    assert drafts_key("metadata", without, 0) == before[without.name]
