"""An HTTP server on 127.0.0.1 serving bytes from memory, with Range requests, that can cut a
transfer part-way: what the download tests run against."""
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.ranges.append(self.headers.get("Range"))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        ranged = self.headers.get("Range") and not server.ignore_range
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if ranged else 0
        if start >= len(data) > 0:
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = server.cuts.pop(0) if server.cuts else None
        self.wfile.write(body if cut is None else body[:cut])  # then HTTP/1.0 closes the connection

    def log_message(self, *args):
        pass


class FileServer(http.server.ThreadingHTTPServer):
    """``files``: {path: bytes}; ``cuts``: bytes to send of the next responses before closing;
    ``ranges``: the Range header of every request (None without one); ``ignore_range``: answer
    Range requests with the whole file, as some servers do."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files, self.cuts, self.ranges, self.ignore_range = {}, [], [], False
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def stop(self):
        self.shutdown()
        self.server_close()
        self._thread.join()
