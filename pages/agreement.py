"""Agreement (expert, admin): can we trust these labels? Per queue and dimension, per pair of reviewers, and per
reviewer (consensus, gold items, time per item beside the queue's, rushing)."""

from datetime import timedelta

import streamlit as st

from app.charts import agreement_over_time, time_per_item
from app.report_cache import agreement, day_range
from app.session import require_page
from app.widgets import page_header
from core.reports.audit.agreement import SECONDS_RULE, TimeSpread
from core.stats.agreement import BANDS_RULE, alpha_band
from core.store.models import utcnow

DEFAULT_DAYS = 90

user = require_page("agreement")
page_header(
    "Agreement",
    "How far reviewers agree, per queue and dimension, beyond chance. Krippendorff's alpha: 1 perfect, 0 no better "
    "than chance (ordinal for the 1-5 rubric, nominal for choices and labels). Each figure says how many items it "
    "rests on.",
)

today = utcnow().date()
days = st.date_input(
    "Judgments made on these days (UTC); clear it for all time",
    value=(today - timedelta(days=DEFAULT_DAYS - 1), today),
    max_value=today,
)
start, end = day_range(*days) if isinstance(days, tuple) and len(days) == 2 else (None, None)
with st.spinner("Counting agreement…"):
    report = agreement(user, start, end)


BAND_MARKS = {"reliable": "reliable", "tentative": "⚠ tentative", "not reliable": "⚠ not reliable", "undefined": "–"}


def figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def seconds_of(spread: TimeSpread | None) -> str:
    return "–" if spread is None else f"{spread.median:,.0f}"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


if report.empty:
    st.info("No data yet: no judgments by reviewers in this range. Agreement needs items judged by two people.")
    st.stop()

st.subheader("Per queue and dimension", anchor=False)
st.dataframe(
    [
        {
            "Queue": d.queue,
            "Dimension": d.dimension,
            "Scale": d.level,
            "Krippendorff's alpha": figure(d.krippendorff_alpha),
            "Reading": BAND_MARKS[alpha_band(d.krippendorff_alpha)],
            "Items (alpha)": d.n_items,
            "Fleiss' kappa": figure(d.fleiss_kappa),
            "Items (Fleiss)": d.n_items_fleiss,
            "Judgments": d.n_judgments,
        }
        for d in report.dimensions
    ],
    hide_index=True,
    column_config={
        "Items (alpha)": st.column_config.NumberColumn(help="Items judged by at least two reviewers"),
        "Items (Fleiss)": st.column_config.NumberColumn(
            help="Fleiss' kappa needs the same number of judgments per item: the items with the most common number"
        ),
        "Krippendorff's alpha": st.column_config.TextColumn(help="'–': undefined (too few items, or one value only)"),
        "Reading": st.column_config.TextColumn(help=BANDS_RULE),
    },
)
st.caption(BANDS_RULE)
st.caption(
    "Why alpha and Fleiss' kappa differ: alpha uses every item judged at least twice, corrects for small samples "
    "and, on the 1-5 rubric, counts a 4 against a 5 as a near miss (ordinal); Fleiss' kappa treats the scores as "
    "unordered categories, so any two different scores disagree fully, and it uses only the items with the most "
    "common number of judgments. On the rubric, kappa is therefore usually the lower of the two."
)
low = [d for d in report.dimensions if alpha_band(d.krippendorff_alpha) == "not reliable"]
if low:
    st.warning(
        "Not reliable (alpha below 0.667): "
        + ", ".join(f"{d.queue} {d.dimension} ({d.krippendorff_alpha:.3f})" for d in low)
        + ". Check the guidelines of these dimensions with the reviewers before relying on their numbers.",
        icon=":material/warning:",
    )

st.subheader("Over time", anchor=False, help="Alpha on each month's judgments, per queue and dimension.")
for queue in dict.fromkeys(m.queue for m in report.by_month if m.krippendorff_alpha is not None):
    rows = [m for m in report.by_month if m.queue == queue]
    st.markdown(f"**{queue}**")
    st.plotly_chart(agreement_over_time(rows), key=f"agreement-{queue}")

st.subheader("Between pairs of reviewers", anchor=False, help="Cohen's kappa; quadratic weights on the 1-5 rubric.")
if report.pairs:
    st.dataframe(
        [
            {
                "Queue": p.queue,
                "Dimension": p.dimension,
                "Reviewer A": p.reviewer_a,
                "Reviewer B": p.reviewer_b,
                "Cohen's kappa": figure(p.cohen_kappa),
                "Items both judged": p.n_items,
            }
            for p in report.pairs
        ],
        hide_index=True,
    )
else:
    st.caption("No data yet: no two reviewers judged the same item.")

st.subheader("Per reviewer", anchor=False)
st.dataframe(
    [
        {
            "Queue": r.queue,
            "Reviewer": r.reviewer,
            "Judgments": r.judgments,
            "Agreement with consensus": share(r.agreement),
            "Values compared": r.compared,
            "Gold accuracy": share(r.gold_accuracy),
            "Gold judged": r.gold_judged,
            "Median s / item": "–" if r.seconds is None else f"{r.seconds.median:,.0f}",
            "Middle half, s": "–" if r.seconds is None else f"{r.seconds.p25:,.0f}-{r.seconds.p75:,.0f}",
            "Queue's median s": seconds_of(report.queue_seconds.get(r.queue)),
            "Rushing": "yes" if r.outlier else "",
        }
        for r in report.reviewers
    ],
    hide_index=True,
    column_config={
        "Agreement with consensus": st.column_config.TextColumn(help=report.consensus_rule),
        "Gold accuracy": st.column_config.TextColumn(
            help="Share of the reviewer's judgments of gold items that match the known answer"
        ),
        "Median s / item": st.column_config.TextColumn(help=SECONDS_RULE),
        "Middle half, s": st.column_config.TextColumn(help="The 25th to the 75th percentile of seconds per item"),
        "Rushing": st.column_config.TextColumn(help=report.outlier_rule),
    },
)
st.caption(report.consensus_rule)
st.caption("Rushing: " + report.outlier_rule)
outliers = [r for r in report.reviewers if r.outlier]
if outliers:
    st.warning(
        "Rushing (much faster than the others, agreeing less): "
        + ", ".join(f"{r.reviewer} ({r.queue})" for r in outliers),
        icon=":material/warning:",
    )

st.subheader("Time per item", anchor=False, help=SECONDS_RULE)
for queue, spread in report.queue_seconds.items():
    if spread is None:
        continue
    spreads = [(f"{queue} (all)", spread)] + [(r.reviewer, r.seconds) for r in report.reviewers if r.queue == queue]
    st.markdown(f"**{queue}**")
    st.plotly_chart(time_per_item([(n, t) for n, t in spreads if t is not None]), key=f"seconds-{queue}")
st.caption(SECONDS_RULE)
