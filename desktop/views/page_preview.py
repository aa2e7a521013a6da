"""A small picture of a page with the model's grounding boxes drawn on it ("Show Boxes" in the results).

``page_preview`` runs on a pool thread (``engine.background``): it opens the document again, renders
the one page small (Pillow / PyMuPDF only, never MLX), draws each box and returns a ``QImage``
(a QImage, unlike a QPixmap, may be made off the GUI thread). Box coordinates are 0–1 of the image
the model saw, which has the page's proportions, so they scale to the preview as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QImage

from engine.documents import open_document
from engine.formats import Box
from engine.jobs import TextLayer

PREVIEW_SIDE = 420  # the longest side of the picture, in pixels
COLOURS = {"title": (200, 60, 60), "sub_title": (214, 120, 40), "table": (40, 130, 80), "equation": (120, 70, 180),
           "image": (40, 110, 190), "image_caption": (40, 110, 190)}
OTHER = (230, 140, 0)


def page_preview(path: str, page: int, boxes: Sequence[Box], side: int = PREVIEW_SIDE) -> QImage:
    """The page rendered with its longest side ``side`` px and ``boxes`` drawn; DocumentError when the file
    cannot be read again (moved, or a PDF that needs its password)."""
    from PIL import ImageDraw

    doc = open_document(path, max_side=side, max_pixels=side * side, dpi=72, text_layer=TextLayer.NEVER)
    try:
        found = next(iter(doc.pages({page})), None)
        if found is None or found.image is None:
            raise ValueError(found.error if found is not None and found.error else f"page {page} is not there")
        image = found.image.convert("RGB")
    finally:
        doc.close()
    draw = ImageDraw.Draw(image, "RGBA")
    w, h = image.size
    for box in boxes:
        colour = COLOURS.get(box.label, OTHER)
        rect = [box.x1 * w, box.y1 * h, max(box.x1 * w, box.x2 * w), max(box.y1 * h, box.y2 * h)]
        draw.rectangle(rect, outline=(*colour, 255), fill=(*colour, 28), width=2)
    draw.rectangle([0, 0, w - 1, h - 1], outline=(160, 160, 166, 255), width=1)  # the page's edge on a white view
    data = image.tobytes("raw", "RGB")
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # a copy owns its pixels
