"""Flags (expert, admin): answers reviewers flagged as incorrect, unsafe, non-compliant, hallucinated or holding
personal data, with the model version and the reviewer; triage each one (open, confirmed, dismissed) with a note, and
discuss it in the answer's comment thread."""

import streamlit as st

from app import report_cache as audit_reports
from app.comment_widgets import comment_thread, comment_threads
from app.review_widgets import leave_notice, show_notice, show_text
from app.session import require_page
from app.sources import answer_sources
from app.spans import flagged_sentence_list, show_marked
from app.widgets import escape_markdown, page_header
from core.oversight import service as oversight
from core.oversight.comments import answer
from core.oversight.flags import PAGE_SIZE, FlagError
from core.review.guidelines import rubric
from core.store.models import FLAG_STATUSES, FLAGS
from core.text import TEXT_LIMIT

ANY = "(any)"

user = require_page("flags")
page_header(
    "Flags",
    "Answers a reviewer flagged. Confirm or dismiss each with a note; every change is kept in the audit trail.",
)
show_notice("flags_notice")

status_col, flag_col, version_col = st.columns(3)
status = status_col.selectbox("Status", [ANY, *FLAG_STATUSES], index=1, key="flag_status")
flag = flag_col.selectbox("Flag", [ANY, *FLAGS], key="flag_kind", format_func=lambda f: rubric()["flags"].get(f, f))
version_slot = version_col.empty()  # its choices come with the view; its value is known from the last run
version = st.session_state.get("flag_version", ANY)
filters = (status, flag, version)
if st.session_state.get("flag_filters") != filters:  # new filters start at the first page
    st.session_state["flag_filters"], st.session_state["flag_offset"] = filters, 0
offset = st.session_state["flag_offset"]

view = oversight.flags_view(
    actor=user,
    status=None if status == ANY else status,
    flag=None if flag == ANY else flag,
    version=None if version == ANY else version,
    offset=offset,
)
if view.versions:  # leads and admins only: the others review blind
    version_slot.selectbox("Model version", [ANY, *view.versions], key="flag_version")
sources = answer_sources(user, [row.answer_id for row in view.page.rows])
threads = comment_threads(user, [answer(row.answer_id) for row in view.page.rows])

st.dataframe(
    [
        {
            "Flag": rubric()["flags"].get(c.flag, c.flag),
            "Open": c.open,
            "Confirmed": c.confirmed,
            "Dismissed": c.dismissed,
        }
        for c in view.counts
    ],
    hide_index=True,
)

page = view.page
if not page.rows:
    st.info("No data yet: no flagged answer matches." if not offset else "No more flagged answers.")
for row in page.rows:
    source = sources.get(row.answer_id)
    written = f" · {source.version}" if source else ""
    title = f"{', '.join(row.flags)}{written} · rated by {row.reviewer} · {row.status}"
    with st.expander(escape_markdown(title), expanded=len(page.rows) == 1):
        imported = f", answer {source.external_id}" if source else f", answer #{row.answer_id}"
        st.caption(f"Rating {row.rating_id}{imported}, {row.rated_at:%Y-%m-%d %H:%M} UTC")
        st.caption("Question")
        show_text(row.question)
        st.caption("Answer" + (": the reviewer's error spans marked" if row.spans else ""))
        if row.spans:
            show_marked(row.answer, row.spans)
            st.caption("Flagged sentences")
            st.markdown(flagged_sentence_list(row.sentences))
        else:
            show_text(row.answer, height=220 if len(row.answer) > 600 else "content")
        if row.rationale:
            st.caption("Reviewer's rationale")
            show_text(row.rationale)
        if row.triaged_by:
            st.caption(f"Triaged by {row.triaged_by}, {row.triaged_at:%Y-%m-%d %H:%M} UTC: {row.note}")
        with st.form(f"triage-{row.rating_id}"):
            new_status = st.radio("Status", FLAG_STATUSES, index=FLAG_STATUSES.index(row.status), horizontal=True)
            note = st.text_area("Note (what you checked, and why)", value=row.note, max_chars=TEXT_LIMIT)
            if st.form_submit_button("Save triage", type="primary"):
                try:
                    oversight.triage_flag(actor=user, rating_id=row.rating_id, status=new_status, note=note)
                except FlagError as error:
                    st.error(str(error))
                else:
                    audit_reports.clear()
                    leave_notice("flags_notice", f"Rating {row.rating_id}: {new_status}.")
        item = answer(row.answer_id)
        comment_thread(user, item, f"flag-{row.rating_id}", threads.get(item))

before_col, where_col, after_col = st.columns([1, 2, 1], vertical_alignment="center")
if before_col.button("Previous", disabled=offset == 0):
    st.session_state["flag_offset"] = max(0, offset - PAGE_SIZE)
    st.rerun()
where_col.caption(f"{offset + 1 if page.rows else 0}–{offset + len(page.rows)} of {page.total:,}")
if after_col.button("Next", disabled=offset + PAGE_SIZE >= page.total):
    st.session_state["flag_offset"] = offset + PAGE_SIZE
    st.rerun()
