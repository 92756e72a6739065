"""A provider's mark: the small square picture on catalog cards and in the dashboard's picker.

People recognise a brand by its logo, not by two letters. Where the Simple Icons set has the
brand (``mark.icon`` in the template: a Simple Icons slug) the mark is that logo; where it has
none — some brands asked Simple Icons to remove theirs — it is a glyph of our own for the
template's category (an envelope for email, a bubble for chat …). Either way it is drawn in a
contrasting colour on a rounded tile of the brand colour, so every mark has the same shape and
reads on any page background, light or dark.

The icons come from the ``simple-icons-pack`` package (the Simple Icons set, CC0), installed
with xkit: nothing is fetched at run time, and pages load the marks from xkit's own origin
(``/marks/{template}.svg``). Only the path data is taken from an icon and written into an SVG
we build ourselves, so a served mark can hold no script, link or style from anywhere else.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING

from simple_icons_pack import get_icon

if TYPE_CHECKING:
    from xkit.providers.schema import ProviderTemplate

MARK_PATH = "/marks/{slug}.svg"
SIZE = 48  # the SVG's own size: an <img> of it has a natural width, whatever CSS does
_SVG_NS = "{http://www.w3.org/2000/svg}"

# Our own category glyphs, drawn on a 24×24 grid with round 2-unit strokes. Keys are template
# categories; a template without an icon gets the glyph of its first category listed here.
_ENVELOPE = '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3.5 6.5 12 13l8.5-6.5"/>'
_CALENDAR = ('<rect x="3" y="5" width="18" height="16" rx="2"/>'
             '<path d="M3 10h18M8 3v4M16 3v4M8 14h2M14 14h2M8 17h2"/>')
_BUBBLE = ('<path d="M5 4h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-8l-5 4v-4H5'
           'a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>')
_FOLDER = ('<path d="M3 7a2 2 0 0 1 2-2h4l2 2.5h8a2 2 0 0 1 2 2V18a2 2 0 0 1-2 2H5'
           'a2 2 0 0 1-2-2z"/><path d="M3 10h18"/>')
_PAGE = '<path d="M6 3h8l5 5v13H6z"/><path d="M14 3v5h5M9 13h7M9 17h7"/>'
_PERSON = '<circle cx="12" cy="8" r="4"/><path d="M4 21c.5-4.5 4-6.5 8-6.5s7.5 2 8 6.5"/>'
_GRID = '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M3 9.5h18M3 15h18M9 4v16"/>'
_CHECKLIST = ('<rect x="4" y="3" width="16" height="18" rx="2"/>'
              '<path d="m8 9 2 2 4-4M8 15.5h8"/>')
_CARD = '<rect x="2.5" y="5" width="19" height="14" rx="2"/><path d="M2.5 10h19M6.5 15h4"/>'
_CODE = '<path d="m8 7-5 5 5 5M16 7l5 5-5 5M13.5 4l-3 16"/>'
_BAG = ('<path d="M5 8h14l-1.2 12.2a1 1 0 0 1-1 .8H7.2a1 1 0 0 1-1-.8z"/>'
        '<path d="M9 10V6.5a3 3 0 0 1 6 0V10"/>')
_MEGAPHONE = '<path d="M3 10v4h4l8 5V5l-8 5z"/><path d="M18.5 9a4 4 0 0 1 0 6M7 14l1 6"/>'
_GLOBE = ('<circle cx="12" cy="12" r="9"/>'
          '<path d="M3 12h18M12 3c3.2 3.5 3.2 14.5 0 18M12 3c-3.2 3.5-3.2 14.5 0 18"/>')
_CAMERA = ('<rect x="2.5" y="6" width="13" height="12" rx="2"/>'
           '<path d="m15.5 10.5 6-3.5v10l-6-3.5z"/>')
_HEADSET = ('<path d="M4 14v-2a8 8 0 0 1 16 0v2"/>'
            '<rect x="3" y="13" width="4" height="6" rx="1.5"/>'
            '<rect x="17" y="13" width="4" height="6" rx="1.5"/>'
            '<path d="M19 19a3 3 0 0 1-3 2h-3"/>')
_PLUG = '<path d="M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0zM12 17v4"/>'

CATEGORY_GLYPHS: dict[str, str] = {
    "email": _ENVELOPE,
    "calendar": _CALENDAR,
    "meetings": _CAMERA,
    "chat": _BUBBLE,
    "support": _HEADSET,
    "files": _FOLDER,
    "storage": _FOLDER,
    "docs": _PAGE,
    "crm": _PERSON,
    "sales": _PERSON,
    "spreadsheets": _GRID,
    "project-management": _CHECKLIST,
    "productivity": _CHECKLIST,
    "accounting": _CARD,
    "finance": _CARD,
    "payments": _CARD,
    "developer-tools": _CODE,
    "ecommerce": _BAG,
    "marketing": _MEGAPHONE,
    "website": _GLOBE,
    "cms": _GLOBE,
}
#: A template none of whose categories has a glyph (``custom``, an operator's own) gets a plug.
DEFAULT_GLYPH = _PLUG


@dataclass(frozen=True)
class Icon:
    """What xkit uses of a Simple Icons entry: its brand name, colour and path data."""

    slug: str
    title: str
    color: str  # "#rrggbb"
    paths: tuple[str, ...]


@lru_cache(maxsize=512)
def simple_icon(slug: str) -> Icon | None:
    """The Simple Icons entry for ``slug`` (``gmail``, ``github``), or None if the set has none."""
    found = get_icon(slug)
    if found is None:
        return None
    root = ElementTree.fromstring(found.svg)
    paths = tuple(node.attrib["d"] for node in root.iter(f"{_SVG_NS}path") if node.attrib.get("d"))
    if not paths or root.attrib.get("viewBox") != "0 0 24 24":
        return None  # not the shape every Simple Icons icon has: better no mark than a wrong one
    return Icon(slug=found.slug, title=found.title, color=f"#{found.hex.lower()}", paths=paths)


def contrast_color(background: str) -> str:
    """White where it stands out enough from ``background`` (WCAG's 3:1 for graphics), as
    brands usually draw their marks on their colour; near-black on the light colours."""
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(background[i:i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#ffffff" if 1.05 / (luminance + 0.05) >= 3 else "#1f2933"


def glyph_for(categories: tuple[str, ...]) -> str:
    """Our glyph for the first of ``categories`` that has one, else the plug."""
    return next((CATEGORY_GLYPHS[c] for c in categories if c in CATEGORY_GLYPHS), DEFAULT_GLYPH)


@lru_cache(maxsize=512)
def _render(title: str, icon: str | None, background: str, foreground: str,
            categories: tuple[str, ...]) -> bytes:
    found = simple_icon(icon) if icon else None
    if found is not None:
        # the 24-unit icon at 26 units, centred on the 48-unit tile
        drawing = (f'<g transform="translate(11 11) scale(1.0833)" fill="{foreground}">'
                   + "".join(f'<path d="{escape(d)}"/>' for d in found.paths) + "</g>")
    else:
        drawing = (f'<g transform="translate(10 10) scale(1.1667)" fill="none" '
                   f'stroke="{foreground}" stroke-width="2" stroke-linecap="round" '
                   f'stroke-linejoin="round">{glyph_for(categories)}</g>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
            f'viewBox="0 0 {SIZE} {SIZE}" role="img"><title>{escape(title)}</title>'
            f'<rect width="{SIZE}" height="{SIZE}" rx="10" fill="{background}"/>{drawing}</svg>'
            ).encode()


def mark_svg(template: ProviderTemplate) -> bytes:
    """The template's mark as an SVG document (the same bytes every time, for caching)."""
    mark = template.mark
    return _render(template.name, mark.icon, mark.background, mark.foreground,
                   tuple(template.categories))


def mark_version(template: ProviderTemplate) -> str:
    """A short digest of the mark: part of its URL, so a changed mark is a new URL."""
    return hashlib.sha256(mark_svg(template)).hexdigest()[:12]


def mark_path(template: ProviderTemplate) -> str:
    """Where xkit serves the mark, relative to its public URL; safe to cache for a year."""
    return f"{MARK_PATH.format(slug=template.slug)}?v={mark_version(template)}"
