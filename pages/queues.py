"""Review queues: named assignment, each assigned reviewer's progress and the qualification gate (expert leads and
admins); what each queue holds, and which model versions, overlap and gold share it works with (admins)."""

import streamlit as st

from app.qualification_widgets import qualification_section
from app.review_widgets import show_text
from app.session import require_page
from app.widgets import page_header
from core.auth import may
from core.review import service as review
from core.review.assignment import read_ids
from core.review.gold import GOLD_FIELDS
from core.review.queues import QueueError
from core.review.settings import QueueSettings
from core.review.skips import SKIP_LABELS
from core.store.models import utcnow

QUEUE_TITLES = {
    "rating": "Rate answers",
    "comparison": "Compare answers",
    "moderation": "Label items (borderline)",
    "adjudication": "Adjudicate",
}
VERSION_HELP = {
    "rating": "Every answer of these versions is rated.",
    "comparison": "Every pair of answers to one question from two of these versions is compared.",
    "moderation": "The newest of these decides which items are borderline (its band around its threshold); items "
    "another one labels differently are borderline too. None chosen: the two newest classifier versions.",
}
STRATEGY_LABELS = {"random": "Every pair alike (random)", "active": "Most informative first (active)"}

user = require_page("queues")
admin = may(user, "queue.configure")
page_header(
    "Review queues",
    "What each queue holds and how it serves reviewers. A change applies at once: items of versions taken out "
    "are closed (their judgments stay), items of versions put in are added."
    if admin
    else "Give open items to named reviewers by a due day, and follow their progress.",
)
if notice := st.session_state.pop("queues_notice", None):
    st.success(notice, icon=":material/check_circle:")


def assignment_section() -> None:
    """Assign items to named reviewers, see their progress, take assignments back (leads and admins)."""
    st.subheader("Named assignment", anchor=False)
    st.caption(
        "Assigned items go to their reviewer before anything else, and to nobody else until the due day has passed "
        "or you take them back. Items are dealt round robin; one a reviewer judged or skipped goes to the next. "
        "k, leases and gold items work as before."
    )
    queue = st.selectbox("Queue", list(QUEUE_TITLES), format_func=QUEUE_TITLES.get, key="assign-queue")
    choices = review.assign_choices(actor=user, queue=queue)
    with st.form("assign", border=True):
        to = st.multiselect("Reviewers", choices.reviewers, key="assign-to", help="Active users who judge this queue")
        count_column, due_column = st.columns(2)
        most = max(1, choices.unassigned)
        count = count_column.number_input(
            "Items", 1, most, min(10, most), key="assign-count", help=f"{choices.unassigned:,} open items unassigned"
        )
        due = due_column.date_input(
            "Due by (end of the day, UTC)", value=None, min_value=utcnow().date(), key="assign-due"
        )
        topic_column, version_column, source_column = st.columns(3)
        topic = topic_column.selectbox(
            "Topic", choices.topics, index=None, placeholder="Any", key="assign-topic", disabled=not choices.topics
        )
        version = version_column.selectbox(
            "Model version",
            choices.versions,
            index=None,
            placeholder="Any",
            key="assign-version",
            disabled=not choices.versions,
        )
        source = source_column.selectbox(
            "Source", choices.sources, index=None, placeholder="Any", key="assign-source", disabled=not choices.sources
        )
        ids_file = st.file_uploader(
            "Or a file of work item ids, one per line (instead of the count and the filters)",
            type=["txt", "csv"],
            key="assign-ids",
        )
        if st.form_submit_button("Assign", type="primary"):
            try:
                ids = read_ids(ids_file.getvalue().decode("utf-8", "replace"), ids_file.name) if ids_file else None
                done = review.assign(
                    actor=user,
                    queue=queue,
                    to=to,
                    count=None if ids else count,
                    topic=None if ids else topic,
                    version=None if ids else version,
                    source=None if ids else source,
                    ids=ids,
                    due=due,
                )
            except QueueError as error:
                st.error(str(error))
            else:
                st.session_state["queues_notice"] = done.summary()
                st.rerun()

    st.subheader("Progress per reviewer", anchor=False)
    progress = review.assignee_progress(actor=user)
    if not progress:
        st.caption("Nobody has been assigned items yet.")
        return
    st.dataframe(
        [
            {
                "Queue": p.queue,
                "Reviewer": p.user,
                "Assigned": p.assigned,
                "Open": p.open,
                "Done": p.done,
                "Skipped": p.skipped,
                "Overdue": p.overdue,
                "Median s / item": p.median_seconds,
            }
            for p in progress
        ],
        hide_index=True,
        column_config={
            "Assigned": st.column_config.NumberColumn(help="Items assigned, those taken back aside"),
            "Open": st.column_config.NumberColumn(help="Waiting for the reviewer, before the due day"),
            "Overdue": st.column_config.NumberColumn(help="Not done by the due day: back in the pool"),
            "Median s / item": st.column_config.NumberColumn(format="%.0f", help="Time per item done"),
        },
    )
    holding = [p for p in progress if p.open]
    if holding:
        with st.form("unassign", border=False):
            who = st.selectbox(
                "Take back the open items of",
                holding,
                format_func=lambda p: f"{p.user} ({p.queue}: {p.open} open)",
                key="unassign-who",
            )
            if st.form_submit_button("Take back"):
                try:
                    back = review.unassign(actor=user, queue=who.queue, users=[who.user])
                except QueueError as error:
                    st.error(str(error))
                else:
                    st.session_state["queues_notice"] = back.summary()
                    st.rerun()


