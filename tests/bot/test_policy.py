from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.models import ApprovalCreate, RiskLevel
from bot.policy import classify, load_policy, parse_policy
from tests.support.servers import EXAMPLE_POLICY

ISSUE_POLICY = EXAMPLE_POLICY  # docs/policy.example.yaml: the core issue's policy as written

BRIEF_POLICY = """
approval_channels:
  high_risk:
    - slack: "#agent-approvals"
    - sms: "+1234567890" # For urgent
  medium_risk:
    - slack: "#agent-review"
  low_risk:
    - email: "team@company.com"
"""


def req(**kw):
    return ApprovalCreate(**{"action": "noop", **kw})


@pytest.fixture(scope="module")
def policy():
    return parse_policy(ISSUE_POLICY, "issue.yaml")


def test_issue_policy_loads_with_escalation(policy):
    high = policy.level(RiskLevel.high)
    assert [s.after.total_seconds() for s in high.escalate] == [600, 1800, 2700]
    assert high.escalate[2].repeat.times == 2
    assert high.escalate[0].targets[0].kind == "slack"
    assert policy.level(RiskLevel.critical).quorum == 2


def test_brief_format_maps_levels():
    policy = parse_policy(BRIEF_POLICY, "brief.yaml")
    assert [(c.kind, c.target) for c in policy.level(RiskLevel.high).channels] == [
        ("slack", "#agent-approvals"),
        ("sms", "+1234567890"),
    ]
    assert policy.level(RiskLevel.low).channels[0].target == "team@company.com"


def test_highest_matching_rule_wins(policy):
    result = classify(policy, req(action="delete_user", risk={"cost_usd": 500}), "a")
    assert result.level == RiskLevel.high
    assert result.rules == ["deletes", "big-spend"]
    assert "cost_usd: 500 (gt 100.0)" in result.reasons


def test_args_paths_and_agent_glob(policy):
    args = {"env": "prod", "target": {"replicas": 12}}
    assert classify(policy, req(action="deploy", args=args), "ci-main").level == RiskLevel.critical
    assert classify(policy, req(action="deploy", args=args), "human").level == RiskLevel.medium
    few = {"env": "prod", "target": {"replicas": 3}}
    assert classify(policy, req(action="deploy", args=few), "ci-main").level == RiskLevel.medium


def test_agent_hint_raises_but_never_lowers(policy):
    assert classify(policy, req(risk={"level": "critical"}), "a").level == RiskLevel.critical
    lowered = classify(policy, req(action="delete_x", risk={"level": "low"}), "a")
    assert lowered.level == RiskLevel.high


def test_deny_rule_rejects(policy):
    result = classify(policy, req(sql="drop table users"), "a")
    assert result.auto_outcome == "reject"
    assert "DROP is never run by agents" in result.auto_comment


def test_select_is_low_and_auto_approved_only_through_a_rule(policy):
    result = classify(policy, req(action="db.query", sql="SELECT 1"), "a")
    assert (result.level, result.auto_outcome) == (RiskLevel.low, "approve")
    assert result.rules == ["plain-reads"]
    # Without a rule saying so, SQL never lowers the level below default_level.
    other = classify(policy, req(action="transfer_funds", sql="SELECT 1"), "a")
    assert (other.level, other.auto_outcome) == (RiskLevel.medium, None)


def test_default_level_when_nothing_matches(policy):
    result = classify(policy, req(), "a")
    assert result.level == RiskLevel.medium and result.reasons == ["default_level: medium"]


def test_regex_in_and_exists():
    policy = parse_policy(
        """
rules:
  - {name: r, match: {args: {email: {regex: "@corp\\\\.com$"}}}, level: high}
  - {name: i, match: {args: {region: {in: [eu, us]}}}, level: critical}
  - {name: e, match: {args: {force: {exists: true}}}, level: high}
""",
        "p.yaml",
    )
    assert classify(policy, req(args={"email": "a@corp.com"}), "a").level == RiskLevel.high
    assert classify(policy, req(args={"region": "eu"}), "a").level == RiskLevel.critical
    assert classify(policy, req(args={"force": False}), "a").rules == ["e"]
    assert classify(policy, req(args={"email": "a@else.com"}), "a").level == RiskLevel.medium


def test_builtin_default_policy():
    policy = load_policy(None)
    assert classify(policy, req(risk={"cost_usd": 101}), "a").level == RiskLevel.high
    assert classify(policy, req(risk={"data_sensitivity": "phi"}), "a").level == RiskLevel.high
    assert classify(policy, req(context={"reversible": False}), "a").level == RiskLevel.high
    assert classify(policy, req(action="db.query", sql="select 1"), "a").auto_outcome == "approve"
    assert classify(policy, req(sql="select 1"), "a").level == RiskLevel.medium


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("levels:\n  high:\n    quorum: 0\n", "p.yaml:3: levels.high.quorum:"),
        ("rules:\n  - name: x\n    match: {action: a}\n", "p.yaml:2: rules.0: a rule sets exactly one"),
        ("levels:\n  high:\n    timeout: soon\n", "p.yaml:3: levels.high.timeout: expected a duration"),
        ("levels:\n  high:\n    channels: [{slack: 'not a channel'}]\n", "p.yaml:3: levels.high.channels.0"),
        ("levels: [\n", "p.yaml:2: invalid YAML"),
        ("levels:\n  urgent: {}\n", "p.yaml:2: levels.urgent"),
        ("rules:\n  - name: x\n    match: {colour: red}\n    level: high\n", "p.yaml:3: rules.0.match.colour"),
    ],
)
def test_policy_errors_name_line_and_field(text, expected):
    with pytest.raises(ConfigError) as info:
        parse_policy(text, "p.yaml")
    assert info.value.message.startswith(expected), info.value.message


def test_example_policy_file_is_valid():
    example = Path(__file__).parents[2] / "docs" / "policy.example.yaml"
    policy = load_policy(example)
    assert policy.rules


def test_sql_rule_sets_the_level_only_when_every_statement_is_of_its_kinds():
    policy = parse_policy(
        """
default_level: high
rules:
  - {name: reads, match: {sql: [SELECT]}, level: low}
  - {name: inserts-raise, match: {sql: [INSERT]}, level: critical}
""",
        "p.yaml",
    )
    assert classify(policy, req(sql="SELECT 1; SELECT 2"), "a").level == RiskLevel.low
    mixed = classify(policy, req(sql="SELECT 1; DELETE FROM t WHERE id = 1"), "a")
    assert mixed.level == RiskLevel.high
    assert "not raised by rule reads (not every statement is of its kinds) (low)" in mixed.explanation
    # A partly matching rule still raises: an INSERT after a SELECT is critical here.
    assert classify(policy, req(sql="SELECT 1; INSERT INTO t VALUES (1)"), "a").level == RiskLevel.critical


def test_rule_on_risk_hints_only_raises():
    policy = parse_policy(
        """
default_level: medium
rules:
  - {name: cheap, match: {cost_usd: {lt: 1}}, level: low}
  - {name: pricey, match: {cost_usd: {gt: 100}}, level: high}
""",
        "p.yaml",
    )
    cheap = classify(policy, req(risk={"cost_usd": 0}), "a")
    assert cheap.level == RiskLevel.medium and cheap.reasons == ["default_level: medium"]
    pricey = classify(policy, req(risk={"cost_usd": 500}), "a")
    assert pricey.level == RiskLevel.high and pricey.reasons == ["cost_usd: 500 (gt 100.0)"]
