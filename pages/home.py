"""Home: the numbers that matter to the signed-in role, and the comments that mention the person."""

import streamlit as st

from app.comment_widgets import WHERE, show_mention
from app.session import require_page
from app.widgets import alerts_table, escape_markdown, imports_table, jobs_table, metric_tiles, page_header
from core.auth import may
from core.jobs import service as jobs
from core.reports import service as reports

INTROS = {
    "expert": "Rate chatbot answers on the rubric and choose the better of two answers. Reviews are blind: "
    "you never see which model wrote an answer.",
    "lead": "Rate and compare answers blind, adjudicate disagreements, and audit the judgments: on Flags, Audit "
    "sample and the audit trail you also see which model wrote each answer.",
    "annotator": "Label the moderation items the classifier is least sure of; your labels correct and measure it.",
    "product_owner": "Follow the judgments coming in and the model versions under evaluation.",
    "admin": "Import data, watch what is in the store, the background jobs and the alerts, and manage the people who "
    "use it.",
}

user = require_page("home")
page_header(f"Welcome, {user.display_name}", INTROS.get(user.role, ""))
home = reports.home(actor=user)
if home.assigned:
    st.info(home.assigned.line(), icon=":material/assignment_ind:")
metric_tiles(home.counts)

if may(user, "comments.read"):
    st.subheader("Mentions", anchor=False, help=WHERE)
    if not home.mentions:
        mention = f"@{user.username}"
        st.caption(escape_markdown(f"Nobody has mentioned you in a comment yet: a comment with {mention} shows here."))
    for mention in home.mentions:
        show_mention(mention)

if user.role == "admin":
    st.subheader("Last imports", anchor=False)
    imports_table(home.imports)
    st.subheader("Background jobs", anchor=False)
    jobs_table(jobs.jobs_overview(actor=user))
    st.subheader("Alerts", anchor=False)
    alerts_table(jobs.alerts_overview(actor=user))
