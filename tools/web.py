"""Allowlisted web fetching: read a page from a host the owner has approved, as plain text."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from langchain_core.tools import BaseTool, ToolException, tool
from pydantic import BaseModel, Field

from nova.provenance import declare_untrusted
from nova.settings import get_settings

MAX_BYTES = 2_000_000
MAX_CHARS = 8_000
MAX_REDIRECTS = 5


class WebFetchArgs(BaseModel):
    """Arguments of ``web_fetch``."""

    url: str = Field(max_length=2_000, description="http(s) URL on an allowlisted host")
    max_chars: int = Field(
        default=4_000, ge=200, le=MAX_CHARS, description="Most characters returned"
    )


def host_allowed(url: str, allowlist: tuple[str, ...]) -> bool:
    """Whether ``url`` is http(s) on a listed host or one of its subdomains."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in allowlist)


def _check(url: str, allowlist: tuple[str, ...]) -> None:
    if not allowlist:
        raise ToolException(
            "Web fetching is off: no host is allowlisted. Set NOVA_WEB_ALLOWLIST, e.g. "
            "NOVA_WEB_ALLOWLIST=docs.python.org,example.com"
        )
    if not host_allowed(url, allowlist):
        raise ToolException(
            f"{url!r} is not on an allowlisted host ({', '.join(allowlist)}); only http(s) URLs "
            "on those hosts can be fetched"
        )


def page_text(html: str) -> tuple[str, str]:
    """Return ``(title, visible text)`` of an HTML page."""
    from bs4 import BeautifulSoup  # only pages pay for it

    soup = BeautifulSoup(html, "html.parser")
    for element in soup(["script", "style", "noscript", "template", "svg"]):
        element.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    text = "\n".join(line for line in (s.strip() for s in soup.get_text("\n").splitlines()) if line)
    return title, text


@tool("web_fetch", args_schema=WebFetchArgs)
def web_fetch(url: str, max_chars: int = 4_000) -> str:
    """Fetch a page from an allowlisted host and return its title and visible text."""
    settings = get_settings()
    allowlist = settings.web_allowlist
    _check(url, allowlist)
    # Redirects are followed by hand so every hop is checked against the allowlist.
    with httpx.Client(timeout=settings.tool_timeout_s, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with client.stream("GET", url, headers={"User-Agent": "Nova/0.1"}) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers["location"]))
                        _check(url, allowlist)
                        continue
                    if response.status_code >= 400:
                        raise ToolException(f"{url} answered HTTP {response.status_code}")
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BYTES:
                            raise ToolException(f"{url} is larger than {MAX_BYTES} bytes")
                    kind = response.headers.get("content-type", "")
                    text = body.decode(response.encoding or "utf-8", errors="replace")
                    break
            except httpx.HTTPError as error:
                raise ToolException(
                    f"Could not fetch {url}: {type(error).__name__}: {error}"
                ) from None
        else:
            raise ToolException(f"{url}: more than {MAX_REDIRECTS} redirects")
    title, content = page_text(text) if "html" in kind else ("", text)
    clipped = content[:max_chars] + (" …[truncated]" if len(content) > max_chars else "")
    return f"URL: {url}\nTitle: {title}\n\n{clipped}"


web_fetch.handle_tool_error = True
declare_untrusted(web_fetch, "web page")  # anyone can write a web page

TOOLS: list[BaseTool] = [web_fetch]
