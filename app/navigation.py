"""The registry of pages and what each role sees in the navigation."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app.session import sign_out
from core.auth import UserPublic, pages_for

ROLE_TITLES = {
    "admin": "Admin",
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


def page_keys(role: str) -> list[str]:
    """Keys of the pages this role may open and that exist, in registry order."""
    allowed = set(pages_for(role))
    return [key for key in PAGES if key in allowed]


def navigation_pages(role: str) -> list[st.Page]:
    return [
        st.Page(PAGES[key].path, title=PAGES[key].title, icon=PAGES[key].icon, default=key == "home")
        for key in page_keys(role)
    ]


def account_sidebar(user: UserPublic) -> None:
    """Who is signed in, and the way out (below the page links, where there are any)."""
    with st.sidebar:
        st.markdown(f"**{user.display_name}**")
        st.caption(f"{ROLE_TITLES.get(user.role, user.role)} · signed in as `{user.username}`")
        if st.button("Sign out", icon=":material/logout:", width="stretch"):
            sign_out()