if not admin:
    assignment_section()
    st.divider()
    qualification_section(user, "queues_notice")
    st.stop()

overview = review.queue_overview(actor=user)
st.dataframe(
    [
        {
            "Queue": s.queue,
            "Waiting": s.waiting,
            "Leased now": s.leased,
            "Finished": s.done,
            "Gold items": s.gold_items,
            "Gold share": s.gold_share,
            "Provisional": s.provisional,
        }
        for s in overview.status
    ],
    hide_index=True,
    column_config={
        "Waiting": st.column_config.NumberColumn(format="localized", help="Open items that still need judgments"),
        "Leased now": st.column_config.NumberColumn(format="localized", help="Items a reviewer has open right now"),
        "Finished": st.column_config.NumberColumn(format="localized", help="Items with all the judgments they need"),
        "Gold share": st.column_config.NumberColumn(format="percent", help="Share of gold items mixed in"),
        "Provisional": st.column_config.NumberColumn(
            format="localized", help="Judgments held out of every count by the qualification gate"
        ),
    },
)
if overview.skipped:
    st.subheader("Skipped most often", anchor=False)
    st.caption("Items reviewers passed on, and the reasons they gave (a reason is optional).")
    st.dataframe(
        [
            {"Queue": s.queue, "Item": s.text, "Skips": s.skips}
            | {SKIP_LABELS[reason]: n for reason, n in s.reasons.items()}
            for s in overview.skipped
        ],
        hide_index=True,
    )


