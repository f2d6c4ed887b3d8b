"""PDF exports of the case file, drawn with WeasyPrint from Jinja templates.

Every page carries the reader's name and the day it was made (a running header and a
rotated watermark), so a printed page that goes astray says whose copy it was. Nothing is
fetched while drawing (no file, no network), and the document's metadata holds a neutral
title only, never what anyone wrote.

WeasyPrint (and the font tools it brings) is imported at the first export, not when the app
starts: a web worker that never exports stays some 30 MiB lighter.
"""

from pathlib import Path

from flask import render_template

STYLESHEET = Path(__file__).parent / "templates" / "casefile" / "pdf.css"


def _fetcher():
    from weasyprint.urls import URLFetcher

    # no protocol is allowed: a link or image in what people wrote is never followed
    return URLFetcher(allowed_protocols=frozenset(), allow_redirects=False)


def render_pdf(template: str, **context) -> bytes:
    """The PDF of `template`, rendered with `context` in the current request's language."""
    from weasyprint import CSS, HTML

    html = render_template(template, **context)
    fetcher = _fetcher()
    stylesheet = CSS(string=STYLESHEET.read_text(encoding="utf-8"), url_fetcher=fetcher)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[stylesheet])
