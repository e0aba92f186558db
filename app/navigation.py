"""The registry of pages and what each role sees in the navigation."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app.session import sign_out
from core.auth import UserPublic, pages_for

ROLE_TITLES = {
    "admin": "Admin",
    "lead": "Expert lead",
    "expert": "Expert reviewer",
    "annotator": "Annotator",
    "product_owner": "Product owner",
}


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to app/main.py
    title: str
    icon: str


# Page key (as in core.auth.PAGE_ACTIONS) -> its file, title and icon. The home page comes first: it is the default.
PAGES: dict[str, PageSpec] = {
    "home": PageSpec("../pages/home.py", "Home", ":material/home:"),
    "rate": PageSpec("../pages/rate.py", "Rate answers", ":material/star_rate:"),
    "compare": PageSpec("../pages/compare.py", "Compare answers", ":material/compare:"),
    "moderation": PageSpec("../pages/moderation.py", "Label items", ":material/label:"),
    "adjudicate": PageSpec("../pages/adjudicate.py", "Adjudicate", ":material/gavel:"),
    "data": PageSpec("../pages/data.py", "Data", ":material/database:"),
    "queues": PageSpec("../pages/queues.py", "Review queues", ":material/low_priority:"),
    "ab_report": PageSpec("../pages/ab_report.py", "A/B reports", ":material/science:"),
    "reward_model": PageSpec("../pages/reward_model.py", "Reward model", ":material/model_training:"),
    "kpi": PageSpec("../pages/kpi.py", "KPIs", ":material/monitoring:"),
    "audit": PageSpec("../pages/audit.py", "Audit trail", ":material/history:"),
    "agreement": PageSpec("../pages/agreement.py", "Agreement", ":material/groups:"),
    "audit_sample": PageSpec("../pages/audit_sample.py", "Audit sample", ":material/fact_check:"),
    "flags": PageSpec("../pages/flags.py", "Flags", ":material/flag:"),
}


# The sidebar's sections, in order, with their pages (Home comes first, above them).
SECTIONS: dict[str, tuple[str, ...]] = {
    "Review": ("rate", "compare", "moderation", "adjudicate"),
    "Oversight": ("audit", "agreement", "audit_sample", "flags"),
    "Reports": ("kpi", "ab_report"),
    "Admin": ("data", "queues", "reward_model"),
}


def all_pages() -> dict[str, st.Page]:
    """Every page, by key: all are registered for everyone, so a link never lands on "page not found"."""
    return {
        key: st.Page(spec.path, title=spec.title, icon=spec.icon, default=key == "home") for key, spec in PAGES.items()
    }


def sections_for(role: str) -> list[tuple[str, list[str]]]:
    """The sidebar of a role: (section, page keys) with only the pages it may open; Home first, in a section of
    its own (named "")."""
    allowed = set(pages_for(role))
    found = [("", ["home"])] + [(name, [key for key in keys if key in allowed]) for name, keys in SECTIONS.items()]
    return [(name, keys) for name, keys in found if keys]


def sidebar(user: UserPublic, pages: dict[str, st.Page]) -> None:
    """Links to the pages this role may open, by section; who is signed in, and the way out."""
    with st.sidebar:
        for section, keys in sections_for(user.role):
            if section:
                st.caption(section)
            for key in keys:
                st.page_link(pages[key])
        st.divider()
        st.markdown(f"**{user.display_name}**")
        st.caption(f"{ROLE_TITLES.get(user.role, user.role)} · signed in as `{user.username}`")
        if st.button("Sign out", icon=":material/logout:", width="stretch"):
            sign_out()
