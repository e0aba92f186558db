"""Entry point: page config, the login gate, and navigation to the pages the signed-in role may open."""

import streamlit as st

from app.login import login_page
from app.navigation import account_sidebar, navigation_pages
from app.session import current_user

st.set_page_config(page_title="Evaluation workbench", layout="wide", page_icon=":material/fact_check:")

user = current_user()
if user is None:
    sign_in_page = st.Page(login_page, title="Sign in", icon=":material/login:", default=True)
    page = st.navigation([sign_in_page], position="hidden")
else:
    page = st.navigation(navigation_pages(user.role))
    account_sidebar(user)
page.run()
