"""The web app's built files (web/dist), served from the same origin as the API.

Any path that is not a file and not an API route answers index.html: the app routes in the
browser (`/instances/ins-1` is a page of the app, not a file). A missing path that names a file
(`/favicon.ico`, `/sitemap.xml`, `/assets/old.js`) is a 404: HTML in its place would be wrong.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Hashed asset names change with their content: cache them for good; never cache the entry page.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"


# The app loads only its own files and calls only its own origin; inline styles are React's `style`.
# Images may also come from the map's tile server (its origin only: `domain.map_tiles.tile_origin`).
def security_headers(image_origins: tuple[str, ...] = ()) -> dict[str, str]:
    images = " ".join(("'self'", "data:", "blob:", *image_origins))
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src {images}; "
            "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


SECURITY_HEADERS = security_headers()


# The app's own sections (web/src/App.tsx): their pages may end in something file-like (a serial `SR.1`).
APP_SECTIONS = frozenset({"support", "instances", "reports", "activity", "profile"})
NEVER_PAGES = frozenset({"api", "assets"})


def is_app_page(path: str) -> bool:
    """Whether a path that is not a file is one of the app's pages (else it is a missing file)."""
    first = path.split("/", 1)[0]
    if first in NEVER_PAGES:
        return False
    if first in APP_SECTIONS:
        return True
    name = PurePosixPath(path).name
    return "." not in name  # `robots.txt`, `favicon.ico`, `.env`: files, not pages


class SinglePageApp(StaticFiles):
    def __init__(self, directory: Path, headers: dict[str, str] | None = None) -> None:
        if not (directory / "index.html").is_file():
            raise RuntimeError(f"no built web app in {directory} (run `npm run build` in web/)")
        super().__init__(directory=directory, html=True)
        self.headers = headers or SECURITY_HEADERS

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or not is_app_page(path):
                raise
            response = await super().get_response("index.html", scope)
        response.headers["Cache-Control"] = IMMUTABLE if path.startswith("assets/") else NO_CACHE
        response.headers.update(self.headers)
        return response
