"""Investigation guides (a rule's `note`, in Markdown) as HTML for the report.

Rules come from files anyone can write (Elastic's, a colleague's), so a guide is rendered as
text with Markdown's formatting and nothing more: raw HTML in it is shown escaped, images are
not loaded (the page allows no requests anyway), and links go only to web or mail addresses.
"""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup

_SAFE_LINKS = ("https://", "http://", "mailto:")


def render_guide(markdown: str) -> Markup:
    """HTML for a guide; markdown-it escapes every piece of text it copies."""
    return Markup(_renderer().render(markdown))


@cache
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.disable("image")
    md.validateLink = _safe_link  # type: ignore[method-assign]
    return md


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(_SAFE_LINKS)
