"""OpenTelemetry traces, optional. Enabled by ``Q2C_OTEL``:

- unset / ``none``: nothing (no import of opentelemetry at all);
- ``console``: spans printed to stdout (``ConsoleSpanExporter``);
- ``otlp``: spans sent over OTLP/HTTP (``opentelemetry-exporter-otlp-proto-http``; endpoint from the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT``).

Install with ``pip install -e ".[otel]"``. Spans carry ``q2c.correlation_id`` whenever one is known:

- ``instrument_ops_app(app)``: one server span per ops API request (``http.request.method``, ``http.route``,
  ``http.response.status_code``; the correlation id from the ``/transactions/{correlation_id}`` path or an
  ``X-Correlation-Id`` request header);
- ``call_log_span``: a connector call-log hook making one client span per vendor call attempt
  (``q2c.system``, ``q2c.operation``, ``q2c.attempt``, status, error class); chain it with
  ``ops.calls.attach_call_log(vendors, engine, extra=call_log_span)``.
"""

from __future__ import annotations

import os
import time
from typing import Any

CORRELATION_ATTR = "q2c.correlation_id"
_provider: Any = None


def setup_tracing(mode: str | None = None, *, exporter: Any = None) -> Any:
    """Configure a tracer provider once; returns it, or None when tracing is off. ``exporter`` (tests) overrides
    the mode's exporter and is attached with a simple (synchronous) processor."""
    global _provider
    mode = (mode if mode is not None else os.environ.get("Q2C_OTEL", "")).strip().lower()
    if exporter is None and mode in ("", "none", "off", "0"):
        return None
    if _provider is not None and exporter is None:
        return _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                         "q2c-harness")}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif mode == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif mode == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"Q2C_OTEL must be console, otlp or none, not {mode!r}")
    if exporter is None:
        _provider = provider
    return provider


def tracer(provider: Any = None) -> Any:
    provider = provider or _provider
    if provider is None:
        return None
    return provider.get_tracer("q2c_harness")


def instrument_ops_app(app: Any, provider: Any = None) -> bool:
    """Add a span per request to a FastAPI app when tracing is on; returns whether it did."""
    provider = provider or setup_tracing()
    if provider is None:
        return False
    from opentelemetry.trace import SpanKind, Status, StatusCode

    t = tracer(provider)

    @app.middleware("http")
    async def otel_span(request: Any, call_next: Any) -> Any:
        with t.start_as_current_span(f"{request.method} {request.url.path}", kind=SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("url.path", request.url.path)
            cid = request.headers.get("x-correlation-id")
            if request.url.path.startswith("/transactions/"):
                cid = request.url.path.split("/")[2] or cid
            response = await call_next(request)
            route = request.scope.get("route")
            if route is not None:
                span.set_attribute("http.route", getattr(route, "path", ""))
                span.update_name(f"{request.method} {getattr(route, 'path', request.url.path)}")
            if cid:
                span.set_attribute(CORRELATION_ATTR, cid)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response
    return True


def call_log_span(record: Any, provider: Any = None) -> None:
    """Connector call-log hook: one finished client span per vendor call attempt (no-op when tracing is off)."""
    t = tracer(provider)
    if t is None:
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    end = time.time_ns()
    start = end - int(record.duration * 1e9)
    span = t.start_span(f"{record.system} {record.operation}", kind=SpanKind.CLIENT, start_time=start)
    span.set_attribute(CORRELATION_ATTR, record.correlation_id or "")
    span.set_attribute("q2c.system", record.system)
    span.set_attribute("q2c.operation", record.operation)
    span.set_attribute("q2c.attempt", record.attempt)
    span.set_attribute("http.request.method", record.method)
    span.set_attribute("url.full", record.url)
    if record.status is not None:
        span.set_attribute("http.response.status_code", record.status)
    if record.error_class:
        span.set_attribute("error.type", record.error_class)
        span.set_status(Status(StatusCode.ERROR, record.error_code or record.error_class))
    span.end(end_time=end)
