"""The web dashboard: one static page (``ops/static/``: HTML, CSS, vanilla JS, charts drawn as inline SVG) served by
the ops app at ``GET /dashboard``. The page holds no data of its own: every view and action calls the JSON API with
the bearer token (entered once, or passed as ``/dashboard#token=...``; kept in ``sessionStorage``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                     "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                     "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"})

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
