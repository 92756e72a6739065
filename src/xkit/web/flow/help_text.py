"""The instructions under a collect field, with their help links as links.

A template's field description may use inline Markdown — ``[Stripe Dashboard](https://…)``,
``<https://…>``, ``**bold**``, `` `code` `` — so the end user can click through to the page
where the key is, rather than copy an address out of a sentence. It is rendered with
markdown-it's inline rules only: raw HTML is shown as text, links may only be ``http`` or
``https``, and every link opens in a new tab without giving that tab a handle on the popup
(``rel="noopener"``), which must stay on the form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markupsafe import Markup


def _is_web_link(url: str) -> bool:
    cleaned = "".join(ch for ch in url.strip() if ch > " ").lower()
    return urlsplit(cleaned).scheme in {"http", "https"}


def _link_open(renderer: RendererHTML, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer")
    return renderer.renderToken(tokens, idx, options, env)


def _parser() -> MarkdownIt:
    parser = MarkdownIt("zero", {"html": False})
    parser.enable(["link", "autolink", "emphasis", "backticks", "escape", "entity"])
    parser.validateLink = _is_web_link  # type: ignore[method-assign]  # markdown-it's own hook
    parser.add_render_rule("link_open", _link_open)
    return parser


_INLINE = _parser()


def render_help(text: str | None) -> Markup:
    """HTML for one field's instructions, safe in a page: the parser emits no raw HTML."""
    return Markup(_INLINE.renderInline(text or ""))
