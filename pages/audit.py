"""Audit trail (expert, admin): who changed what, when and why; an item's full history; CSV export. Read only:
nothing on this page writes to the store."""

import streamlit as st

from app.audit_fields import readable_change
from app.report_cache import day_range
from app.review_widgets import show_texts
from app.session import require_page
from app.sources import show_sources
from app.widgets import escape_markdown, page_header
from core.oversight import service as oversight
from core.oversight.trail import TrailFilter

EXPORT_LIMIT = 100_000
ANY = "(any)"

user = require_page("audit")
page_header(
    "Audit trail",
    "Every change to judgments, settings and users, newest first. Pick an event to see the full history of the "
    "item it concerns. Nothing on this page can change the trail.",
)

choices = oversight.trail_choices(actor=user)
with st.container(border=True):
    person_col, action_col, entity_col, id_col, days_col = st.columns([1.2, 1.4, 1.2, 0.8, 1.6])
    person = person_col.selectbox("Person", [ANY, *choices.actors], key="trail_actor")
    action = action_col.selectbox("Action", [ANY, *choices.actions], key="trail_action")
    entity = entity_col.selectbox("Entity", [ANY, *choices.entities], key="trail_entity")
    entity_id = id_col.number_input("Entity id", min_value=0, value=None, step=1, key="trail_entity_id")
    days = days_col.date_input("Days (UTC)", value=(), key="trail_days")
start, end = day_range(*days) if isinstance(days, tuple) and len(days) == 2 else (None, None)
filters = TrailFilter(
    None if person == ANY else person,
    None if action == ANY else action,
    None if entity == ANY else entity,
    None if entity_id is None else int(entity_id),
    start,
    end,
)

# Keyset pages: a stack of the cursors of the pages before this one, kept per filter.
if st.session_state.get("trail_filters") != filters:
    st.session_state["trail_filters"], st.session_state["trail_cursors"] = filters, [None]
cursors = st.session_state["trail_cursors"]
page = oversight.trail_page(actor=user, filters=filters, after=cursors[-1])

rows = [
    {
        "At (UTC)": e.at,
        "Person": e.actor,
        "Action": e.action,
        "Entity": e.entity,
        "Id": e.entity_id,
        **dict(zip(("Before", "After"), readable_change(e.before, e.after), strict=True)),
    }
    for e in page.events
]
if not rows:
    st.info("No data yet: no audit event matches." if len(cursors) == 1 else "No more events.")
selection = st.dataframe(
    rows,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="trail_table",
    column_config={"At (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
)
newer_col, where_col, older_col, export_col = st.columns([1, 2, 1, 2], vertical_alignment="center")
if newer_col.button("Newer", icon=":material/chevron_left:", disabled=len(cursors) == 1):
    cursors.pop()
    st.rerun()
where_col.caption(f"Page {len(cursors)} · {len(rows)} events")
if older_col.button("Older", icon=":material/chevron_right:", disabled=page.next is None):
    cursors.append(page.next)
    st.rerun()
export_col.download_button(
    "Download CSV",
    data=lambda: oversight.trail_csv(actor=user, filters=filters, limit=EXPORT_LIMIT)[0],
    file_name="audit-trail.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    help=f"Every event matching the filters (at most {EXPORT_LIMIT:,}; for more, narrow the days or use "
    "`python -m core audit trail`). Cells that a spreadsheet would run as formulas are escaped.",
)

st.subheader("Item history", anchor=False)
picked = selection.selection.rows if selection else []
suggested = ""
if picked:
    event = page.events[picked[0]]
    suggested = oversight.event_item(actor=user, entity=event.entity, entity_id=event.entity_id) or ""
    if not suggested:
        st.caption(f"The picked event ({event.action}) is not about a judged item.")
reference = st.text_input(
    "Item: an answer's or a moderation item's id as imported, or entity:id from the trail (e.g. rating:12)",
    value=suggested,
    key=f"history_ref_{suggested}",
)
if reference.strip():
    history = oversight.item_history(actor=user, reference=reference)
    if history is None:
        st.warning(escape_markdown(f"No answer, pair or moderation item found for {reference.strip()!r}."))
    else:
        st.markdown(
            f"**{history.title}**" + (f" · final label: **{history.final_label}**" if history.final_label else "")
        )
        show_sources(user, history.ref.answers)
        show_texts(history.texts, long=400, height=160)
        st.markdown("**Judgments**")
        if history.judgments:
            st.dataframe(
                [
                    {
                        "Queue": j.queue,
                        "Id": j.id,
                        "Reviewer": j.reviewer,
                        "At (UTC)": j.at,
                        "Changed (UTC)": j.changed_at,
                        "Judgment": j.values,
                        "Source": j.source,
                    }
                    for j in history.judgments
                ],
                hide_index=True,
            )
        else:
            st.caption("No judgments yet.")
        st.markdown("**Changes (oldest first)**")
        if history.events:
            st.dataframe(
                [
                    {
                        "At (UTC)": e.at,
                        "Person": e.actor,
                        "Action": e.action,
                        "Entity": f"{e.entity}:{e.entity_id}",
                        **dict(zip(("Before", "After"), readable_change(e.before, e.after), strict=True)),
                    }
                    for e in history.events
                ],
                hide_index=True,
            )
        else:
            st.caption("No recorded changes.")
