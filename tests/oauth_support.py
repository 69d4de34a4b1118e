"""A browser for the hosted pages, as far as the OAuth tests need one: it keeps cookies the way
a browser does on loopback (it sends `Secure` cookies over http://127.0.0.1, as Chromium does
and Python's cookie jar does not), follows nothing by itself, and reads the sign-in form (its
action and CSRF token) with the standard library's HTML parser."""

from __future__ import annotations

import html.parser
import urllib.parse
from dataclasses import dataclass, field

import requests


class FormReader(html.parser.HTMLParser):
    """The first form's action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: dict[str, str] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action") or ""
        if tag == "input" and values.get("name"):
            self.inputs[values["name"] or ""] = values.get("value") or ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_form(page: str) -> FormReader:
    reader = FormReader()
    reader.feed(page)
    return reader


@dataclass
class Cookie:
    value: str
    attributes: str


@dataclass
class Browser:
    """Cookies by name, with the attributes they were set with."""

    cookies: dict[str, Cookie] = field(default_factory=dict)
    host: str | None = None

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={c.value}" for k, c in self.cookies.items())
        if self.host:
            headers["Host"] = self.host
        return headers

    def _keep(self, response: requests.Response) -> requests.Response:
        for raw in response.raw.headers.getlist("Set-Cookie"):
            pair, _, attributes = raw.partition(";")
            name, _, value = pair.partition("=")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = Cookie(value.strip(), attributes.strip())
        return response

    def get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        return self._keep(requests.get(url, headers=self._headers(headers), allow_redirects=False, timeout=30))

    def post(self, url: str, data: dict[str, str], headers: dict[str, str] | None = None) -> requests.Response:
        return self._keep(
            requests.post(url, data=data, headers=self._headers(headers), allow_redirects=False, timeout=30)
        )


def location(response: requests.Response, base: str) -> str:
    assert response.status_code == 302, (response.status_code, response.text[:500])
    return urllib.parse.urljoin(base, response.headers["Location"])


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
