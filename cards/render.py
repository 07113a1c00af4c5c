"""Emergency cards as PDF (CARD-1), rendered by WeasyPrint from Django templates.

- ``wallet_pdf``: ID-1 cards (85.6 × 54 mm, ISO/IEC 7810), a front page and a back page per
  card.
- ``sheet_pdf``: the one-page caregiver sheet on the clinic's paper (A4 or US Letter).
- ``batch_pdf``: wallet cards laid out 2 × 4 on the clinic's paper with crop marks: a sheet
  of fronts, then a sheet of their backs mirrored left-right, so that duplex printing
  (flip on the long edge) puts every back behind its front.

A failed render raises, and so does a card whose content does not fit (the rendered
document must have exactly the expected number of pages): an empty, blank or overflowing
card is never returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.template.loader import render_to_string

import therapy

from .models import DateFormat, PaperSize

CARD_MM = (85.6, 54.0)
PAPER_MM = {PaperSize.A4: (210.0, 297.0), PaperSize.LETTER: (215.9, 279.4)}
GRID = (2, 4)  # columns × rows of wallet cards on a print sheet
CROP_MARK_MM = 5.0  # crop-mark length, drawn outside the cards, 1 mm away from them
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class CardRenderError(RuntimeError):
    """WeasyPrint produced nothing usable (or not the expected pages)."""


def format_date(value: str | date | None, date_format: str) -> str:
    if value is None:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    if date_format == DateFormat.ISO:
        return day.isoformat()
    if date_format == DateFormat.DAY_MONTH_YEAR:
        return f"{day:%d/%m/%Y}"
    if date_format == DateFormat.MONTH_DAY_YEAR:
        return f"{day:%m/%d/%Y}"
    if date_format == DateFormat.DAY_MONTH_YEAR_DOTS:
        return f"{day:%d.%m.%Y}"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"  # locale-independent month names


@dataclass(frozen=True)
class Face:
    """What the templates read: the card data with its dates in the clinic's format."""

    data: dict
    issued_on: str

    def __getattr__(self, name):
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None


DATE_FIELDS = ("birth_date", "implanted_on", "low_reservoir_alarm_on", "refill_by")


def face(data: dict, *, issued_at: datetime, tz, date_format: str) -> Face:
    shown = dict(data)
    for field in DATE_FIELDS:
        shown[field] = format_date(data[field], date_format)
    return Face(shown, format_date(issued_at.astimezone(tz).date(), date_format))


def _pdf(html: str, *, pages: int, what: str) -> bytes:
    from weasyprint import HTML

    try:
        document = HTML(string=html).render()
    except Exception as error:  # WeasyPrint's own errors are of many types
        raise CardRenderError(f"{what}: WeasyPrint failed: {error}") from error
    if len(document.pages) != pages:
        raise therapy.CalculationError(
            "card",
            f"the {what} does not fit: it takes {len(document.pages)} pages instead of {pages}; "
            "shorten the card texts (GET /api/v1/card-texts/) or the physician line",
            code="card_overflow",
        )
    pdf = document.write_pdf()
    if not pdf or not pdf.startswith(b"%PDF"):
        raise CardRenderError(f"{what}: WeasyPrint returned no PDF")
    return pdf


def wallet_pdf(faces: list[Face]) -> bytes:
    """Front and back page of each card, in order."""
    if not faces:
        raise CardRenderError("no card to render")
    html = render_to_string("cards/wallet.html", {"cards": faces})
    return _pdf(html, pages=2 * len(faces), what="wallet card")


def warm_up() -> float:
    """Render a throwaway page in the cards' style, so that the first card a process prints
    does not pay for loading WeasyPrint and the fonts (about a second here). The web
    server calls it as each worker starts (pumpcare/gunicorn_conf.py). Returns seconds."""
    from time import perf_counter

    from weasyprint import HTML

    start = perf_counter()
    style = render_to_string("cards/_face_style.html")
    HTML(string=f"<style>{style}</style><p><b>pumpcare</b> 24/7 +1 555 0100</p>").write_pdf()
    return perf_counter() - start


def sheet_pdf(card: Face, paper_size: str) -> bytes:
    html = render_to_string("cards/sheet.html", {"card": card, "paper": _paper_css(paper_size)})
    return _pdf(html, pages=1, what="caregiver sheet")


