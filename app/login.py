"""The sign-in screen: what anyone sees before signing in, whatever page they asked for; then they get that page."""

from __future__ import annotations

import streamlit as st

from app.session import OIDC_REFUSED_KEY, oidc_configured, sign_in


def login_page(next_path: str = "/") -> None:
    _, middle, _ = st.columns([1, 1.6, 1])
    with middle:
        st.space("large")
        st.title(":material/fact_check: Evaluation workbench", anchor=False)
        st.caption("Rate answers, compare models, label moderation items and read the results, in one place.")
        if oidc_configured():
            single_sign_on()
        with st.form("sign-in", border=True):
            username = st.text_input("Username", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            if not username.strip() or not password:
                st.error("Enter your username and password.")
                return
            st.error(sign_in(username, password, next_path))


def single_sign_on() -> None:
    """Sign in through the organisation's identity provider (st.login); a refused identity can sign out of it."""
    refused = st.session_state.get(OIDC_REFUSED_KEY)
    if refused:
        st.error(refused, icon=":material/block:")
        if st.button("Sign out of single sign-on", icon=":material/logout:", width="stretch"):
            st.session_state.pop(OIDC_REFUSED_KEY)
            st.logout()  # forgets the identity and sends the browser to the provider's sign-out
            st.rerun()
    elif st.button("Sign in with single sign-on", type="primary", icon=":material/key:", width="stretch"):
        st.login()
    st.caption("Or sign in with a workbench password:")
