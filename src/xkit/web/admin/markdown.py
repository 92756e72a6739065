"""Markdown to HTML that is safe to put in a page: connector descriptions and setup guides.

Raw HTML is not interpreted (it is shown as text), and links and images may only point at
``http``, ``https`` or ``mailto`` targets (or an in-page ``#anchor``): a description written by
one admin can never run script in another admin's browser, or in an end user's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markupsafe import Markup

_SAFE_SCHEMES = {"http", "https", "mailto"}


def _is_safe_link(url: str) -> bool:
    cleaned = "".join(ch for ch in url.strip() if ch > " ").lower()
    if cleaned.startswith("#"):
        return True
    scheme = urlsplit(cleaned).scheme
    return scheme in _SAFE_SCHEMES


def _link_open(renderer: RendererHTML, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    if not str(token.attrGet("href") or "").startswith("#"):
        token.attrSet("rel", "nofollow noopener noreferrer")
        token.attrSet("target", "_blank")
    return renderer.renderToken(tokens, idx, options, env)


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable("table").enable("strikethrough")
    parser.validateLink = _is_safe_link  # type: ignore[method-assign]  # markdown-it's own hook
    parser.add_render_rule("link_open", _link_open)
    return parser


_MARKDOWN = _parser()


def render_markdown(text: str | None) -> Markup:
    """HTML for ``text``, marked safe for Jinja because the parser emits no raw HTML."""
    return Markup(_MARKDOWN.render(text or ""))

