"""The account guard: on real AWS, nothing is written until the account is known and allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.client import BaseClient


class AccountNotAllowed(ValueError):
    """The credentials reach an account the scenario does not allow (exit code 2)."""


def check_account(
    sts_client: BaseClient,
    region: str,
    allowed: list[str],
    say: Callable[[str], object] = print,
    purpose: str = "to run this scenario",
) -> str:
    """Identify the account (STS GetCallerIdentity), say which account and region this is,
    and refuse unless that exact account id is allowed (`purpose`: what it is refused for)."""
    account: str = sts_client.get_caller_identity()["Account"]
    say(f"AWS account {account}, region {region}")
    if account not in allowed:
        shown = ", ".join(allowed) if allowed else "none"
        raise AccountNotAllowed(
            f"account {account} is not allowed {purpose} (allowed: {shown}); add it to the "
            "scenario's allowed_accounts or pass --allow-account " + account
        )
    return account
