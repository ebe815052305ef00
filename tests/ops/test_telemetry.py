"""OpenTelemetry: off unless Q2C_OTEL is set; spans for ops API requests and vendor calls carry the correlation id."""

from __future__ import annotations

import httpx
import pytest

from q2c_harness import telemetry
from q2c_harness.connectors.http import CallRecord
from q2c_harness.ops import create_ops_app

from .conftest import AUTH, TOKEN

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk not installed (pip install -e '.[otel]')")
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


def test_off_by_default(monkeypatch):
    monkeypatch.delenv("Q2C_OTEL", raising=False)
    assert telemetry.setup_tracing() is None
    with pytest.raises(ValueError):
        telemetry.setup_tracing("zipkin")


async def test_ops_request_and_vendor_call_spans(engine):
    exporter = InMemorySpanExporter()
    provider = telemetry.setup_tracing("console", exporter=exporter)
    app = create_ops_app(engine, token=TOKEN, dashboard=False)
    assert telemetry.instrument_ops_app(app, provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops") as c:
        assert (await c.get("/transactions/c-bad", headers=AUTH)).status_code == 200
        assert (await c.get("/kpis", headers={**AUTH, "X-Correlation-Id": "c-x"})).status_code == 200
    telemetry.call_log_span(CallRecord(system="netsuite", operation="invoice.put", method="PUT", url="https://ns/x",
                                       status=503, attempt=2, duration=0.01, correlation_id="c-bad",
                                       idempotency_key=None, error_class="TransientError", error_code="503"),
                            provider)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    tx = spans["GET /transactions/{correlation_id}"]
    assert tx.attributes["q2c.correlation_id"] == "c-bad" and tx.attributes["http.response.status_code"] == 200
    assert spans["GET /kpis"].attributes["q2c.correlation_id"] == "c-x"
    call = spans["netsuite invoice.put"]
    assert call.attributes["q2c.correlation_id"] == "c-bad" and call.attributes["q2c.attempt"] == 2
    assert call.attributes["error.type"] == "TransientError"
