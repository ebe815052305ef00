"""Month-end load tests: start the simulators and the core, set up engagements, run Locust in a subprocess, drain
the core, check correctness through the vendors' APIs and write the report (`q2c load month-end`).

Locust is never imported here (gevent monkey-patching in a process that already imported ssl/httpx ends in a
RecursionError): the locustfiles live in ``q2c_harness/load/locustfiles/`` and run in their own processes.
"""
