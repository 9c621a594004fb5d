"""route_planning: VSI-Bench's route-plan questions. Beginning at object A and facing object B, which turns
take me to object C? The route is "go forward until the X" steps with the turns between them as blanks; the
options are turn sequences ("Turn Left, Turn Back").

The route is planned on the room's free-space grid (:mod:`ladderdata.geometry.free_space`): the floor minus
the footprints of the objects that stand in the way, eroded by a body radius. The walker begins within ``reach``
of A, walks straight to B (VSI-Bench's routes begin "go forward until" the faced object), then takes the
shortest way to C; pulled taut, that way is a few straight legs, each ending by an object (its landmark). The
turn at each landmark is the heading change seen from above (z up, counter-clockwise = left): ``back`` from
135° on (VSI-Bench's "turn at least 135 degrees" of its relative-direction questions), else ``left`` or
``right``. A question is kept only when it is unambiguous (docs/tasks.md#route_planning):

* B is in sight from the start (``facing_blocked``); every landmark is a referable object (askable, visible in
  the views shown, the only one of its category there) and the only object within ``reach`` of its bend, the
  next one ``min_landmark_gap`` farther;
* every turn is ``min_angle_margin_deg`` from the answer boundaries (0° and ±135°), both on the path and on
  the polyline through the landmarks' centres (what a reader of the question pictures), and they agree;
* each leg heads for its landmark (within ``max_bearing_deg``) and is at least ``min_leg`` long;
* no other route is nearly as short: the corridor of near-shortest paths encloses no obstacle up to a detour of
  ``min_detour`` (:func:`ladderdata.geometry.free_space.detour_margin`).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise, product
from typing import ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from ladderdata.geometry.free_space import (
    FloorGrid,
    Planner,
    cells_near_polygon,
    detour_margin,
    free_space,
    polygon_distance,
    signed_turn_deg,
    taut_vertices,
    visible_from,
)
from ladderdata.tasks.base import (
    AnswerType,
    Draft,
    FilterConfig,
    GuardBands,
    Modality,
    OfficialScorer,
    Rejections,
    TaskConfig,
    TaskGenerator,
    clear_of,
    register_task,
)
from ladderdata.tasks.context import ObjectFacts, SceneContext, Shown
from ladderdata.tasks.route_map import ROUTE_MAP_KEY, route_map
from ladderdata.typed import FloatArray, IntArray, Points2

BACK_TURN_DEG = 135.0
"""A turn of at least this many degrees is "turn back" (VSI-Bench's back threshold)."""
TURNS = ("left", "right", "back")
NOT_OBSTACLES = ("floor", "ceiling", "wall")
"""Categories (and NYU40 classes) that never block the way: the floor raster already ends at the walls."""
DETOUR_CAP = 0.5
""":func:`detour_margin` looks for an alternative route up to 50 % longer (the stored margin saturates there)."""


def turn_of(angle_deg: float) -> str:
    """``back`` from 135° on, else ``left`` for a counter-clockwise turn (> 0), ``right`` otherwise."""
    if abs(angle_deg) >= BACK_TURN_DEG:
        return "back"
    return "left" if angle_deg > 0 else "right"


def turn_margin(angle_deg: float) -> float:
    """Degrees from a heading change to the nearest answer boundary (0° and ±135°)."""
    return min(abs(angle_deg), abs(abs(angle_deg) - BACK_TURN_DEG))


def option_text(turns: tuple[str, ...]) -> str:
    """A turn sequence as VSI-Bench's options write it: ``Turn Left, Turn Back``."""
    return ", ".join(f"Turn {t.capitalize()}" for t in turns)


def actions_text(landmarks: list[str]) -> str:
    """The numbered steps, "go forward" to each landmark with a blank between two:
    ``1. Go forward until the tv. 2. [please fill in] 3. Go forward until the door.``"""
    steps = []
    for k, name in enumerate(landmarks):
        if k:
            steps.append("[please fill in]")
        steps.append(f"Go forward until the {name}.")
    return " ".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))


