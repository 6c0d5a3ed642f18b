"""IAM's policy simulator, which moto lacks: SimulatePrincipalPolicy evaluates the identity
policies of a user, group or role (inline and attached, a user's groups' too) for actions on
resources, as `harness doctor` asks before a run.

The evaluation is IAM's for identity policies (IAM User Guide, "Policy evaluation logic"): an
explicit Deny wins, else an Allow that matches allows, else the action is implicitly denied.
Action, NotAction, Resource and NotResource match with IAM's wildcards (* and ?; actions without
regard to case). A Condition is met when each of its keys has a value among the request's
context entries that its operator accepts (String*, ArnLike/ArnEquals, Bool); a key the request
does not give leaves the condition unmet, and the key is reported as missing, as IAM does.
"""

from __future__ import annotations

import fnmatch
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
            met, lacking = _conditions(statement.get("Condition") or {}, context)
            missing += [k for k in lacking if k not in missing]
            if not met:
                continue
            if statement.get("Effect") == "Deny":
                return "explicitDeny", []
            allowed = allowed or statement.get("Effect") == "Allow"
    return ("allowed", []) if allowed else ("implicitDeny", missing)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _matches(patterns: list[str], value: str, case: bool = True) -> bool:
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


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


def _conditions(conditions: dict[str, Any], context: dict[str, list[str]]) -> tuple[bool, list[str]]:
    """(met, the keys the request did not give)."""
    lacking: list[str] = []
    met = True
    for operator, pairs in conditions.items():
        for key, expected in (pairs or {}).items():
            given = context.get(key.lower())
            if given is None:
                lacking.append(key)
                met = False
                continue
            if not any(_accepts(operator, _listed(expected), value) for value in given):
                met = False
    return met, lacking


def _accepts(operator: str, expected: list[str], value: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals"):
        return value in expected
    if base == "StringEqualsIgnoreCase":
        return value.lower() in [e.lower() for e in expected]
    if base in ("StringLike", "ArnLike"):
        return _matches(expected, value)
    if base == "StringNotEquals":
        return value not in expected
    if base == "StringNotLike":
        return not _matches(expected, value)
    if base == "Bool":
        return value.lower() in [e.lower() for e in expected]
    return False  # an operator this does not read: the statement is not taken to apply
