"""Printable templates for art-therapy prompts: a mandala's empty rings on an A4 page (PDF), to
print and colour in. No data of anyone in it, so it is sent unprotected, to be printed."""

from __future__ import annotations

import math

from bot.views.reports import font_dir

RINGS = (90.0, 68.0, 46.0, 24.0, 8.0)  # radii in mm, outermost first
SPOKES = 12


def mandala_pdf(title: str, hint: str) -> bytes:
    from fpdf import FPDF  # on first use (bot/views/reports.font_dir)

    page = FPDF(format="A4")
    page.set_creator("Demeu")
    page.set_title(title)
    page.add_font("DejaVu", "", str(font_dir() / "DejaVuSans.ttf"))
    page.add_page()
    page.set_font("DejaVu", "", 14)
    page.cell(page.epw, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    page.set_font("DejaVu", "", 9)
    page.multi_cell(page.epw, 5, hint, align="C", new_x="LMARGIN", new_y="NEXT")
    cx, cy = page.w / 2, 160.0
    page.set_draw_color(150, 150, 150)
    page.set_line_width(0.4)
    for radius in RINGS:
        page.circle(x=cx, y=cy, radius=radius)
    for n in range(SPOKES):  # spokes from the inner ring to the outer one, to start a pattern on
        angle = 2 * math.pi * n / SPOKES
        inner, outer = RINGS[-1], RINGS[0]
        page.line(
            cx + inner * math.cos(angle),
            cy + inner * math.sin(angle),
            cx + outer * math.cos(angle),
            cy + outer * math.sin(angle),
        )
    return bytes(page.output())
