"""Placeholder product images for the local stack (dev only).

The demo catalog's image_url points here so the frontend shows a tile per product without any
image files in the repo or a network connection: `/images/<SKU>.svg` is a colored SVG tile with
the product's name (one hue per category). SKUs not in the demo catalog get a tile with the SKU,
so products an admin adds locally can point here too.
"""
from __future__ import annotations

import re
import textwrap
import threading
import zlib
from functools import lru_cache
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devtools.seed import demo_products

_IMAGE_PATH = re.compile(r"^/images/([A-Za-z0-9._-]{1,64})\.svg$")


@lru_cache(maxsize=1)
def _labels() -> dict[str, tuple[str, str]]:
    """SKU -> (name, category) of the demo catalog."""
    return {p["sku"]: (p["name"], p["category"]) for p in demo_products()}


def placeholder_svg(sku: str) -> str:
    name, category = _labels().get(sku, (sku, sku))
    hue = zlib.crc32(category.encode()) % 360
    lines = textwrap.wrap(name, width=16)[:4]
    first_y = 200 - (len(lines) - 1) * 18
    text = "".join(f'<tspan x="200" y="{first_y + i * 36}">{escape(line)}</tspan>' for i, line in enumerate(lines))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">'
        f'<rect width="400" height="400" fill="hsl({hue}, 55%, 42%)"/>'
        f'<rect x="16" y="16" width="368" height="368" rx="24" fill="none" stroke="hsl({hue}, 60%, 75%)" stroke-width="4"/>'
        '<text font-family="Helvetica, Arial, sans-serif" font-size="30" font-weight="600" fill="#fff" '
        f'text-anchor="middle">{text}</text>'
        '<text x="200" y="360" font-family="Helvetica, Arial, sans-serif" font-size="16" fill="#fff" '
        f'fill-opacity="0.75" text-anchor="middle">{escape(sku)}</text>'
        "</svg>"
    )


class _ImageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._respond(include_body=True)

    def do_HEAD(self) -> None:
        self._respond(include_body=False)

    def _respond(self, include_body: bool) -> None:
        match = _IMAGE_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = placeholder_svg(match.group(1)).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "image/svg+xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=3600")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if include_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: image fetches would drown the API's request log."""


def start_static_server(port: int, host: str = "127.0.0.1") -> tuple[ThreadingHTTPServer, str]:
    """Serve placeholders on a daemon thread; returns the server (call .shutdown()) and the images base URL."""
    server = ThreadingHTTPServer((host, port), _ImageHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="static", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/images"
