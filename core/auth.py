"""Who may do what: the acting user, the one rule table of actions, and the check every service function makes first.

Every action a person or a command takes is a service function guarded by one action name (`@guarded("review.rate")`).
`may(actor, action)` answers from RULES alone; a refusal is one `Forbidden` error. Pages use the same table for
navigation: a page opens for the roles that may take its action (PAGE_ACTIONS)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from core.store.models import ROLES, User

ROLE_NAMES = {
    "admin": "admins",
    "lead": "expert leads",
    "expert": "experts",
    "annotator": "annotators",
    "product_owner": "product owners",
}
ADMIN: tuple[str, ...] = ("admin",)
EXPERTS = ("expert", "lead", "admin")
LEADS = ("lead", "admin")  # experts who may also see which model wrote an answer: reviews stay blind for the others
LABELLERS = ("annotator", "expert", "lead", "admin")
OWNERS = ("product_owner", "admin")


@dataclass(frozen=True)
class Rule:
    roles: tuple[str, ...]
    what: str  # the action as a person reads it: "rate answers"


# The rule table: every action, the roles that may take it, and what it is called in a refusal.
RULES: dict[str, Rule] = {
    "home.read": Rule(ROLES, "open the home page"),
    "review.rate": Rule(EXPERTS, "rate answers"),
    "review.compare": Rule(EXPERTS, "compare answers"),
    "review.label": Rule(LABELLERS, "label moderation items"),
    "review.adjudicate": Rule(EXPERTS, "adjudicate disagreements"),
    "queue.read": Rule(ADMIN, "see the review queues' settings"),
    "queue.configure": Rule(ADMIN, "change a review queue's settings"),
    "queue.gold": Rule(ADMIN, "make gold items"),
    "queue.assign": Rule(LEADS, "assign review items to named reviewers"),
    "queue.progress": Rule(LEADS, "follow the assigned reviewers' progress"),
    "queue.qualify": Rule(LEADS, "set a queue's qualification gate and decide on reviewers' provisional judgments"),
    "data.read": Rule(ADMIN, "see what the store holds"),
    "data.import": Rule(ADMIN, "import files"),
    "store.backup": Rule(ADMIN, "back up the store"),
    "users.read": Rule(ADMIN, "list users"),
    "users.add": Rule(ADMIN, "add users"),
    "users.deactivate": Rule(ADMIN, "deactivate users"),
    "moderation.read": Rule(ADMIN, "see the moderation classifier's settings"),
    "moderation.threshold": Rule(ADMIN, "change a classifier's threshold"),
    "moderation.retrain": Rule(ADMIN, "retrain the moderation classifier"),
    "moderation.promote": Rule(ADMIN, "promote a moderation classifier version"),
    "labelstudio.sync": Rule(ADMIN, "sync with Label Studio"),
    "reward.read": Rule(ADMIN, "see the reward models"),
    "reward.snapshot": Rule(ADMIN, "freeze a dataset snapshot"),
    "reward.train": Rule(ADMIN, "train a reward model"),
    "reward.promote": Rule(ADMIN, "promote a reward model"),
    "reward.score": Rule(ADMIN, "score answers with a reward model"),
    "jobs.read": Rule(ADMIN, "see the background jobs"),
    "jobs.configure": Rule(ADMIN, "change when background jobs start"),
    "alerts.read": Rule(ADMIN, "see the alerts and their webhook deliveries"),
    "alerts.configure": Rule(ADMIN, "change the alert thresholds"),
    "report.ab": Rule(OWNERS, "read A/B reports"),
    "experiment.plan": Rule(OWNERS, "plan an experiment's split"),
    "report.kpi": Rule(OWNERS, "read the KPIs"),
    "report.agreement": Rule(EXPERTS, "read the agreement report"),
    "trail.read": Rule(EXPERTS, "read the audit trail"),
    "sample.draw": Rule(EXPERTS, "draw an audit sample"),
    "sample.review": Rule(EXPERTS, "review an audit sample"),
    "flags.read": Rule(EXPERTS, "read the flagged answers"),
    "flags.triage": Rule(EXPERTS, "triage flags"),
    "comments.read": Rule(EXPERTS, "read comment threads"),
    "comments.write": Rule(EXPERTS, "comment on items"),
    "sources.read": Rule(LEADS, "see which model version wrote an answer and the id it was imported with"),
}

# The action each page is for: navigation lists a page to the roles that may take it, and the page checks it on entry.
PAGE_ACTIONS: dict[str, str] = {
    "home": "home.read",
    "rate": "review.rate",
    "compare": "review.compare",
    "moderation": "review.label",
    "adjudicate": "review.adjudicate",
    "data": "data.import",
    "queues": "queue.progress",  # leads: assignment and progress; the settings on it stay admin-only
    "ab_report": "report.ab",
    "reward_model": "reward.train",
    "kpi": "report.kpi",
    "audit": "trail.read",
    "agreement": "report.agreement",
    "audit_sample": "sample.review",
    "flags": "flags.triage",
}


class Forbidden(Exception):
    """The actor may not take this action; nothing was done. The message says who may."""


@dataclass(frozen=True)
class UserPublic:
    """The acting user, as pages, the CLI and the services pass it around (never an ORM row)."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(user.id, user.username, user.display_name or user.username, user.role, user.active)


def may(actor: UserPublic | None, action: str) -> bool:
    return actor is not None and actor.active and actor.role in RULES[action].roles


def require(actor: UserPublic | None, action: str) -> None:
    """Refuse with Forbidden unless the actor may take the action."""
    if may(actor, action):
        return
    rule = RULES[action]
    names = [ROLE_NAMES[role] for role in rule.roles]
    allowed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    allowed = "everyone" if rule.roles == ROLES else allowed
    if actor is None:
        raise Forbidden(f"Sign in first: only signed-in {allowed} may {rule.what}.")
    if not actor.active:
        raise Forbidden(f"The account {actor.username!r} is inactive: ask an admin to activate it.")
    raise Forbidden(f"Only {allowed} may {rule.what}; {actor.username!r} is signed in as {actor.role}.")


F = TypeVar("F", bound=Callable[..., Any])


def guarded(action: str | Mapping[str, str]) -> Callable[[F], F]:
    """Make a service function check its actor first. `action` is one action, or a mapping from the function's
    `queue` argument to the action of that queue (the judging functions every queue shares)."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def checked(*, actor: UserPublic | None, **kwargs: Any) -> Any:
            require(actor, action if isinstance(action, str) else action[kwargs["queue"]])
            return function(actor=actor, **kwargs)

        checked.action = action  # type: ignore[attr-defined]  (read by the test that walks the rule table)
        return checked  # type: ignore[return-value]

    return decorate


def can_open(role: str, page: str) -> bool:
    return page in PAGE_ACTIONS and role in RULES[PAGE_ACTIONS[page]].roles


def pages_for(role: str) -> list[str]:
    return [page for page in PAGE_ACTIONS if can_open(role, page)]
