"""Draw the demo stream's photos: abstract stage, crowd and tent scenes, made here with
Pillow so that they are ours to share (CC0, see photos/LICENSE).

Run `python -m server.demo.make_photos` to draw them again; the same seed draws the same
pictures.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "photos"
SIZE = (960, 640)
# name: (sky top, sky bottom, light colour)
SCENES = {
    "stage-blue": ((10, 18, 48), (40, 70, 140), (255, 214, 120)),
    "stage-red": ((30, 6, 16), (150, 40, 60), (255, 236, 190)),
    "tent-morning": ((120, 170, 230), (215, 232, 250), (255, 255, 255)),
    "crowd-warm": ((40, 22, 10), (170, 95, 40), (255, 200, 120)),
    "panel-green": ((8, 30, 28), (30, 110, 95), (230, 250, 240)),
    "night-purple": ((16, 8, 40), (90, 50, 150), (250, 220, 255)),
}


def draw(name: str, top: tuple[int, int, int], bottom: tuple[int, int, int],
         light: tuple[int, int, int], seed: int) -> Any:
    """One scene: a sky gradient, beams of light, a stage and a crowd of silhouettes."""
    image_module: Any = importlib.import_module("PIL.Image")
    draw_module: Any = importlib.import_module("PIL.ImageDraw")
    filters: Any = importlib.import_module("PIL.ImageFilter")
    rng = random.Random(seed)
    width, height = SIZE
    image = image_module.new("RGB", SIZE)
    pen = draw_module.Draw(image)
    for y in range(height):
        t = y / height
        pen.line([(0, y), (width, y)], fill=tuple(round(a + (b - a) * t)
                                                 for a, b in zip(top, bottom, strict=True)))
    glow = image_module.new("RGB", SIZE, (0, 0, 0))
    beams = draw_module.Draw(glow)
    for _ in range(5):
        x = rng.randint(0, width)
        spread = rng.randint(60, 160)
        beams.polygon([(x, 0), (x - spread, height), (x + spread, height)],
                      fill=tuple(c // 3 for c in light))
    for _ in range(4):
        x, y, r = rng.randint(80, width - 80), rng.randint(40, 200), rng.randint(30, 70)
        beams.ellipse([x - r, y - r, x + r, y + r], fill=light)
    image = image_module.blend(image, glow.filter(filters.GaussianBlur(28)), 0.45)
    pen = draw_module.Draw(image)
    stage_top = int(height * 0.58)
    pen.rectangle([0, stage_top, width, height], fill=tuple(c // 4 for c in bottom))
    for row in range(3):
        base = height - row * 38
        shade = tuple(max(0, c // (6 - row)) for c in top)
        for _ in range(22):
            x = rng.randint(-20, width + 20)
            r = rng.randint(16, 26)
            pen.ellipse([x - r, base - 3 * r, x + r, base - r], fill=shade)
            pen.rounded_rectangle([x - 2 * r, base - r - 4, x + 2 * r, base + 40], radius=r,
                                  fill=shade)
    return image.filter(filters.GaussianBlur(1.2))


def main() -> None:
    """Draw every scene into photos/ as JPEG."""
    HERE.mkdir(exist_ok=True)
    for seed, (name, (top, bottom, light)) in enumerate(SCENES.items()):
        draw(name, top, bottom, light, seed).save(HERE / f"{name}.jpg", quality=70,
                                                  optimize=True, progressive=True)


if __name__ == "__main__":
    main()
