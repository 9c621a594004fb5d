"""The top-down map of a route-planning row: the room to scale, its free space, obstacles, the question's objects
and the path."""

import math
from itertools import pairwise

from PIL import Image, ImageDraw

from ladderdata.preview.draw import ANSWER_COLOR, BOX_COLORS, TEXT_COLOR, font, line_height, plate
from ladderdata.tasks.route_map import RouteMap

MAP_HEIGHT = 420
"""Most pixels a route map is tall (a long, narrow room is drawn to the card's width, less tall)."""
MAP_MARGIN = 16
FREE_COLOR = (250, 250, 244)
OUTSIDE_COLOR = (205, 205, 200)
OBSTACLE_COLOR = (150, 150, 150)
PATH_COLOR = ANSWER_COLOR
"""The path is the answer's route; no other mark of the map has this colour (lines and polygons are not
anti-aliased)."""
PATH_WIDTH = 4


class MapView:
    """The affine map from metres (x right, y up, seen from above) to the pixels of a route map image
    ``width`` pixels wide, fitting ``bounds`` (x0, y0, x1, y1) with :data:`MAP_MARGIN` around it."""

    def __init__(self, bounds: tuple[float, float, float, float], width: int) -> None:
        x0, y0, x1, y1 = bounds
        span_x, span_y = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
        self.scale = min((width - 2 * MAP_MARGIN) / span_x, (MAP_HEIGHT - 2 * MAP_MARGIN) / span_y)
        """Pixels per metre."""
        self.size = (width, math.ceil(span_y * self.scale) + 2 * MAP_MARGIN)
        self.left = (width - span_x * self.scale) / 2 - x0 * self.scale
        self.top = MAP_MARGIN + y1 * self.scale

    def px(self, points: list[tuple[float, float]] | list[list[float]]) -> list[tuple[float, float]]:
        """Pixel (x, y) of each point (metres)."""
        return [(self.left + x * self.scale, self.top - y * self.scale) for x, y in points]


def _arrow(draw: ImageDraw.ImageDraw, tail: tuple[float, float], tip: tuple[float, float], size: float) -> None:
    """A filled arrow head at ``tip``, pointing away from ``tail``."""
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return
    ux, uy = dx / length, dy / length
    back = (tip[0] - ux * size, tip[1] - uy * size)
    wing = (-uy * size * 0.5, ux * size * 0.5)
    draw.polygon([tip, (back[0] + wing[0], back[1] + wing[1]), (back[0] - wing[0], back[1] - wing[1])], fill=PATH_COLOR)


def route_map_view(route: RouteMap, width: int) -> tuple[Image.Image, MapView]:
    """A route-planning row's room from above, to scale: free space (light) in the unwalkable rest (grey), the
    other obstacles' footprints, the question's objects' footprints in their box colours (the colours of the
    row's ``objects`` on the frames) with their labels, the path with a dot at its start and an arrow head on
    each leg and at its end, and a 1 m scale bar. Returns the image and its :class:`MapView`."""
    points = [p for polygon in route.free for p in polygon] + list(route.path)
    points += [p for o in route.objects for p in o.footprint]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    view = MapView((min(xs), min(ys), max(xs), max(ys)), width)
    image = Image.new("RGB", view.size, OUTSIDE_COLOR)
    draw = ImageDraw.Draw(image)
    for polygon in route.free:
        draw.polygon(view.px(polygon), fill=FREE_COLOR)
    for polygon in route.holes:
        draw.polygon(view.px(polygon), fill=OUTSIDE_COLOR)
    for polygon in route.obstacles:
        draw.polygon(view.px(polygon), fill=OBSTACLE_COLOR)
    for k, obj in enumerate(route.objects):
        draw.polygon(view.px(obj.footprint), fill=BOX_COLORS[k % len(BOX_COLORS)], outline=(0, 0, 0))
    path = view.px(route.path)
    draw.line(path, fill=PATH_COLOR, width=PATH_WIDTH, joint="curve")
    for a, b in pairwise(path):
        _arrow(draw, a, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), 12)
    _arrow(draw, path[-2], path[-1], 14)
    draw.ellipse((path[0][0] - 7, path[0][1] - 7, path[0][0] + 7, path[0][1] + 7), fill=PATH_COLOR)
    for k, obj in enumerate(route.objects):  # labels last, so that no path crosses them
        corners = view.px(obj.footprint)
        label = f"{obj.label} ({obj.role})"
        plate_width = font(16, bold=True).getlength(label) + 8
        right, left = max(c[0] for c in corners) + 4, min(c[0] for c in corners) - 4 - plate_width
        x = right if right + plate_width <= image.width or left < 0 else left  # beside the footprint, not on it
        y = min(max(min(c[1] for c in corners), 0), image.height - line_height(font(16, bold=True)))
        plate(draw, (x, y), label, BOX_COLORS[k % len(BOX_COLORS)])
    bar = view.px([(0.0, 0.0), (1.0, 0.0)])
    bar_length = bar[1][0] - bar[0][0]
    y = image.height - 10
    draw.line([(8, y), (8 + bar_length, y)], fill=TEXT_COLOR, width=3)
    draw.text((12 + bar_length, y - 16), "1 m", font=font(14), fill=TEXT_COLOR)
    return image, view
