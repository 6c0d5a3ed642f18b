"""IAM's policy simulator, which moto lacks: SimulatePrincipalPolicy evaluates the identity
policies of a user, group or role (inline and attached, a user's groups' too) for actions on
resources, as `harness doctor` asks before a run.

The evaluation is IAM's for identity policies (IAM User Guide, "Policy evaluation logic"): an
explicit Deny wins, else an Allow that matches allows, else the action is implicitly denied.
Action, NotAction, Resource and NotResource match with IAM's wildcards (* and ?; actions without
regard to case). A Condition is met when each of its keys has a value among the request's
context entries that its operator accepts (String*, Arn*, Bool, Numeric*, Null, with IfExists
and ForAnyValue/ForAllValues); a key the request does not give fails it, and is reported as
missing, as IAM does, but for the operators IAM takes as true then (negated ones, IfExists,
ForAllValues). Date and IP operators are not read: unmet in an Allow, met in a Deny.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.replies import Reply

ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role|group)/(?:.*/)?([^/]+)$")


def handle(call: Call) -> Reply | None:
    """IAM's answer to SimulatePrincipalPolicy; every other IAM call is moto's."""
    if call.operation != "SimulatePrincipalPolicy":
        return None
    source = str(call.params.get("PolicySourceArn") or "")
    found = ARN.match(source)
    if found is None:
        return errors.error(call, 400, "InvalidInput", f"Invalid ARN: {source}. Must be a user, group or role ARN.")
    documents = _policies(found.group(1), found.group(2), found.group(3))
    if documents is None:
        kind, name = found.group(2), found.group(3)
        return errors.error(call, 404, "NoSuchEntity", f"The {kind} with name {name} cannot be found.")
    context = {
        str(entry.get("ContextKeyName", "")).lower(): [str(v) for v in entry.get("ContextKeyValues") or []]
        for entry in call.params.get("ContextEntries") or []
    }
    resources = [str(r) for r in call.params.get("ResourceArns") or []] or ["*"]
    results = []
    for action in call.params.get("ActionNames") or []:
        for resource in resources:
            decision, missing = evaluate(documents, str(action), resource, context)
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": decision,
                    "MatchedStatements": [],
                    "MissingContextValues": missing,
                }
            )
    return errors.ok({"EvaluationResults": results, "IsTruncated": False})


def _policies(account: str, kind: str, name: str) -> list[dict[str, Any]] | None:
    """The policy documents of a principal (None when there is no such principal)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["global"]
    try:
        principal = {"user": backend.get_user, "role": backend.get_role, "group": backend.get_group}[kind](name)
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity, whatever its class
        return None
    owners = [principal]
    if kind == "user":
        owners += [g for g in backend.groups.values() if principal in g.users]
    documents: list[dict[str, Any]] = []
    for owner in owners:
        for document in (getattr(owner, "policies", None) or {}).values():
            documents.append(_document(document))
        for policy in (getattr(owner, "managed_policies", None) or {}).values():
            version = next((v for v in policy.versions if v.is_default), None)
            if version is not None:
                documents.append(_document(version.document))
    return documents


def _document(document: Any) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    text = str(document)
    return json.loads(unquote(text) if text.lstrip().startswith("%") else text)


def evaluate(
    documents: list[dict[str, Any]], action: str, resource: str, context: dict[str, list[str]]
) -> tuple[str, list[str]]:
    """(allowed | explicitDeny | implicitDeny, the context keys a matching statement lacked)."""
    allowed, missing = False, []
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, dict) else statements:
            if not _applies(statement, action, resource):
                continue
            deny = statement.get("Effect") == "Deny"
            met, lacking = _conditions(statement.get("Condition") or {}, context, deny)
            missing += [k for k in lacking if k not in missing]
            if not met:
                continue
            if deny:
                return "explicitDeny", []
            allowed = allowed or statement.get("Effect") == "Allow"
    return ("allowed", []) if allowed else ("implicitDeny", missing)


def _listed(value: Any) -> list[str]:
    """A policy element's values as strings (JSON booleans as IAM reads them: "true", "false")."""
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values if v is not None]


def _matches(patterns: list[str], value: str, case: bool = True) -> bool:
    """IAM's wildcards: * any run of characters, ? one character, nothing else special."""
    flags = 0 if case else re.IGNORECASE
    for pattern in patterns:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        if re.fullmatch(regex, value, flags) is not None:
            return True
    return False


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement and not _matches(_listed(statement["Action"]), action, case=False):
        return False
    if "NotAction" in statement and _matches(_listed(statement["NotAction"]), action, case=False):
        return False
    if "Resource" in statement and not _matches(_listed(statement["Resource"]), resource):
        return False
    if "NotResource" in statement and _matches(_listed(statement["NotResource"]), resource):
        return False
    return True


# operators true when their key is absent (IAM User Guide, "IAM JSON policy elements: Condition
# operators": a negated operator, ...IfExists, ForAllValues over no values)
NEGATED = frozenset(
    ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike")
    + ("NumericNotEquals", "DateNotEquals", "NotIpAddress")
)


def _conditions(conditions: dict[str, Any], context: dict[str, list[str]], deny: bool) -> tuple[bool, list[str]]:
    """(met, the keys the request did not give). An operator this does not read is taken as met
    in a Deny and unmet in an Allow: never allow, nor fail to deny, on a guess."""
    lacking: list[str] = []
    met = True
    for operator, pairs in conditions.items():
        qualifier, _, name = operator.rpartition(":")
        if_exists = name.endswith("IfExists")
        base = name.removesuffix("IfExists")
        for key, expected in (pairs or {}).items():
            given = context.get(key.lower())
            if base == "Null":
                met = met and (given is None) == ("true" in _listed(expected))
                continue
            if given is None:
                if not (if_exists or base in NEGATED or qualifier == "ForAllValues"):
                    lacking.append(key)
                    met = False
                continue
            results = [_accepts(base, _listed(expected), value) for value in given]
            if None in results:
                met = met and deny
                continue
            met = met and (all(results) if qualifier == "ForAllValues" else any(results))
    return met, lacking


def _accepts(operator: str, expected: list[str], value: str) -> bool | None:
    """Does `value` meet the operator against the policy's values? None: an operator not read."""
    if operator in ("StringEquals", "ArnEquals"):
        return value in expected
    if operator == "StringEqualsIgnoreCase":
        return value.lower() in [e.lower() for e in expected]
    if operator in ("StringLike", "ArnLike"):
        return _matches(expected, value)
    if operator in ("StringNotEquals", "ArnNotEquals"):
        return value not in expected
    if operator == "StringNotEqualsIgnoreCase":
        return value.lower() not in [e.lower() for e in expected]
    if operator in ("StringNotLike", "ArnNotLike"):
        return not _matches(expected, value)
    if operator == "Bool":
        return value.lower() in [e.lower() for e in expected]
    if operator.startswith("Numeric"):
        try:
            number, limits = float(value), [float(e) for e in expected]
        except ValueError:
            return False
        compare = {
            "NumericEquals": lambda a, b: a == b,
            "NumericNotEquals": lambda a, b: a != b,
            "NumericLessThan": lambda a, b: a < b,
            "NumericLessThanEquals": lambda a, b: a <= b,
            "NumericGreaterThan": lambda a, b: a > b,
            "NumericGreaterThanEquals": lambda a, b: a >= b,
        }.get(operator)
        if compare is None:
            return None
        if operator == "NumericNotEquals":
            return all(compare(number, limit) for limit in limits)
        return any(compare(number, limit) for limit in limits)
    return None