class RoutePlanningConfig(TaskConfig):
    resolution: float = Field(0.05, gt=0.005, le=0.5, description="metres per free-space grid cell")
    body_radius: float = Field(0.2, ge=0, le=2, description="metres kept between the walker's centre and anything")
    obstacle_height: float = Field(
        1.5, gt=0, le=10, description="metres: an object whose box starts below this height above the floor blocks"
    )
    reach: float = Field(
        0.6, gt=0, le=5, description="metres from an object's footprint: where the route starts, ends, or turns by it"
    )
    min_landmark_gap: float = Field(
        0.15, ge=0, le=5, description="metres: the next object is this much farther from a bend than its landmark"
    )
    straight_deg: float = Field(
        10.0, ge=0, le=45, description="a bend of the path turning less than this is no turn (the leg goes on)"
    )
    min_angle_margin_deg: float = Field(
        20.0, ge=0, le=67.5, description="a turn's distance to the answer boundaries 0° and ±135°"
    )
    max_bearing_deg: float = Field(
        30.0, gt=0, le=90, description="angle between a leg and the direction to the landmark it ends at"
    )
    min_leg: float = Field(0.5, ge=0, le=20, description="metres: shortest leg")
    min_detour: float = Field(
        0.1, ge=0, le=DETOUR_CAP, description="another route around an obstacle is at least this fraction longer"
    )
    min_turns: int = Field(1, ge=1, le=6)
    max_turns: int = Field(2, ge=1, le=6, description="VSI-Bench's routes take two to five movements")
    choices: int = Field(4, ge=2, le=6, description="options (fewer when fewer turn sequences exist)")
    tries: int = Field(100, ge=1, le=100_000, description="(start, faced, goal) triples tried per image set")

    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = (("min_turns", "max_turns"),)

    @model_validator(mode="after")
    def _reach_beyond_body(self) -> Self:
        if self.reach <= self.body_radius:
            raise ValueError(
                f"reach ({self.reach}) must exceed body_radius ({self.body_radius}): free cells lie "
                "farther than body_radius from every object"
            )
        return self


def footprint(obj: ObjectFacts) -> Points2:
    """(4, 2) corners of an object's gravity-aligned box seen from above, counter-clockwise."""
    box = obj.box
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * np.array(box.size[:2]) / 2
    return np.asarray(half @ np.array([[c, s], [-s, c]]) + np.array(box.center[:2]), dtype=np.float64)


@dataclass
class RoomPlan:
    """A scene's free-space grid, its obstacles and the distance fields computed so far."""

    grid: FloorGrid
    planner: Planner
    obstacles: dict[int, Points2]
    """Object id -> footprint, for every object that blocks the way (the landmarks are among them)."""
    fields: dict[tuple[int, int], tuple[FloatArray, IntArray]] = field(default_factory=dict)
    _near: dict[int, IntArray] = field(default_factory=dict)
    _stacked: dict[tuple[int, int], bool] = field(default_factory=dict)
    """Distance fields from single cells (row, col)."""
    rings: dict[int, tuple[FloatArray, IntArray]] = field(default_factory=dict)
    """Distance fields from the cells within reach of an object (by its id)."""

    def stacked(self, a: int, b: int) -> bool:
        """Whether one object's footprint centre lies in the other's footprint (a lamp on a nightstand)."""
        key = (a, b) if a < b else (b, a)
        if key not in self._stacked:
            fa, fb = self.obstacles[a], self.obstacles[b]
            inside = (
                polygon_distance(fa, fb.mean(axis=0)[None])[0] == 0
                or polygon_distance(fb, fa.mean(axis=0)[None])[0] == 0
            )
            self._stacked[key] = bool(inside)
        return self._stacked[key]

    def near(self, object_id: int, reach: float) -> IntArray:
        """(S, 2) free cells within ``reach`` of an object's footprint (one reach per plan: its config's)."""
        if object_id not in self._near:
            self._near[object_id] = cells_near_polygon(self.grid, self.obstacles[object_id], reach)
        return self._near[object_id]

    def field_to(self, object_id: int, cells: IntArray) -> tuple[FloatArray, IntArray]:
        """The distance field from ``cells``, the free cells within reach of object ``object_id``."""
        if object_id not in self.rings:
            self.rings[object_id] = self.planner.field(cells)
        return self.rings[object_id]

    def field_from(self, cell: IntArray) -> tuple[FloatArray, IntArray]:
        key = (int(cell[0]), int(cell[1]))
        if key not in self.fields:
            self.fields[key] = self.planner.field(cell[None])
        return self.fields[key]


