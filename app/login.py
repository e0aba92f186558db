"""The sign-in screen: the only page anyone sees before signing in."""

from __future__ import annotations

import streamlit as st

from app.session import sign_in


def login_page() -> None:
    _, middle, _ = st.columns([1, 1.6, 1])
    with middle:
        st.space("large")
        st.title(":material/fact_check: Evaluation workbench", anchor=False)
        st.caption("Rate answers, compare models, label moderation items and read the results, in one place.")
        with st.form("sign-in", border=True):
            username = st.text_input("Username", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            if not username.strip() or not password:
                st.error("Enter your username and password.")
                return
            refused = sign_in(username, password)
            if refused:
                st.error(refused)
                return
            st.rerun()
