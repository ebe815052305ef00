"""The one exception type the kernel knows vendors by: an error the vendor's API answers with its own body."""

from __future__ import annotations

from starlette.responses import Response


class VendorError(Exception):
    """Raised anywhere in a simulator (a responses method, its models, the auth hook); the kernel answers
    `response()`. Each simulator's `exceptions.py` derives its errors from this class."""

    def response(self) -> Response:
        raise NotImplementedError
