"""Entry point: page config, the sign-in gate, and navigation. Every page is registered for everyone, so a link to a
page always resolves: signed out, it shows the sign-in form and then that page; a page the role may not open says so;
the sidebar lists only the pages the role may open."""

import streamlit as st

from app.login import login_page
from app.navigation import all_pages, sidebar
from app.session import current_user, follow_redirect, oidc_configured, sign_in_oidc
from core.store.db import StoreError

st.set_page_config(page_title="Evaluation workbench", layout="wide", page_icon=":material/fact_check:")
follow_redirect()

pages = all_pages()
page = st.navigation(list(pages.values()), position="hidden")
asked = "/" + page.url_path if page.url_path else "/"
if oidc_configured():
    sign_in_oidc(asked)
user = current_user()
try:
    if user is None:
        login_page(asked)
    else:
        sidebar(user, pages)
        page.run()
except StoreError as error:  # the store is down, restarting, read-only or full: say so and what to do, no traceback
    st.error(str(error), icon=":material/cloud_off:")
