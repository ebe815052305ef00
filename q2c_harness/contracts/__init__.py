"""Consumer contracts (pact V4) for every vendor call the core makes, message contracts for the events it
publishes, provider verification against a simulator or a real sandbox, the upgrade check and the fuzz runner.

| module | job |
|---|---|
| `common.py` | names, the pact directory, matchers that take values from provider states, pact normalisation |
| `consumer.py` | the HTTP interactions per provider, driven through the real connector clients |
| `messages.py` | the event (message) interactions and their producers (the flows' payload builders) |
| `states.py` | provider states set up through each vendor's public API; the state-change server |
| `verify.py` | provider verification (simulator in-process on a real socket, or any base URL) |
| `upgrade.py` | OpenAPI diff between releases + verification against both |
| `fuzz.py` | schemathesis against a running server |
"""
