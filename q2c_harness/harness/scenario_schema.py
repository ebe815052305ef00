"""The JSON Schema of the scenario YAML format, for editors (`q2c scenario schema > scenario.schema.json`).

Derived from the pydantic models, with the one difference YAML makes: a step is written as a one-key mapping
(``- log_time: {...}``), so each step's schema sits under its kind and has no ``kind`` property. With the YAML
language server (VS Code and others), a first line ``# yaml-language-server: $schema=scenario.schema.json``
gives completion and checking as you type.
"""

from __future__ import annotations

import json
from typing import Any

from .scenario import STEP_KINDS, Scenario

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _def_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def scenario_json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema()
    defs = schema["$defs"]
    mapping = schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    one_of = []
    for kind in STEP_KINDS:
        name = _def_name(mapping[kind])
        step = defs[name]
        step["properties"].pop("kind", None)
        if "kind" in step.get("required", []):
            step["required"].remove("kind")
        one_of.append({"type": "object", "title": kind, "description": step.get("description", ""),
                       "properties": {kind: {"anyOf": [{"$ref": f"#/$defs/{name}"}, {"type": "null"}]}},
                       "required": [kind], "additionalProperties": False})
    schema["properties"]["steps"]["items"] = {"oneOf": one_of}
    return {"$schema": SCHEMA_DIALECT, "title": "q2c-harness scenario",
            "description": "A scenario: master data, a fault profile, steps and what to expect (docs/scenarios.md)",
            **{k: v for k, v in schema.items() if k != "title"}}


def render() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=False) + "\n"
