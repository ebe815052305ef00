"""The AvaTax wire format: one `TaxResponses` method per operation of `urls.URLS`.

The kernel authenticates every operation but ping (simulator.py); each method reads its request by hand so every refusal is AvaTax's error body (never
FastAPI's), and answers compact JSON (the SDK's tests match `'"status":"Saved"'`). Money is `Decimal` in the models
and a JSON number on the wire. `$include` (AvaTax "Fetching related data"): `Lines`, `Details` (implies lines),
`Summary` (implies details), `Addresses`, `SummaryOnly`, `LinesOnly`; create defaults to `Summary,Addresses`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from q2c_simulators.kernel import Responses, operation
from q2c_simulators.kernel.http import json_bytes

from . import jurisdictions as jx
from . import openapi as doc
from .auth import parse_authorization
from .exceptions import AvaTaxError, model_invalid
from .models import ADJUSTMENT_REASONS, DOCUMENT_TYPES, VOID_REASONS, TaxBackend, lower_keys, resolve_address

if TYPE_CHECKING:
    from .simulator import TaxSimulator

VERSION = "26.10.0"
# AvaTax's escapes for characters a transaction code cannot carry in a path (the SDK's docstrings)
_ESCAPES = (("_-ava2f-_", "/"), ("_-ava2b-_", "+"), ("_-ava3f-_", "?"), ("_-ava25-_", "%"), ("_-ava23-_", "#"))
_FILTER = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def spec(*, public: bool = False, status: int = 200, **openapi: Any):  # noqa: ANN201 - a decorator
    """An operation (kernel.operation) with its OpenAPI written out (parameters, requestBody, responses): the
    methods read their requests by hand, so their signatures say little."""
    return operation(public=public, status=status, openapi_extra=openapi)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # on the wire only: the JSON number AvaTax sends
    raise TypeError(type(value).__name__)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json_bytes(data, _default), status, media_type="application/json")


def unescape(code: str) -> str:
    for escaped, char in _ESCAPES:
        code = code.replace(escaped, char)
    return code


def includes(raw: str | None, default: str | None) -> set[str]:
    words = {w.strip().lower() for w in (raw if raw is not None else default or "").split(",") if w.strip()}
    if "summary" in words:
        words |= {"details"}
    if "details" in words:
        words |= {"lines"}
    return words


def render(txn: dict[str, Any], include: set[str]) -> dict[str, Any]:
    out = {k: v for k, v in txn.items() if k not in ("lines", "summary", "addresses", "companyCode", "voidReason")}
    if "summaryonly" in include:
        out["summary"] = txn["summary"]
        return out
    if "lines" in include or "linesonly" in include:
        details = "details" in include and "linesonly" not in include
        out["lines"] = [{**ln, "transactionId": txn["id"], "details": ln["details"]} if details else
                        {k: v for k, v in ln.items() if k != "details"} for ln in txn["lines"]]
    if "summary" in include:
        out["summary"] = txn["summary"]
    if "addresses" in include:
        out["addresses"] = txn["addresses"]
    return out


def fetch_result(rows: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    q = request.query_params
    top = _int_param(q.get("$top"), "$top", 1000, default=1000)
    skip = _int_param(q.get("$skip"), "$skip", 2**31, default=0)
    for clause in _filters(q.get("$filter")):
        field, value = clause
        rows = [r for r in rows if str(r.get(field)) == value]
    page = rows[skip: skip + top]
    out: dict[str, Any] = {"@recordsetCount": len(rows), "value": page}
    if skip + top < len(rows):
        out["@nextLink"] = f"{request.url.path}?$top={top}&$skip={skip + top}"
    return out


def _int_param(raw: str | None, name: str, most: int, *, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) > most:
        raise AvaTaxError("InvalidQueryValue", f"{name} must be an integer from 0 to {most}.", target="IncorrectData")
    return int(raw)


def _filters(raw: str | None) -> list[tuple[str, str]]:
    if not raw:
        return []
    out = []
    for part in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE):
        m = _FILTER.match(part)
        if m is None:
            raise AvaTaxError("MalformedFilterException", f"$filter: cannot read {part!r}; this simulator takes "
                              "`field eq 'value'` joined by `and`.", target="IncorrectData")
        out.append((m.group(1), m.group(2)))
    return out


class TaxResponses(Responses["TaxSimulator"]):
    """The AvaTax operations of urls.py."""

    # -- plumbing -------------------------------------------------------------------------------------------------
    def backend(self, request: Request) -> TaxBackend:
        """The authenticated account's backend (the kernel's authenticate hook, simulator.py, refused the rest)."""
        return request.scope["state"]["principal"]

    @staticmethod
    async def json_body(request: Request, *, required: bool = True) -> Any:
        raw = await request.body()
        if not raw.strip():
            if required:
                raise AvaTaxError("ModelRequiredException", "A request model is required for this API.",
                                  target="IncorrectData")
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise AvaTaxError("JsonFormatError", "The request body is not valid JSON.", target="IncorrectData") from None

    @staticmethod
    def document_type(request: Request) -> str:
        value = request.query_params.get("documentType") or "SalesInvoice"
        if value not in DOCUMENT_TYPES:
            raise AvaTaxError("InvalidEnumValue", f"documentType: {value!r} is not one of {', '.join(DOCUMENT_TYPES)}.",
                              target="IncorrectData")
        return value

    # -- operations -----------------------------------------------------------------------------------------------
    @spec(public=True, responses=doc.ok("Always 200; `authenticated` says whether the credentials were accepted",
                                        {"type": "object"}))
    async def ping(self, request: Request) -> Response:
        """Test connectivity and credentials; never an error (bad credentials give `authenticated: false`)."""
        header = request.headers.get("authorization")
        creds = parse_authorization(header)
        account = self.sim.account_for(header, request.scope["state"]["tenant"])
        body: dict[str, Any] = {"version": VERSION, "authenticated": account is not None,
                                "authenticationType": creds.kind if creds and account else "None"}
        if account is not None:
            body.update(authenticatedAccountId=int(account), authenticatedUserId=0,
                        authenticatedUserName=f"account {account}", crmid="0")
        return json_response(body)

    @spec(status=201, parameters=[doc.INCLUDE], requestBody=doc.body(doc.CREATE_TRANSACTION),
          responses={**doc.ok("The calculated transaction", {"$ref": "#/components/schemas/TransactionModel"}, 201),
                     **doc.errors(400, 401, 404, 429)})
    async def create_transaction(self, request: Request) -> Response:
        """Calculate tax; an invoice type is recorded (`commit` true: Committed, else Saved)."""
        backend = self.backend(request)
        txn = backend.create_transaction(await self.json_body(request))
        return json_response(render(txn, includes(request.query_params.get("$include"), "Summary,Addresses")), 201)

    @spec(parameters=[doc.INCLUDE], responses={**doc.ok("The transaction", {"$ref": "#/components/schemas/TransactionModel"}),
                                               **doc.errors(400, 401, 404, 429)})
    async def get_transaction_by_id(self, request: Request, transaction_id: str) -> Response:
        backend = self.backend(request)
        if not transaction_id.isascii() or not transaction_id.isdigit() or len(transaction_id) > 18:
            raise AvaTaxError("EntityNotFoundError", f"Transaction {transaction_id} not found.")
        txn = backend.by_id(int(transaction_id))
        return json_response(render(txn, includes(request.query_params.get("$include"), "Summary,Addresses")))

    @spec(parameters=doc.LISTING + [doc.INCLUDE],
          responses={**doc.ok("The company's current documents", {"$ref": "#/components/schemas/FetchResult"}),
                     **doc.errors(400, 401, 404, 429)})
    async def list_transactions_by_company(self, request: Request, company_code: str) -> Response:
        backend = self.backend(request)
        include = includes(request.query_params.get("$include"), "")
        rows = [render(t, include) for t in backend.list_transactions(company_code)]
        return json_response(fetch_result(rows, request))

    @spec(parameters=[doc.DOCUMENT_TYPE, doc.INCLUDE],
          responses={**doc.ok("The document's current version", {"$ref": "#/components/schemas/TransactionModel"}),
                     **doc.errors(400, 401, 404, 429)})
    async def get_transaction_by_code(self, request: Request, company_code: str, transaction_code: str) -> Response:
        backend = self.backend(request)
        txn = backend.current(company_code, unescape(transaction_code), self.document_type(request))
        return json_response(render(txn, includes(request.query_params.get("$include"), "Summary,Addresses")))

    @spec(parameters=[doc.DOCUMENT_TYPE, doc.INCLUDE], requestBody=doc.body(doc.COMMIT),
          responses={**doc.ok("The document, Committed (or Saved for commit false)",
                              {"$ref": "#/components/schemas/TransactionModel"}), **doc.errors(400, 401, 404, 429)})
    async def commit_transaction(self, request: Request, company_code: str, transaction_code: str) -> Response:
        backend = self.backend(request)
        model = lower_keys(await self.json_body(request))
        if not isinstance(model, dict) or not isinstance(model.get("commit"), bool):
            raise model_invalid("commit", "true or false is required")
        txn = backend.commit(company_code, unescape(transaction_code), self.document_type(request), model["commit"])
        return json_response(render(txn, includes(request.query_params.get("$include"), "Summary,Addresses")))

    @spec(parameters=[doc.DOCUMENT_TYPE, doc.INCLUDE], requestBody=doc.body(doc.VOID),
          responses={**doc.ok("The document, Cancelled", {"$ref": "#/components/schemas/TransactionModel"}),
                     **doc.errors(400, 401, 404, 429)})
    async def void_transaction(self, request: Request, company_code: str, transaction_code: str) -> Response:
        """Void (Cancelled). No body is `ModelRequiredException` (AvaTax JS SDK issue #276)."""
        backend = self.backend(request)
        model = lower_keys(await self.json_body(request))
        if not isinstance(model, dict) or model.get("code") not in VOID_REASONS:
            raise model_invalid("code", f"one of {', '.join(VOID_REASONS)} is required")
        txn = backend.void(company_code, unescape(transaction_code), self.document_type(request), model["code"])
        return json_response(render(txn, includes(request.query_params.get("$include"), "Summary,Addresses")))

    @spec(parameters=[doc.DOCUMENT_TYPE, doc.INCLUDE], requestBody=doc.body(doc.ADJUST),
          responses={**doc.ok("The new version", {"$ref": "#/components/schemas/TransactionModel"}),
                     **doc.errors(400, 401, 404, 429)})
    async def adjust_transaction(self, request: Request, company_code: str, transaction_code: str) -> Response:
        """Replace a recorded document with a new version; the old one becomes `Adjusted`."""
        backend = self.backend(request)
        model = lower_keys(await self.json_body(request))
        if not isinstance(model, dict) or model.get("adjustmentreason") not in ADJUSTMENT_REASONS:
            raise model_invalid("adjustmentReason", f"one of {', '.join(ADJUSTMENT_REASONS)} is required")
        description = model.get("adjustmentdescription")
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise model_invalid("adjustmentDescription", "a string of at most 255 characters is expected")
        txn = backend.adjust(company_code, unescape(transaction_code), self.document_type(request),
                             model["adjustmentreason"], description, model.get("newtransaction"))
        return json_response(render(txn, includes(request.query_params.get("$include"), "Summary,Addresses")))

    @spec(parameters=doc.ADDRESS_QUERY, responses={**doc.ok("The resolved address", {"type": "object"}),
                                                   **doc.errors(400, 401, 429)})
    async def resolve_address(self, request: Request) -> Response:
        """Resolve a US address (query parameters) to coordinates and taxing authorities."""
        self.backend(request)
        return json_response(resolve_address(dict(request.query_params)))

    @spec(requestBody=doc.body(doc.ADDRESS_INFO), responses={**doc.ok("The resolved address", {"type": "object"}),
                                                             **doc.errors(400, 401, 429)})
    async def resolve_address_post(self, request: Request) -> Response:
        self.backend(request)
        model = await self.json_body(request)
        if not isinstance(model, dict):
            raise model_invalid("address", "an AddressValidationInfo object is expected")
        return json_response(resolve_address(model))

    @spec(parameters=doc.LISTING, responses={**doc.ok("AvaTax system tax codes", {"$ref": "#/components/schemas/FetchResult"}),
                                             **doc.errors(400, 401, 429)})
    async def list_tax_codes(self, request: Request) -> Response:
        """The simulator's tax code catalogue (`jurisdictions.TAX_CODES`)."""
        self.backend(request)
        rows = [{"id": i + 1, "companyId": 0, "taxCode": t.code, "taxCodeTypeId": t.code_type,
                 "description": t.description, "parentTaxCode": t.code[:2] + "000000" if len(t.code) == 8 else None,
                 "isPhysical": t.is_physical, "goodsServiceCode": 0, "isActive": True, "isSSTCertified": False}
                for i, t in enumerate(jx.TAX_CODES.values())]
        return json_response(fetch_result(rows, request))
