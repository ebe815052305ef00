"""Salesforce simulator: REST (sObjects, SOQL, composite, Bulk 2.0), OAuth and SOAP login, CPQ objects, CDC events.

Laid out as a moto service: models.py (state and rules), responses.py (wire format), routes.py (+ composite.py,
bulk_routes.py, auth.py, events.py), exceptions.py, soql.py (lark grammar), ids.py, schema.py, admin.py.
"""

from .simulator import SalesforceSimulator

__all__ = ["SalesforceSimulator"]
