"""Home: the numbers that matter to the signed-in role."""

import streamlit as st

from app.session import engine, require_page
from app.widgets import imports_table, metric_tiles, page_header
from core.db import session_scope
from core.home import home_counts
from core.inventory import recent_imports

INTROS = {
    "expert": "Rate chatbot answers on the rubric and choose the better of two answers. Reviews are blind: "
    "you never see which model wrote an answer.",
    "annotator": "Label the moderation items the classifier is least sure of; your labels correct and measure it.",
    "product_owner": "Follow the judgments coming in and the model versions under evaluation.",
    "admin": "Import data, watch what is in the store and manage the people who use it.",
}

user = require_page("home")
page_header(f"Welcome, {user.display_name}", INTROS.get(user.role, ""))

with session_scope(engine()) as session:
    counts = home_counts(session, user)
    imports = recent_imports(session, limit=5) if user.role == "admin" else []

metric_tiles(counts)

if user.role == "admin":
    st.subheader("Last imports", anchor=False)
    imports_table(imports)
