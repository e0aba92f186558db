"""Audit sample (expert, admin): draw a month's stratified sample of judgments, re-review each one (agree or
disagree with a reason) with the item's comment thread, and read the audit pass rate per queue and per reviewer."""

import streamlit as st

from app import report_cache as audit_reports
from app.comment_widgets import comment_thread
from app.review_widgets import leave_notice, show_notice, show_text, show_texts
from app.session import require_page
from app.sources import show_sources
from app.spans import show_marked, span_list
from app.widgets import escape_markdown, page_header
from core.oversight import service as oversight
from core.oversight.samples import SampleError, last_month
from core.text import TEXT_LIMIT

user = require_page("audit_sample")
page_header(
    "Audit sample",
    "Each month, a random sample of the month's judgments, stratified by queue and reviewer, re-reviewed by an "
    "expert. The same month, size and seed always draw the same sample. Nobody audits their own judgments.",
)
show_notice("sample_notice")

with st.expander("Draw a sample", expanded=False, icon=":material/casino:"), st.form("draw"):
    month_col, size_col, seed_col = st.columns(3)
    month = month_col.text_input("Month (YYYY-MM)", value=last_month())
    size = size_col.number_input("Judgments to draw", min_value=1, max_value=10_000, value=50, step=10)
    seed = seed_col.number_input("Seed", min_value=0, value=None, step=1, help="Empty: the month as a number")
    if st.form_submit_button("Draw sample", type="primary", icon=":material/casino:"):
        try:
            drawn = oversight.draw_sample(
                actor=user, month=month.strip(), size=int(size), seed=None if seed is None else int(seed)
            )
        except SampleError as error:
            st.error(escape_markdown(str(error)))
        else:
            audit_reports.clear()
            st.session_state["sample_id"] = drawn.id
            leave_notice("sample_notice", f"Sample of {drawn.month}: {drawn.drawn} of {drawn.population:,} judgments.")

samples = oversight.list_samples(actor=user)
if not samples:
    st.info("No data yet: no audit sample has been drawn. Draw one above, or with `python -m core audit sample`.")
    st.stop()

labels = {s.id: f"{s.month} · {s.drawn} judgments · seed {s.seed} · {s.reviewed} reviewed" for s in samples}
ids = list(labels)
chosen = st.selectbox(
    "Sample",
    ids,
    index=ids.index(st.session_state["sample_id"]) if st.session_state.get("sample_id") in ids else 0,
    format_func=labels.get,
)
view = oversight.sample_view(actor=user, sample_id=chosen)
s = view.summary

tiles = st.columns(4)
tiles[0].metric("Drawn", f"{s.drawn:,}", help=f"Of {s.population:,} judgments made in {s.month}", border=True)
tiles[1].metric("Reviewed", f"{s.reviewed:,}", border=True)
tiles[2].metric(
    "Pass rate",
    "–" if not s.reviewed else f"{s.agreed / s.reviewed:.0%}",
    border=True,
    help="Verdicts 'agree' among the reviewed judgments",
)
tiles[3].metric("Left for you", f"{view.left:,}", border=True, help="Not yet reviewed, and not your own judgments")

rates_col, strata_col = st.columns(2)
with rates_col:
    st.markdown("**Pass rate per queue and reviewer** (Wilson 95 % interval)")
    rates = [("queue", r) for r in view.rates.by_queue] + [("reviewer", r) for r in view.rates.by_reviewer]
    if rates:
        st.dataframe(
            [
                {
                    "By": by,
                    "Who": r.group,
                    "Reviewed": r.reviewed,
                    "Agreed": r.agreed,
                    "Pass rate": f"{r.rate:.0%}",
                    "95 % interval": f"{r.low:.0%} – {r.high:.0%}",
                }
                for by, r in rates
            ],
            hide_index=True,
        )
    else:
        st.caption("No verdicts yet.")
with strata_col:
    st.markdown("**Strata** (judgments of the month, and drawn)")
    st.dataframe(
        [
            {"Queue": x["queue"], "Reviewer": x["reviewer"], "Population": x["population"], "Drawn": x["drawn"]}
            for x in s.strata
        ],
        hide_index=True,
    )

st.subheader("Re-review", anchor=False)
item = view.next_item
if item is None:
    st.success("Nothing left for you to review in this sample.")
else:
    st.caption(f"{item.queue} judgment {item.judgment_id} by {item.reviewer}, {item.judged_at:%Y-%m-%d %H:%M} UTC")
    show_sources(user, item.answers)
    show_texts(item.texts, long=600, height=220)
    st.markdown("**The judgment**")
    show_text(item.values)
    if item.spans:
        answer, spans = item.spans
        st.markdown("**The reviewer's error spans in the answer**")
        show_marked(answer, spans)
        st.markdown(span_list(answer, spans))
    if item.item is not None:
        comment_thread(user, item.item, f"sample-{item.id}")
    with st.form(f"verdict-{item.id}"):
        verdict = st.radio(
            "Your verdict",
            ["agree", "disagree"],
            index=None,
            horizontal=True,
            format_func={"agree": "Agree", "disagree": "Disagree"}.get,
        )
        reason = st.text_area("Reason (required to disagree)", max_chars=TEXT_LIMIT)
        if st.form_submit_button("Save verdict", type="primary"):
            if verdict is None:
                st.error("Choose agree or disagree.")
            else:
                try:
                    oversight.review_sampled(actor=user, item_id=item.id, verdict=verdict, reason=reason)
                except SampleError as error:
                    st.error(escape_markdown(str(error)))
                else:
                    audit_reports.clear()
                    leave_notice("sample_notice", "Verdict saved. Here is the next judgment.")

if view.reviewed:
    with st.expander(f"Reviewed ({len(view.reviewed)})"):
        st.dataframe(
            [
                {
                    "Queue": i.queue,
                    "Judgment": i.judgment_id,
                    "Reviewer": i.reviewer,
                    "Verdict": i.verdict,
                    "Reason": i.reason,
                    "Auditor": i.auditor,
                }
                for i in view.reviewed
            ],
            hide_index=True,
        )
