"""The scenario format: every shipped scenario validates; errors name the YAML path; Faker master data is
deterministic per seed; the Python API builds the same steps."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from q2c_harness.harness.masterdata import build_world
from q2c_harness.harness.scenario import (
    Scenario,
    ScenarioError,
    available_scenarios,
    load_scenario,
    parse_scenario,
    steps,
)

SIX = {"multi_entity_tm", "fixed_fee_change_order", "month_end_storm", "duplicates_and_replay", "retainer_drawdown",
       "exceptions_and_resolution"}


def test_the_six_scenarios_ship_and_validate() -> None:
    assert SIX <= set(available_scenarios())
    for name in available_scenarios():
        sc = load_scenario(name)
        assert sc.name == name and sc.steps


def _minimal(**over: object) -> dict:
    data = {"name": "mini", "start": "2026-11-02T08:00:00Z",
            "master_data": {"legal_entities": [{"id": "US", "country": "US", "currency": "USD"}],
                            "clients": [{"id": "C1", "country": "US", "currency": "USD"}],
                            "people": [{"id": "P1", "role": "Consultant", "region": "NA", "entity": "US"}]},
            "steps": [{"close_quote": {"engagement": "E1", "client": "C1", "entity": "US", "billing": "fixed_fee",
                                       "currency": "USD", "value": "10.00", "start": "2026-11-02",
                                       "end": "2026-12-01"}},
                      {"log_time": {"engagement": "E1", "person": "P1",
                                    "entries": [{"day": "2026-11-03", "hours": "8"}]}}]}
    data.update(over)
    return data


def test_errors_name_the_yaml_path() -> None:
    bad = _minimal()
    bad["steps"][1]["log_time"]["entries"][0]["hours"] = "lots"
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(bad, "mini.yaml")
    assert "steps[1].log_time.entries[0].hours" in str(exc.value)


def test_unknown_keys_and_steps_are_refused() -> None:
    with pytest.raises(ScenarioError, match=r"steps\[0\].close_quote.colour"):
        d = _minimal()
        d["steps"][0]["close_quote"]["colour"] = "red"
        parse_scenario(d)
    with pytest.raises(ScenarioError, match="unknown step 'dance'"):
        parse_scenario(_minimal(steps=[{"dance": {}}]))
    with pytest.raises(ScenarioError, match="unknown person 'NOBODY'"):
        d = _minimal()
        d["steps"][1]["log_time"]["person"] = "NOBODY"
        parse_scenario(d)


def test_master_data_is_deterministic_per_seed() -> None:
    sc = load_scenario("multi_entity_tm")
    a, b = build_world(sc), build_world(sc)
    assert [p.full_name for p in a.people.values()] == [p.full_name for p in b.people.values()]
    c = build_world(sc.with_overrides(seed=sc.seed + 1))
    assert [p.full_name for p in a.people.values()] != [p.full_name for p in c.people.values()]


def test_python_api_builds_the_same_scenario() -> None:
    from_yaml = parse_scenario(_minimal())
    in_code = Scenario(
        name="mini", start=datetime(2026, 11, 2, 8, tzinfo=timezone.utc), master_data=from_yaml.master_data,
        steps=[steps.CloseQuote(engagement="E1", client="C1", entity="US", billing="fixed_fee", currency="USD",
                                value="10.00", start=date(2026, 11, 2), end=date(2026, 12, 1)),
               steps.LogTime(engagement="E1", person="P1", entries=[{"day": date(2026, 11, 3), "hours": "8"}])])
    assert in_code.steps == from_yaml.steps
