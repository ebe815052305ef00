"""One async client per vendor system, on a shared httpx layer, plus pure mappers to and from the canonical model.

- `http`: retries (seeded full jitter, Retry-After), per-endpoint circuit breakers, per-account concurrency budgets,
  usage guards, correlation ids, the call log;
- `errors`: vendor errors mapped onto the shared taxonomy (`q2c_harness.errors`);
- `salesforce`, `netsuite`, `psa`: the clients;
- `mapping`: canonical <-> vendor payloads (pure functions).

See docs/connectors.md.
"""

from .errors import (
    AuthError,
    BusinessError,
    CircuitOpenError,
    ContractError,
    DuplicateRecordError,
    IntegrationError,
    RecordNotFoundError,
    TransientError,
)
from .http import (
    BreakerPolicy,
    CallRecord,
    CallRecorder,
    RetryPolicy,
    UsagePolicy,
    VendorAccount,
    VendorClient,
    shared_vendor_account,
)
from .netsuite import NetSuiteClient, NetSuiteOAuth2, NetSuiteTBA
from .psa import PsaClient, verify_webhook_signature
from .salesforce import SalesforceAuth, SalesforceClient

__all__ = [
    "AuthError", "BreakerPolicy", "BusinessError", "CallRecord", "CallRecorder", "CircuitOpenError", "ContractError",
    "DuplicateRecordError", "IntegrationError", "NetSuiteClient", "NetSuiteOAuth2", "NetSuiteTBA", "PsaClient",
    "RecordNotFoundError", "RetryPolicy", "SalesforceAuth", "SalesforceClient", "TransientError", "UsagePolicy",
    "VendorAccount", "VendorClient", "shared_vendor_account", "verify_webhook_signature",
]
