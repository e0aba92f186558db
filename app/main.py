"""Entry point: page config, the login gate, and navigation to the pages the signed-in role may open."""

import streamlit as st

from app.login import login_page
from app.navigation import account_sidebar, navigation_pages
from app.session import current_user, oidc_configured, sign_in_oidc
from core.store.db import StoreError

st.set_page_config(page_title="Evaluation workbench", layout="wide", page_icon=":material/fact_check:")

if oidc_configured():
    sign_in_oidc()
user = current_user()
if user is None:
    sign_in_page = st.Page(login_page, title="Sign in", icon=":material/login:", default=True)
    page = st.navigation([sign_in_page], position="hidden")
else:
    page = st.navigation(navigation_pages(user.role))
    account_sidebar(user)
try:
    page.run()
except StoreError as error:  # the store is down, restarting, read-only or full: say so and what to do, no traceback
    st.error(str(error), icon=":material/cloud_off:")
