"""Small drawing helpers shared by pages."""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from core.jobs.gate import GateDecision
from core.jobs.service import AlertsOverview, JobsOverview
from core.reports.home import Count
from core.store.inventory import ImportLine

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|])")


def escape_markdown(text: str) -> str:
    """Show text as written where Streamlit would read it as Markdown (emphasis, links, HTML, LaTeX)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def metric_tiles(counts: Sequence[Count], *, per_row: int = 4) -> None:
    """One bordered st.metric per count, `per_row` to a row."""
    for start in range(0, len(counts), per_row):
        columns = st.columns(per_row)
        for column, count in zip(columns, counts[start : start + per_row], strict=False):
            value = f"{count.value:,}" if isinstance(count.value, int) else count.value
            column.metric(count.label, value, help=count.help or None, border=True)


def page_header(title: str, intro: str) -> None:
    st.title(title, anchor=False)
    st.caption(intro)


def bullet_message(header: str, lines: Sequence[str]) -> str:
    """A bold header and one bullet per line, each line shown literally."""
    return f"**{header}**\n\n" + "\n".join(f"- {escape_markdown(line)}" for line in lines)


def imports_table(imports: Sequence[ImportLine]) -> None:
    if not imports:
        st.info("Nothing has been imported yet.", icon=":material/info:")
        return
    numbers = {
        "Read": "Rows read from the file",
        "Added": "New records stored (answers, scores or judgments, by kind of file)",
        "Present": "Rows the store held already (a re-import adds nothing)",
        "Refused": "Rows with a problem (the whole file is then refused)",
    }
    st.dataframe(
        [
            {
                "Finished (UTC)": run.finished_at,
                "File": run.file_name,
                "Kind": run.kind,
                "Status": run.status,
                "Read": run.rows_read,
                "Added": run.rows_added,
                "Present": run.rows_present,
                "Refused": run.rows_refused,
            }
            for run in imports
        ],
        hide_index=True,
        column_config={
            "Finished (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            **{
                name: st.column_config.NumberColumn(format="localized", help=help, width="small")
                for name, help in numbers.items()
            },
        },
    )


def jobs_table(overview: JobsOverview) -> None:
    """The background jobs (newest first) under a line on when each kind starts."""
    st.caption(
        "Started by the worker (`python -m core worker`) when their thresholds are met: "
        + "; ".join(f"{kind.title.lower()} at {kind.describe()}" for kind in overview.settings)
        + ". Change them with `python -m core worker configure`."
    )
    if not overview.jobs:
        st.info("No background job has run yet.", icon=":material/info:")
        return
    titles = {kind.kind: kind.title for kind in overview.settings}
    st.dataframe(
        [
            {
                "Job": job.id,
                "Kind": titles.get(job.kind, job.kind),
                "Status": job.status,
                "Progress": job.fraction,
                "Stage": job.stage,
                "Started (UTC)": job.started_at,
                "Finished (UTC)": job.finished_at,
                "Error or reason": job.error or job.reason,
            }
            for job in overview.jobs
        ],
        hide_index=True,
        column_config={
            "Progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent", width="small"),
            "Started (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Finished (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )


ALERT_STATUSES = {
    "pending": "waiting to be sent",
    "delivered": "delivered",
    "failed": "not delivered (gave up)",
    "unsent": "shown here (no webhook)",
}


def alerts_table(overview: AlertsOverview) -> None:
    """Where alerts go, their thresholds, the newest alerts and the webhook's delivery log."""
    thresholds = {t.name: t.value for t in overview.thresholds}
    st.caption(
        f"Raised by the worker when the within-SLA share ({thresholds['sla_hours']:g} h, last "
        f"{thresholds['window_days']:g} days) falls below {thresholds['sla_share']:.0%}, a moderation version's weekly "
        f"drift (PSI) exceeds {thresholds['psi']:g}, an experiment's sample-ratio check raises its alarm, a job fails, "
        "or the promotion gate decides. Change the thresholds with `python -m core worker alerts configure`."
    )
    if overview.problem:
        st.error(f"The webhook is refused, so the worker does not start: {overview.problem}", icon=":material/error:")
    elif overview.webhook:
        st.caption(f"Sent to the webhook at {overview.webhook}, signed (`X-Workbench-Signature`).")
    else:
        st.caption("No webhook is set (`ALERT_WEBHOOK_URL`): the alerts show here.")
    if not overview.alerts:
        st.info("No alert has been raised.", icon=":material/info:")
        return
    st.dataframe(
        [
            {
                "Alert": alert.id,
                "Raised (UTC)": alert.raised_at,
                "What": alert.summary,
                "Cleared (UTC)": alert.cleared_at,
                "Delivery": ALERT_STATUSES.get(alert.status, alert.status),
                "Attempts": alert.attempts,
            }
            for alert in overview.alerts
        ],
        hide_index=True,
        column_config={
            "Raised (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Cleared (UTC)": st.column_config.DatetimeColumn(
                format="YYYY-MM-DD HH:mm", help="When the condition ended (a job failure or a gate decision stays)"
            ),
        },
    )
    if overview.deliveries:
        st.caption("Delivery log: each attempt to send an alert to the webhook, newest first.")
        st.dataframe(
            [
                {
                    "Alert": d.alert_id,
                    "Attempt": d.attempt,
                    "At (UTC)": d.at,
                    "Outcome": d.outcome,
                    "Seconds": d.seconds,
                }
                for d in overview.deliveries
            ],
            hide_index=True,
            column_config={"At (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
        )


def gate_decision(decision: GateDecision | None, *, what: str) -> None:
    """The promotion gate's decision on a run or version: its outcome and reason, and the candidate beside the current
    model on the same held-out items."""
    if decision is None:
        st.caption(f"This {what} has not been through the promotion gate.")
        return
    say = st.success if decision.promoted else st.warning
    say(
        escape_markdown(f"Promotion gate: {decision.outcome} ({decision.reason})."),
        icon=":material/verified:" if decision.promoted else ":material/pan_tool:",
    )
    st.dataframe(
        [
            {"Figure": row["figure"], f"{what.capitalize()}: {decision.candidate}": row["candidate"],
             f"Current: {decision.current or 'none'}": row["current"]}
            for row in decision.side_by_side()
        ],
        hide_index=True,
    )  # fmt: skip
    st.caption(
        f"Both on the same {decision.items:,} held-out items; the interval is a paired bootstrap over them. It passes "
        f"when it is better by {decision.metric} and the interval's low end is not below -{decision.margin:.3f}; "
        + ("a version that passes is promoted by itself." if decision.auto_promote else "automatic promotion was off.")
    )