def settings_form(current: QueueSettings) -> None:
    with st.form(f"queue-{current.queue}", border=True):
        st.subheader(QUEUE_TITLES.get(current.queue, current.queue), anchor=False)
        choices = overview.choices(current.queue)
        versions: list[str] = []
        if choices is None:
            st.caption("Serves every item whose labels disagree, until an expert decides it.")
        else:
            versions = st.multiselect(
                "Model versions",
                options=choices,
                default=[v for v in current.versions if v in choices],
                help=VERSION_HELP.get(current.queue),
                placeholder="The two newest versions" if current.queue == "moderation" else None,
                key=f"{current.queue}-versions",
            )
        k_column, gold_column, lease_column = st.columns(3)
        k = k_column.number_input(
            "Judgments per item (k)", 1, 10, current.k, help="Overlap: how many reviewers judge each item"
        )
        gold = gold_column.number_input(
            "Gold share", 0.0, 0.5, current.gold_share, step=0.01, format="%.2f", help="Gold items mixed in, 0 to 0.5"
        )
        lease = lease_column.number_input(
            "Lease (minutes)", 1, 24 * 60, current.lease_minutes, help="How long a reviewer holds an opened item"
        )
        per_dimension = strategy = prefer_uncertain = None
        if current.queue == "comparison":
            per_dimension = st.toggle(
                "Ask per dimension",
                value=current.per_dimension,
                help="Also ask left, right or tie for helpfulness, harmlessness and accuracy: the A/B report then "
                "gives a win rate per dimension, and a reward snapshot can be built from one dimension",
                key="comparison-per_dimension",
            )
            strategy_column, uncertain_column = st.columns(2)
            strategy = strategy_column.selectbox(
                "Which pairs first",
                options=list(STRATEGY_LABELS),
                index=list(STRATEGY_LABELS).index(current.strategy),
                format_func=STRATEGY_LABELS.get,
                help="Random serves every pair of versions alike. Active serves first the pairs whose comparison "
                "narrows the leaderboard's intervals most or settles the order of close versions, so it settles with "
                "fewer judgments",
                key="comparison-strategy",
            )
            prefer_uncertain = uncertain_column.toggle(
                "Least sure prompts first",
                value=current.prefer_uncertain,
                help="Active: within a pair, the prompts on which the active reward model's two rewards are closest "
                "come first; they teach the next reward model most",
                key="comparison-prefer_uncertain",
            )
        if st.form_submit_button("Save", type="primary"):
            try:
                saved = review.configure_queue(
                    actor=user,
                    queue=current.queue,
                    versions=versions,
                    k=k,
                    gold_share=gold,
                    lease_minutes=lease,
                    per_dimension=per_dimension,
                    strategy=strategy,
                    prefer_uncertain=prefer_uncertain,
                )
            except QueueError as error:
                st.error(str(error))
            else:
                shown = ", ".join(saved.versions) or "no versions"
                asks = "; asks per dimension" if saved.per_dimension else ""
                asks += "; active pairs" if saved.strategy == "active" else ""
                st.session_state["queues_notice"] = f"{saved.queue}: saved ({shown}; k = {saved.k}{asks})."
                st.rerun()


assignment_section()
st.divider()
qualification_section(user, "queues_notice")
st.divider()
if not overview.chatbot_versions:
    st.info("No chatbot versions yet: import a conversations file on the data page.", icon=":material/info:")
for start in range(0, len(overview.settings), 2):  # two queues to a row
    for column, current in zip(st.columns(2), overview.settings[start : start + 2], strict=False):
        with column:
            settings_form(current)

st.subheader("Gold items", anchor=False)
st.caption(
    "A gold item holds a known answer. It is mixed in at the queue's gold share, unannounced, and each reviewer's "
    "judgments of it give their gold accuracy on the Agreement page. Pick an item: those judged last come first, "
    "with their latest judgment as the answer, which you can correct."
)
gold_queue = st.segmented_control("Queue", list(GOLD_FIELDS), default="rating", key="gold-queue") or "rating"
candidates = review.gold_candidates(actor=user, queue=gold_queue)
if not candidates:
    st.caption("No item of this queue can be made gold yet: import data, or wait for its first judgments.")
else:
    chosen = st.selectbox(
        "Item",
        candidates,
        format_func=lambda c: (
            f"#{c.work_item_id}: {c.texts[0][1][:90]}" + (" (judged)" if c.suggested else " (not judged yet)")
        ),
        key=f"gold-item-{gold_queue}",
    )
    for heading, text in chosen.texts:
        st.caption(heading)
        show_text(text, height=120 if len(text) > 300 else "content")
    with st.form(f"gold-{gold_queue}-{chosen.work_item_id}"):
        fields = GOLD_FIELDS[gold_queue]
        answer = {}
        for column, (name, values) in zip(st.columns(len(fields)), fields.items(), strict=True):
            suggested = chosen.suggested.get(name)
            answer[name] = column.selectbox(
                name.replace("_", " ").capitalize(),
                values,
                index=values.index(suggested) if suggested in values else None,
            )
        if st.form_submit_button("Make it gold", type="primary"):
            try:
                given = {name: value for name, value in answer.items() if value is not None}
                review.mark_gold(actor=user, work_item_id=chosen.work_item_id, answer=given)
            except QueueError as error:
                st.error(str(error))
            else:
                st.session_state["queues_notice"] = f"Item #{chosen.work_item_id} is a gold item of {gold_queue}."
                st.rerun()
