"""A person's browser over real HTTP, for the benchmarks and the multi-process tests.

It keeps one connection open (as a reverse proxy does with the web processes), keeps its
cookies, follows redirects, reads the forms of a page and sends them back with their hidden
fields (CSRF token, the form's one-time token). It talks to 127.0.0.1 only.
"""

import http.client
import time
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser

LOOPBACK = "127.0.0.1"


@dataclass
class Form:
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # hidden inputs
    options: dict[str, list[str]] = field(default_factory=dict)  # checkbox/radio/select values


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(Form(action=attrs.get("action", "")))
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input":
            name, kind = attrs.get("name"), attrs.get("type", "text")
            if name and kind == "hidden":
                form.fields.setdefault(name, []).append(attrs.get("value", ""))
            elif name and kind in {"checkbox", "radio"}:
                form.options.setdefault(name, []).append(attrs.get("value", ""))
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select:
            form.options.setdefault(self._select, []).append(attrs.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def forms_of(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class Page:
    status: int
    url: str  # the path (and query) it was finally read at
    text: str
    seconds: float = 0.0  # the time of the last request that gave it (redirects apart)

    def form(self, action: str) -> Form:
        """The form of this page that posts to a path ending with `action`."""
        for form in forms_of(self.text):
            if urllib.parse.urlsplit(form.action).path.endswith(action):
                return form
        raise LookupError(f"no form posting to …{action} on {self.url}")


class Browser:
    """One person's browser: a connection to `base` (http://127.0.0.1:port) kept alive
    (or a new one for every request: `keep_alive=False`), cookies of its own, redirects
    followed, pages asked for in `language`."""

    def __init__(
        self,
        base: str,
        *,
        language: str = "en",
        timeout: float = 60,
        headers=None,
        keep_alive: bool = True,
    ):
        parts = urllib.parse.urlsplit(base)
        if parts.scheme != "http" or parts.hostname != LOOPBACK:
            raise ValueError(f"only http://{LOOPBACK} is spoken to, not {base}")
        self.port, self.timeout, self.keep_alive = parts.port, timeout, keep_alive
        self.headers = {"Accept-Language": language, **(headers or {})}
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None

    def get(self, path: str, **headers: str) -> Page:
        return self.request("GET", path, headers=headers)

    def submit(self, page: Page, action: str, **values: str) -> Page:
        """Send the form of `page` posting to `action`: its hidden fields and `values`
        (`message__body` names the field `message-body`; a list sends the name repeatedly)."""
        form = page.form(action)
        data = {name: given[0] for name, given in form.fields.items()}
        data.update({name.replace("__", "-"): value for name, value in values.items()})
        body = urllib.parse.urlencode(data, doseq=True).encode()
        return self.request("POST", form.action or page.url, body=body)

    def request(self, method: str, path: str, *, body: bytes | None = None, headers=None) -> Page:
        for _hop in range(10):
            status, location, text, seconds = self._once(method, path, body, headers or {})
            if status in (301, 302, 303, 307, 308) and location:
                if status in (301, 302, 303):
                    method, body = "GET", None
                path = urllib.parse.urljoin(path, location)
                parts = urllib.parse.urlsplit(path)
                if parts.netloc and parts.hostname != LOOPBACK:
                    raise ValueError(f"redirected away from {LOOPBACK}: {path}")
                path = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
                continue
            return Page(status, path, text, seconds)
        raise RuntimeError(f"too many redirects from {path}")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _once(self, method, path, body, headers) -> tuple[int, str | None, str, float]:
        headers = {**self.headers, **headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    LOOPBACK, self.port, timeout=self.timeout
                )
            started = time.perf_counter()
            try:
                self._connection.request(method, path, body=body, headers=headers)
                answer = self._connection.getresponse()
                text = answer.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed a kept-alive connection (a worker recycled): once more
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()  # never send on a connection left half-way
                raise
            seconds = time.perf_counter() - started
            for cookie in answer.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if "max-age=0" in cookie.lower() or "expires=thu, 01 jan 1970" in cookie.lower():
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = value
            if answer.will_close or not self.keep_alive:
                self.close()
            return answer.status, answer.headers.get("Location"), text, seconds
        raise AssertionError("unreachable")