def room_plan(ctx: SceneContext, cfg: RoutePlanningConfig) -> RoomPlan | None:
    """The scene's :class:`RoomPlan`; None when it has no floor annotation."""
    if ctx.floor_mesh is None:
        return None
    vertices, faces = ctx.floor_mesh
    floor_z = float(np.median(vertices[:, 2]))
    obstacles = {
        i: footprint(o)
        for i, o in sorted(ctx.objects.items())
        if o.category not in NOT_OBSTACLES
        and o.nyu40_class not in NOT_OBSTACLES
        and o.box.center[2] - o.box.size[2] / 2 < floor_z + cfg.obstacle_height
    }
    grid = free_space(vertices, faces, list(obstacles.values()), cfg.body_radius, cfg.resolution)
    return RoomPlan(grid, Planner(grid), obstacles)


@dataclass(frozen=True)
class Route:
    """A planned route: its bends' landmarks and turns, the taut path and the margins its filters compared."""

    landmarks: list[int]
    """Object ids of the bends, in order (the first is the faced object B)."""
    turns: list[str]
    path: Points2
    """(M, 2) xy of the taut path: start, its bends (one or more per landmark), goal."""
    margins: dict[str, float]


def straighten(path: Points2, straight_deg: float) -> Points2:
    """(M', 2) ``path`` without the bends whose heading change is below ``straight_deg`` (smallest first, each
    removal re-measuring its neighbours): a kink of a few degrees is no turn to a walker."""
    points = list(path)
    while len(points) > 2:
        changes = [
            abs(signed_turn_deg(points[k] - points[k - 1], points[k + 1] - points[k]))
            for k in range(1, len(points) - 1)
        ]
        k = int(np.argmin(changes))
        if changes[k] >= straight_deg:
            break
        del points[k + 1]
    return np.asarray(points, dtype=np.float64)


