"""Images given as URLs (PaddleX accepts them), fetched only from hosts the server was told to trust.

A server that fetches any URL a caller names lets that caller reach what stands behind it
(metadata services, admin pages on the private network), so URLs are refused unless their host is
on the allow list; redirects are not followed (they could lead elsewhere), and a fetch has a time
and size limit.
"""
import time
import urllib.error
import urllib.parse
import urllib.request

from .request_images import RequestError

URL_SCHEMES = ("http", "https")
CHUNK_BYTES = 1 << 16


def is_url(text):
    return urllib.parse.urlsplit(text[:2048]).scheme.lower() in URL_SCHEMES


def fetch(url, allowed_hosts, timeout_s, max_bytes):
    """The bytes at ``url``, or a RequestError when its host is not allowed or the fetch fails."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host not in {allowed.lower() for allowed in allowed_hosts}:
        allowed = ", ".join(allowed_hosts) or "none"
        raise RequestError(f"image: URL host {host!r} is not allowed (allowed: {allowed}); send the image as Base64, "
                           f"or start the server with `--allow_url_hosts {host}`", status=403)
    opener = urllib.request.build_opener(_NoRedirects)
    deadline = time.monotonic() + timeout_s
    try:
        with opener.open(url, timeout=timeout_s) as response:
            data = bytearray()
            while chunk := response.read(CHUNK_BYTES):
                data += chunk
                if time.monotonic() > deadline:
                    raise TimeoutError("the time limit ran out while reading")
                if len(data) > max_bytes:
                    raise RequestError(f"image: {url} is over the server's limit of {max_bytes / 1e6:g} MB "
                                       f"(`--max_body_mb` raises it)", status=413)
            return bytes(data)
    except urllib.error.HTTPError as error:
        raise RequestError(f"image: fetching {url} gave HTTP {error.code}" +
                           (" (redirects are not followed)" if 300 <= error.code < 400 else "")) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise RequestError(f"image: fetching {url} failed within {timeout_s:g} s: {reason}") from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