def _paper_css(paper_size: str) -> str:
    return "letter" if paper_size == PaperSize.LETTER else "A4"


def batch_layout(paper_size: str) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The paper (mm) and the lower-left corner (mm, from the bottom-left of the paper, as
    PDF counts) of each card slot, row by row from the top, left to right."""
    width, height = PAPER_MM[PaperSize(paper_size)]
    columns, rows = GRID
    card_w, card_h = CARD_MM
    left = (width - columns * card_w) / 2
    bottom = (height - rows * card_h) / 2
    slots = [
        (left + column * card_w, bottom + (rows - 1 - row) * card_h)
        for row in range(rows)
        for column in range(columns)
    ]
    return (width, height), slots


def batch_pdf(faces: list[Face], paper_size: str) -> bytes:
    """Wallet cards imposed on print sheets with crop marks: for every 8 cards, a sheet of
    fronts and then a sheet of backs, each back in the mirrored column (long-edge duplex).
    Every card face is checked to fit its 85.6 × 54 mm slot (the layout's anchors)."""
    from weasyprint import HTML

    if not faces:
        raise CardRenderError("no card to render")
    (width, height), slots = batch_layout(paper_size)
    columns, card_h = GRID[0], CARD_MM[1]
    sheets = []
    for first in range(0, len(faces), len(slots)):
        group = faces[first : first + len(slots)]
        for side in ("front", "back"):
            placed = []
            for index, card in enumerate(group):
                row, column = divmod(index, columns)
                if side == "back":
                    column = columns - 1 - column
                x, y = slots[row * columns + column]
                placed.append({"card": card, "left": x, "top": height - y - card_h})
            sheets.append({"number": len(sheets) + 1, "side": side, "slots": placed})
    html = render_to_string(
        "cards/batch.html",
        {
            "sheets": sheets,
            "count": len(faces),
            "paper": _paper_css(paper_size),
            "width": width,
            "height": height,
            **_crop_marks(paper_size),
        },
    )
    try:
        document = HTML(string=html).render()
    except Exception as error:
        raise CardRenderError(f"batch: WeasyPrint failed: {error}") from error
    if len(document.pages) != len(sheets):
        raise CardRenderError(f"batch: {len(document.pages)} pages instead of {len(sheets)}")
    limit = card_h * 96 / 25.4 + 0.5  # CSS px
    for page, sheet in zip(document.pages, sheets, strict=True):
        for slot in range(1, len(sheet["slots"]) + 1):
            top = page.anchors[f"slot-{sheet['number']}-{slot}"][1]
            bottom = page.anchors[f"end-{sheet['number']}-{slot}"][1]
            if bottom - top > limit:
                card = sheet["slots"][slot - 1]["card"]
                raise therapy.CalculationError(
                    "card",
                    f"the {sheet['side']} of the card of {card.patient_name} does not fit on 85.6 × 54 mm: "
                    "shorten the card texts (GET /api/v1/card-texts/) or the physician line",
                    code="card_overflow",
                )
    pdf = document.write_pdf()
    if not pdf or not pdf.startswith(b"%PDF"):
        raise CardRenderError("batch: WeasyPrint returned no PDF")
    return pdf


def _crop_marks(paper_size: str) -> dict:
    """The crop marks of the card grid (mm from the top-left), outside the cards."""
    (width, height), slots = batch_layout(paper_size)
    card_w, card_h = CARD_MM
    xs = sorted({x for x, _ in slots} | {x + card_w for x, _ in slots})
    ys = sorted({height - y - card_h for _, y in slots} | {height - y for _, y in slots})  # from the top
    gap, length = 1.0, CROP_MARK_MM
    lines = []
    for x in xs:  # vertical marks above and below the grid
        lines.append((x, ys[0] - gap - length, 0.0, length))
        lines.append((x, ys[-1] + gap, 0.0, length))
    for y in ys:  # horizontal marks left and right of the grid
        lines.append((xs[0] - gap - length, y, length, 0.0))
        lines.append((xs[-1] + gap, y, length, 0.0))
    return {"lines": lines, "note_top": ys[-1] + 8}