class _RouteRejectedError(Exception):
    """A route step's rejection; ``reason`` is the filter's name (:func:`plan_route` returns it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _gate_below(value: float, threshold: float, band: float, rejection: str, margin: str) -> None:
    """Reject a margin below its minimum (``rejection``) or within ``band`` of it (``guard_band:<margin>``)."""
    if value < threshold:
        raise _RouteRejectedError(rejection)
    if not clear_of(value, threshold, band):
        raise _RouteRejectedError(f"guard_band:{margin}")


def _nearest_finite(distances: FloatArray) -> int:
    """Index of the smallest of ``distances``; "unreachable" when none is finite."""
    if not np.isfinite(distances.min()):
        raise _RouteRejectedError("unreachable")
    return int(np.argmin(distances))


@dataclass(frozen=True)
class _Ends:
    """Where the walk begins (xy), meets the faced object and ends (grid cells (row, col); the goal's xy too)."""

    start_xy: FloatArray
    faced_cell: IntArray
    goal_cell: IntArray
    goal_xy: FloatArray
    goal_pred: IntArray
    """Predecessors of the distance field from the goal cell (the shortest way from the faced cell back)."""
    onward: float
    """Metres of the shortest way from the faced cell to the goal cell."""


def _start_and_faced(
    ctx: SceneContext, plan: RoomPlan, near: dict[int, IntArray], start: int, facing: int
) -> tuple[FloatArray, IntArray]:
    """The xy of the start cell (where, within reach of A, B is nearest) and the cell nearest B's centre in sight
    from it (the walker goes straight there); "facing_blocked" when the shortest way to B bends."""
    grid, node = plan.grid, plan.planner.node
    ring, ring_pred = plan.field_to(facing, near[facing])
    s_cell = near[start][_nearest_finite(ring[node[near[start][:, 0], near[start][:, 1]]])]
    s_xy = grid.centres(s_cell[None])[0]
    if not visible_from(grid, s_xy, grid.centres(plan.planner.path(s_cell, ring_pred)[-1:]))[0]:
        raise _RouteRejectedError("facing_blocked")
    b_xy = grid.centres(near[facing])
    by_closeness = np.argsort(np.linalg.norm(b_xy - ctx.objects[facing].center[:2], axis=1), kind="stable")
    for chunk in np.array_split(by_closeness, max(1, len(by_closeness) // 32)):  # the closest cell in sight
        in_sight = np.flatnonzero(visible_from(grid, s_xy, b_xy[chunk]))
        if len(in_sight):
            return s_xy, near[facing][chunk[in_sight[0]]]
    raise _RouteRejectedError("facing_blocked")


def _route_ends(
    ctx: SceneContext, plan: RoomPlan, start: int, facing: int, goal: int, cfg: RoutePlanningConfig
) -> _Ends:
    """The route's :class:`_Ends`: straight from near A to B, then the shortest way to the cells near C."""
    near = {i: plan.near(i, cfg.reach) for i in (start, facing, goal)}
    if any(not len(cells) for cells in near.values()):
        raise _RouteRejectedError("unreachable")
    s_xy, b_cell = _start_and_faced(ctx, plan, near, start, facing)
    node = plan.planner.node
    on_goal = plan.field_from(b_cell)[0][node[near[goal][:, 0], near[goal][:, 1]]]
    g_cell = near[goal][_nearest_finite(on_goal)]
    return _Ends(
        start_xy=s_xy,
        faced_cell=b_cell,
        goal_cell=g_cell,
        goal_xy=plan.grid.centres(g_cell[None])[0],
        goal_pred=plan.field_from(g_cell)[1],
        onward=float(on_goal.min()),
    )


def _detour(plan: RoomPlan, ends: _Ends, cfg: RoutePlanningConfig, bands: GuardBands) -> float:
    """How much longer another route from B to C is (:func:`detour_margin`), gated by ``min_detour``."""
    through = plan.planner.raster(plan.field_from(ends.faced_cell)[0]) + plan.planner.raster(
        plan.field_from(ends.goal_cell)[0]
    )
    detour = detour_margin(through, ends.onward, DETOUR_CAP, max(4, round((cfg.body_radius / cfg.resolution) ** 2)))
    if detour < cfg.min_detour:
        raise _RouteRejectedError("route_not_unique")
    # the detour is a ratio of route lengths, 1 + detour (at the cap no other route was found: nothing to band)
    if detour < DETOUR_CAP and not clear_of(1 + detour, 1 + cfg.min_detour, (1 + cfg.min_detour) * bands.ratio):
        raise _RouteRejectedError("guard_band:detour_margin")
    return detour


def _bend_landmarks(
    plan: RoomPlan, path: Points2, facing: int, cfg: RoutePlanningConfig, bands: GuardBands
) -> tuple[list[int], list[float]]:
    """The landmark of each bend of ``path`` and its gap to the next object: the faced object at the first, else
    the one object within reach; the next object min_landmark_gap farther (objects standing on it or under it
    mark the same place and are no rivals)."""
    ids = list(plan.obstacles)
    distances = np.stack([polygon_distance(plan.obstacles[i], path[1:-1]) for i in ids], axis=1)  # (bends, objects)
    bend_landmarks, gaps = [], []
    for k, row in enumerate(distances):
        order = np.argsort(row, kind="stable")
        landmark = facing if k == 0 else ids[int(order[0])]
        own = float(row[ids.index(landmark)])
        if own > cfg.reach:
            raise _RouteRejectedError("no_landmark")
        rivals = [float(row[m]) for m in order if ids[int(m)] != landmark and not plan.stacked(landmark, ids[int(m)])]
        gap = rivals[0] - own if rivals else np.inf
        _gate_below(gap, cfg.min_landmark_gap, bands.depth, "landmark_ambiguous", "landmark_gap")
        bend_landmarks.append(landmark)
        gaps.append(gap)
    return bend_landmarks, gaps


def _turn_groups(
    bend_landmarks: list[int], start: int, goal: int, cfg: RoutePlanningConfig
) -> list[tuple[int, int, int]]:
    """(landmark, first, last) path indices of each turn: consecutive bends by one landmark (around its
    corners) are one turn."""
    groups: list[tuple[int, int, int]] = []
    for k, landmark in enumerate(bend_landmarks, start=1):
        if groups and groups[-1][0] == landmark:
            groups[-1] = (landmark, groups[-1][1], k)
        else:
            groups.append((landmark, k, k))
    if len(groups) < cfg.min_turns:
        raise _RouteRejectedError("too_few_turns")
    if len(groups) > cfg.max_turns:
        raise _RouteRejectedError("too_many_turns")
    if len({start, goal, *(g[0] for g in groups)}) != len(groups) + 2:
        raise _RouteRejectedError("landmark_repeated")
    return groups


def _leg_ends(groups: list[tuple[int, int, int]], path_length: int) -> list[tuple[int, int]]:
    """Path indices of the "go forward" legs: start -> first bend of the first landmark -> ... -> last bend of
    the last -> goal."""
    leg_ends = [(0, groups[0][1])]
    leg_ends += [(prev[2], nxt[1]) for prev, nxt in pairwise(groups)]
    leg_ends.append((groups[-1][2], path_length - 1))
    return leg_ends


def _bearing(
    path: Points2, leg_ends: list[tuple[int, int]], targets: Points2, cfg: RoutePlanningConfig, bands: GuardBands
) -> float:
    """The largest angle between a leg and the direction to the object it ends at (the first for B, which the
    walker faces), gated by ``max_bearing_deg``."""
    bearing = max(
        abs(signed_turn_deg(path[a + 1] - path[a], t - path[a])) for (a, _), t in zip(leg_ends, targets, strict=True)
    )
    if bearing > cfg.max_bearing_deg:
        raise _RouteRejectedError("bearing")
    if not clear_of(bearing, cfg.max_bearing_deg, bands.angle_deg):
        raise _RouteRejectedError("guard_band:bearing_offset_deg")
    return bearing


def _turns(
    path: Points2, centres: Points2, groups: list[tuple[int, int, int]], cfg: RoutePlanningConfig, bands: GuardBands
) -> tuple[list[str], float]:
    """Each turn on the path (the bends' heading changes, summed) and on the polyline ``centres`` through the
    landmarks' centres (start and goal cells at its ends), and the smallest margin to an answer boundary."""
    turns, margin = [], np.inf
    for k, (_, first, last) in enumerate(groups, start=1):
        on_path = sum(signed_turn_deg(path[i] - path[i - 1], path[i + 1] - path[i]) for i in range(first, last + 1))
        on_centres = signed_turn_deg(centres[k] - centres[k - 1], centres[k + 1] - centres[k])
        if turn_of(on_path) != turn_of(on_centres):
            raise _RouteRejectedError("turn_disagrees")
        margin = min(margin, turn_margin(on_path), turn_margin(on_centres))
        turns.append(turn_of(on_path))
    _gate_below(margin, cfg.min_angle_margin_deg, bands.angle_deg, "angle_margin", "angle_margin")
    return turns, margin


def plan_route(
    ctx: SceneContext, plan: RoomPlan, start: int, facing: int, goal: int, cfg: RoutePlanningConfig, bands: GuardBands
) -> Route | str:
    """The route from object ``start``, facing object ``facing``, to object ``goal``, or the name of the filter
    that rejects it: straight to the faced object (VSI-Bench's first step is "go forward until" it), then the
    shortest way on. Every gated margin must clear its threshold by its guard band in ``bands``
    (``guard_band:<margin>``). Landmarks are not checked for referability here (the caller knows the views)."""
    try:
        ends = _route_ends(ctx, plan, start, facing, goal, cfg)
        detour = _detour(plan, ends, cfg, bands)
        taut = taut_vertices(plan.grid, plan.planner.path(ends.faced_cell, ends.goal_pred))
        path = np.vstack([ends.start_xy, straighten(taut, cfg.straight_deg)])
        bend_landmarks, gaps = _bend_landmarks(plan, path, facing, cfg, bands)
        groups = _turn_groups(bend_landmarks, start, goal, cfg)
        landmarks = [g[0] for g in groups]
        leg_ends = _leg_ends(groups, len(path))
        leg_lengths = [float(np.linalg.norm(path[b] - path[a])) for a, b in leg_ends]
        _gate_below(min(leg_lengths), cfg.min_leg, bands.depth, "short_leg", "min_leg")
        targets = np.array([ctx.objects[i].center[:2] for i in [*landmarks, goal]])
        bearing = _bearing(path, leg_ends, targets, cfg, bands)
        turns, margin = _turns(path, np.vstack([ends.start_xy, targets[:-1], ends.goal_xy]), groups, cfg, bands)
    except _RouteRejectedError as rejected:
        return rejected.reason
    return Route(
        landmarks=landmarks,
        turns=turns,
        path=path,
        margins={
            "angle_margin_deg": float(margin),
            "landmark_gap": float(min(min(gaps), 100.0)),
            "bearing_offset_deg": float(bearing),
            "min_leg": min(leg_lengths),
            "detour_margin": float(detour),
            "route_length": float(np.linalg.norm(path[1] - ends.start_xy)) + ends.onward,
        },
    )


@register_task("route_planning")
class RoutePlanning(TaskGenerator[RoutePlanningConfig]):
    answer_type: ClassVar[AnswerType] = AnswerType.MCQ
    short_name: ClassVar[str] = "Route Plan."
    official: ClassVar[frozenset[OfficialScorer]] = frozenset({OfficialScorer.VSIBENCH, OfficialScorer.SPATIALLADDER})
    supported: ClassVar[tuple[Modality, ...]] = (Modality.VIDEO, Modality.MULTI_VIEW)
    margins: ClassVar[tuple[str, ...]] = (
        "visibility_min",
        "angle_margin_deg",
        "landmark_gap",
        "bearing_offset_deg",
        "min_leg",
        "detour_margin",
        "route_length",
    )
    drafts_version: ClassVar[str] = "2"
    """2: drafts carry the route's top-down map (``extras``)."""

    def __init__(self, config: RoutePlanningConfig | None = None, filters: FilterConfig | None = None) -> None:
        super().__init__(config, filters)
        self._plan: tuple[str, RoomPlan | None] | None = None

    def template_choices(self) -> dict[str, int]:
        cfg = self.config
        return {self.name: min(cfg.choices, 3**cfg.min_turns)}

    def room(self, ctx: SceneContext) -> RoomPlan | None:
        """The scene's plan, kept for the scene's next image set (one scene at a time)."""
        cfg = self.config
        if self._plan is None or self._plan[0] != ctx.scan_id:
            self._plan = (ctx.scan_id, room_plan(ctx, cfg))
        return self._plan[1]

    def drafts(
        self, ctx: SceneContext, shown: Shown, rng: np.random.Generator, rejections: Rejections
    ) -> Iterator[Draft]:
        cfg = self.config
        plan = self.room(ctx)
        if not rejections.check("no_floor", plan is not None):
            return
        assert plan is not None
        referable = {i for i in self.candidates(ctx, shown, rejections) if i in plan.obstacles}
        ends = sorted(referable)
        triples = [(a, b, c) for a in ends for b in ends for c in ends if len({a, b, c}) == 3]
        for k in rng.permutation(len(triples))[: cfg.tries]:
            a, b, c = triples[int(k)]
            route = plan_route(ctx, plan, a, b, c, cfg, self.filters.guard_bands)
            if isinstance(route, str):
                rejections.counts[route] += 1
                continue
            if not rejections.check("landmark_not_referable", set(route.landmarks) <= referable):
                continue
            answer = tuple(route.turns)
            others = [t for t in product(TURNS, repeat=len(answer)) if t != answer]
            picked = rng.choice(len(others), size=min(cfg.choices - 1, len(others)), replace=False)
            names = [ctx.objects[i].category for i in route.landmarks]
            refs = [
                self.ref(ctx, shown, a, "start"),
                *(self.ref(ctx, shown, i, "landmark") for i in route.landmarks),
                self.ref(ctx, shown, c, "goal"),
            ]
            yield Draft(
                template=self.name,
                fields={
                    "start": ctx.objects[a].category,
                    "facing": names[0],
                    "goal": ctx.objects[c].category,
                    "actions": actions_text([*names, ctx.objects[c].category]),
                },
                choices=[option_text(answer), *(option_text(others[int(i)]) for i in picked)],
                objects=refs,
                margins={"visibility_min": min(r.visibility for r in refs), **route.margins},
                extras={
                    ROUTE_MAP_KEY: route_map(
                        plan.grid,
                        plan.obstacles,
                        [(r.object_id, r.category, r.role) for r in refs],
                        route.path,
                    ).model_dump(mode="json")
                },
            )
