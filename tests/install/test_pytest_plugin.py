"""The pytest plugin in a user's repository: YAML scenarios collected as tests (the explanation as the failure
message), --q2c-scenarios-dir, `q2c_stack.run()` failures that say why, and `q2c_servers` for the user's own
client (the sample user project under tests/, as .ci/installed-artifact runs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
SAMPLE = Path(__file__).resolve().parents[1] / "sample_user_project"
ARGS = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestDeprecationWarning")
# each run in its own process, as a user's: an in-process pytester run forgets the modules it imported, and the
# durable engine's registrations do not survive importing the flows twice in one process


def _scenario(pytester: pytest.Pytester, where: str, name: str, *, net: str = "12000.00", pending: str = "") -> Path:
    text = (SAMPLE / "scenarios" / "monthly_tm_billing.yaml").read_text()
    text = text.replace("name: monthly_tm_billing", f"name: {name}").replace('net: "12000.00"', f'net: "{net}"')
    if pending:
        text += f"pending: {pending}\n"
    path = pytester.path / where / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_yaml_scenarios_are_collected_and_a_failure_is_the_explanation(pytester: pytest.Pytester) -> None:
    _scenario(pytester, "scenarios", "bills_right")
    _scenario(pytester, "scenarios", "bills_wrong", net="11999.00")
    _scenario(pytester, "scenarios", "not_there_yet", net="1.00", pending="the core cannot do this yet")
    (pytester.path / "scenarios" / "faults").mkdir()
    (pytester.path / "scenarios" / "faults" / "mine.yaml").write_text("faults: []\n")
    (pytester.path / "scenarios" / "notes.yaml").write_text("owner: finance\n")  # not a scenario: not collected
    result = pytester.runpytest_subprocess(*ARGS, "-rA")
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    out = result.stdout.str()
    assert "scenario bills_wrong (seed 21, in-process): FAIL" in out
    assert "expectation: " in out and "11999" in out
    assert "Traceback" not in out and "runner.py" not in out
    assert "pending: the core cannot do this yet" in out


def test_scenarios_dir_option_collects_and_names_them(pytester: pytest.Pytester) -> None:
    _scenario(pytester, "elsewhere/mine", "far_away")
    pytester.makepyfile(test_named="""
        def test_by_name(q2c_stack):
            result = q2c_stack.run("far_away")
            assert result.ok
    """)
    result = pytester.runpytest_subprocess(*ARGS, "--q2c-scenarios-dir", "elsewhere/mine", "test_named.py", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_named.py::test_by_name PASSED*", "*far_away.yaml::far_away PASSED*"])
    bad = pytester.runpytest_subprocess(*ARGS, "--q2c-scenarios-dir", "nowhere")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--q2c-scenarios-dir nowhere: no such directory" in bad.stderr.str()


def test_a_failed_run_says_why(pytester: pytest.Pytester) -> None:
    _scenario(pytester, "drafts", "wrong", net="1.00")
    pytester.makepyfile(test_stack="""
        def test_assert_ok(q2c_stack):
            result = q2c_stack.run("drafts/wrong.yaml")
            assert result.ok

        def test_check(q2c_stack):
            q2c_stack.check("drafts/wrong.yaml")
    """)
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert out.count("scenario wrong (seed 21, in-process): FAIL") >= 2
    assert "expectation: " in out
    assert "FactBundle" not in out  # the explanation, not a huge repr of the facts


def test_the_sample_user_project_with_the_servers_fixture(pytester: pytest.Pytester) -> None:
    for item in SAMPLE.iterdir():
        if item.is_dir():
            shutil.copytree(item, pytester.path / item.name)
        else:
            shutil.copy(item, pytester.path / item.name)
    result = pytester.runpytest_subprocess(*ARGS, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*monthly_tm_billing.yaml::monthly_tm_billing PASSED*"])


def test_the_servers_fixture_for_simple_salesforce_logins(q2c_servers) -> None:
    from simple_salesforce import Salesforce

    creds = q2c_servers.credentials["salesforce"]
    sf = Salesforce(username=creds["username"], password=creds["password"], security_token=creds["security_token"],
                    session=q2c_servers.salesforce_session())
    try:
        assert sf.Account.create({"Name": "Logged in"})["success"] is True
        assert sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "Logged in"
    finally:
        sf.session.close()
    assert Path(q2c_servers.endpoints_file).is_file() and q2c_servers.env()["SSL_CERT_FILE"] == q2c_servers.ca_bundle

