"""Salesforce simulator: REST (sObjects, SOQL, composite, Bulk 2.0), OAuth and SOAP login, CPQ objects, CDC events.

Laid out on the simulator template: urls.py (the table), responses.py (one method per operation), models.py (+
composite.py, bulk.py: state and rules), auth.py, events.py, exceptions.py, admin.py, soql.py, schema.py, ids.py.
"""

from .simulator import SalesforceSimulator

__all__ = ["SalesforceSimulator"]
