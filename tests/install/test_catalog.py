"""The scenario catalog: the user's directories (--scenarios-dir, Q2C_SCENARIOS, ./scenarios) before the built-in
scenarios and fault profiles (package resources), each with its source; a fault profile a scenario names is found
when it loads, and a date that does not exist is named with its file, step and field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from q2c_harness.harness.catalog import BUILT_IN, Catalog, builtin_root, discover, read_yaml
from q2c_harness.harness.scenario import ScenarioError, available_scenarios, load_fault_profile, load_scenario
from q2c_harness.harness.scenario_schema import scenario_json_schema
from q2c_harness.usage import UsageError

BUILTINS = {"multi_entity_tm", "fixed_fee_change_order", "month_end_storm", "duplicates_and_replay",
            "retainer_drawdown", "exceptions_and_resolution"}

MINI = """name: {name}
title: {title}
seed: 3
start: "2026-11-02T08:00:00Z"
master_data:
  legal_entities: [{{id: US, country: US, currency: USD}}]
  clients: [{{id: C1, country: US, currency: USD}}]
  people: [{{id: P1, role: Consultant, region: NA, entity: US}}]
{faults}steps:
  - close_quote: {{engagement: E1, client: C1, entity: US, billing: fixed_fee, currency: USD, value: "10.00",
                  start: 2026-11-02, end: 2026-12-01}}
  - log_time:
      engagement: E1
      person: P1
      entries:
        - {{day: {day}, hours: "8"}}
"""


def write_scenario(directory: Path, name: str, *, title: str = "mine", day: str = "2026-11-03",
                   faults: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(MINI.format(name=name, title=title, day=day, faults=faults))
    return path


def test_builtins_are_package_resources() -> None:
    root = builtin_root()
    assert root.joinpath("multi_entity_tm.yaml").is_file() and root.joinpath("faults", "flaky.yaml").is_file()
    catalog = Catalog()
    assert BUILTINS <= {e.name for e in catalog.scenarios()}
    assert {e.source for e in catalog.scenarios()} == {BUILT_IN}
    assert {"flaky", "month_end_storm", "psa_duplicates"} <= {e.name for e in catalog.fault_profiles()}


def test_user_directories_come_first_with_their_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_scenario(tmp_path / "scenarios", "local_one")
    write_scenario(tmp_path / "scenarios", "multi_entity_tm", title="my own multi-entity")
    write_scenario(tmp_path / "env1", "from_env")
    write_scenario(tmp_path / "flag", "from_flag")
    (tmp_path / "flag" / "faults").mkdir()
    (tmp_path / "flag" / "faults" / "flaky.yaml").write_text("faults: []\n")
    monkeypatch.setenv("Q2C_SCENARIOS", f"env1{os.pathsep}scenarios")
    catalog = discover("flag")
    names = [(e.name, e.source) for e in catalog.scenarios()]
    assert names[:4] == [("from_flag", "flag"), ("from_env", "Q2C_SCENARIOS:env1"),
                         ("local_one", "Q2C_SCENARIOS:scenarios"), ("multi_entity_tm", "Q2C_SCENARIOS:scenarios")]
    assert ("multi_entity_tm", BUILT_IN) not in names  # hidden by the user's own, which says so
    mine = catalog.scenario("multi_entity_tm")
    assert mine is not None and mine.overrides == (BUILT_IN,)
    assert load_scenario("multi_entity_tm", catalog).title == "my own multi-entity"
    assert catalog.fault_profile("flaky").source == "flag" and load_fault_profile("flaky", catalog) == {"faults": []}
    assert BUILTINS - {"multi_entity_tm"} <= set(available_scenarios(catalog))


def test_dot_scenarios_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("Q2C_SCENARIOS", raising=False)
    write_scenario(tmp_path / "scenarios", "local_one")
    assert discover().scenarios()[0].source == "./scenarios"


def test_a_named_directory_that_is_missing_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="scenarios directory nowhere: no such directory"):
        discover("nowhere")
    monkeypatch.setenv("Q2C_SCENARIOS", "gone")
    with pytest.raises(UsageError, match="Q2C_SCENARIOS=gone: gone is not a directory"):
        discover()


def test_a_date_that_does_not_exist_names_file_step_and_field(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "bad_day", day="2026-11-31")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    message = str(exc.value)
    assert message.splitlines() == [message]
    assert message.startswith(f"{path}: steps[1].log_time.entries[0].day: ") and "'2026-11-31'" in message


def test_an_unknown_fault_profile_is_found_at_load_time(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "bad_profile", faults="faults: {profile: no_such_profile}\n")
    with pytest.raises(ScenarioError, match=r"faults.profile: unknown fault profile 'no_such_profile'; available: "
                                            r".*flaky"):
        load_scenario(path)


def test_fault_profiles_are_resolved_to_files_when_loaded(tmp_path: Path) -> None:
    sc = load_scenario("duplicates_and_replay")
    assert Path(sc.faults.profile).is_file() and Path(sc.faults.profile).stem == "psa_duplicates"


def test_yaml_errors_give_the_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"x.yaml: line 2, column \d+ not valid YAML"):
        read_yaml("a: [1, 2\nb: }\n", "x.yaml")


def test_the_json_schema_accepts_every_builtin_and_refuses_a_bad_step() -> None:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for entry in Catalog().scenarios():
        doc = json.loads(json.dumps(read_yaml(entry.read_text(), entry.name), default=str))  # dates as editors see
        errors = list(validator.iter_errors(doc))
        assert not errors, (entry.name, [e.message for e in errors][:3])
    doc = json.loads(json.dumps(read_yaml(builtin_root().joinpath("multi_entity_tm.yaml").read_text(), "x"),
                                default=str))
    doc["steps"].append({"dance": {}})
    assert list(validator.iter_errors(doc))
    doc["steps"][-1] = {"log_time": {"engagement": "E1", "colour": "red"}}
    assert list(validator.iter_errors(doc))
