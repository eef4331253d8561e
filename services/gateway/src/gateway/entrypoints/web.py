"""The web app's built files (web/dist), served from the same origin as the API.

Any path that is not a file and not an API route answers index.html: the app routes in the
browser (`/instances/ins-1` is a page of the app, not a file).
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Hashed asset names change with their content: cache them for good; never cache the entry page.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# The app loads only its own files and calls only its own origin; inline styles are React's `style`.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SinglePageApp(StaticFiles):
    def __init__(self, directory: Path) -> None:
        if not (directory / "index.html").is_file():
            raise RuntimeError(f"no built web app in {directory} (run `npm run build` in web/)")
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith("api/"):
                raise
            response = await super().get_response("index.html", scope)
        response.headers["Cache-Control"] = IMMUTABLE if path.startswith("assets/") else NO_CACHE
        response.headers.update(SECURITY_HEADERS)
        return response
