"""Reward model (admin): preference pairs, snapshots, training runs followed live, comparison, promotion, scoring."""

import plotly.graph_objects as go
import streamlit as st

from app.session import require_page
from app.widgets import escape_markdown, gate_decision, metric_tiles, page_header
from core.jobs.gate import GateDecision
from core.reports.home import Count
from core.reward import RewardError
from core.reward import service as reward
from core.reward.baselines import baseline_lines
from core.reward.pairs import DIMENSIONS
from core.reward.registry import RunView
from core.reward.train import TrainParams

FOLLOW_KEY = "reward_follow"
REFRESH_SECONDS = 2.0

user = require_page("reward_model")
page_header(
    "Reward model",
    "Expert preferences become a dataset snapshot, a reward model trained with TRL's RewardTrainer, held-out "
    "metrics and a model card. A finished run goes through the promotion gate against the active one, on the same "
    "held-out pairs; promote a candidate by hand, then score every chatbot answer with the active run.",
)
if notice := st.session_state.pop("reward_notice", None):
    st.success(escape_markdown(notice), icon=":material/check_circle:")


def counts_table(counts, name: str, wins: bool = False) -> None:
    rows = [{name: c.name, "Pairs": c.pairs} | ({"Won": c.wins} if wins else {}) for c in counts]
    st.dataframe(rows, hide_index=True, placeholder="–")


def loss_figure(runs: list[RunView]) -> go.Figure:
    figure = go.Figure()
    for run in runs:
        steps, losses = zip(*run.loss_curve, strict=True) if run.loss_curve else ((), ())
        figure.add_trace(go.Scatter(x=list(steps), y=list(losses), mode="lines+markers", name=f"run {run.id}"))
    figure.update_layout(xaxis_title="step", yaxis_title="training loss", height=320, margin={"t": 30, "b": 10})
    return figure


# --- the pairs -------------------------------------------------------------------------------------------------------

summary = reward.dataset_summary(actor=user)
st.subheader("Preference pairs", anchor=False)
metric_tiles(
    [
        Count("Usable pairs", summary.usable, "Compared pairs with a majority for one answer"),
        Count("Ties (left out)", summary.outcomes["tie"], "Most reviewers called the two answers equal"),
        Count("Both bad (left out)", summary.outcomes["both_bad"], "Most reviewers found neither answer usable"),
        Count("Split (left out)", summary.outcomes["split"], "No verdict has a majority of the votes"),
    ]
)
source_column, topic_column, version_column = st.columns(3)
with source_column:
    counts_table(summary.by_source, "Source")
with topic_column:
    counts_table(summary.by_topic, "Topic")
with version_column:
    counts_table(summary.by_version, "Model version", wins=True)
st.caption(
    f"From rubric ratings: {summary.rating_pairs:,} more pairs of uncompared answers whose mean scores differ by a "
    f"point or more ({summary.rating_pairs_close:,} closer ones are never used)."
)
with st.form("snapshot", border=False):
    with_ratings = st.checkbox("Add pairs from ratings", help="Pairs of two rated answers to one prompt")
    dimension = st.selectbox(
        "Preferences",
        [None, *DIMENSIONS],
        format_func=lambda d: "Overall choice" if d is None else f"{d.title()} only",
        help="Which preference chooses a pair: the overall one, or one rubric dimension's (for a reward model of "
        "that dimension, e.g. harmlessness); needs comparisons that asked per dimension",
        key="snapshot-dimension",
    )
    if st.form_submit_button("Freeze a snapshot", icon=":material/photo_camera:"):
        try:
            result = reward.export_snapshot(actor=user, with_ratings=with_ratings, dimension=dimension)
        except RewardError as error:
            st.error(escape_markdown(str(error)))
        else:
            st.session_state["reward_notice"] = result.line()
            st.rerun()

# --- training --------------------------------------------------------------------------------------------------------

st.subheader("Train", anchor=False)
snapshots = reward.list_snapshots(actor=user)
defaults = TrainParams()
with st.form("train", border=True):
    choice = st.selectbox(
        "Snapshot",
        [None, *snapshots],
        format_func=lambda s: "A fresh snapshot of the pairs above" if s is None else s.label(),
    )
    epochs_column, length_column, rate_column = st.columns(3)
    epochs = epochs_column.number_input("Epochs", 0.1, 50.0, float(defaults.epochs), step=1.0)
    max_length = length_column.number_input("Max length (tokens)", 16, 512, defaults.max_length, step=32)
    rate = rate_column.number_input("Learning rate", 1e-6, 1e-2, defaults.learning_rate, format="%.0e")
    base_model = st.text_input("Base model folder", placeholder="all-MiniLM-L6-v2 (shipped)")
    if st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:"):
        params = TrainParams(epochs=epochs, max_length=int(max_length), learning_rate=rate)
        try:
            run_id = reward.start_training(
                actor=user,
                snapshot_id=choice.id if choice else None,
                base_model=base_model.strip() or None,
                params=params,
            )
        except RewardError as error:
            st.error(escape_markdown(str(error)))
        else:
            st.session_state[FOLLOW_KEY] = run_id
            st.session_state["reward_notice"] = f"Run {run_id} started in a process of its own."
            st.rerun()

runs = reward.list_runs(actor=user)
followed = st.session_state.get(FOLLOW_KEY) or next((r.id for r in runs if r.status in ("queued", "running")), None)


def show_run(run_id: int) -> None:
    run = reward.get_run(actor=user, run_id=run_id)
    phase = run.progress.get("phase", run.status)
    step, total = run.progress.get("step", 0), run.progress.get("total", 0)
    label = f"Run {run.id}: {run.status}" + (f" ({phase}, step {step:,} of {total:,})" if total else f" ({phase})")
    st.progress(run.fraction_done if run.status != "done" else 1.0, text=label)
    if run.stale:
        st.warning(
            "No progress for over ten minutes: the training process may have stopped.", icon=":material/warning:"
        )
    if run.error:
        st.error(escape_markdown(f"Run {run.id} failed: {run.error}"))
    if run.loss_curve:
        st.plotly_chart(loss_figure([run]), key=f"loss-{run.id}")
    if run.status == "done" and run.accuracy is not None:
        against = "".join(f"\n- Against {line}." for line in baseline_lines(run.metrics))
        st.caption(escape_markdown(f"Held-out accuracy {run.accuracy:.1%} on {run.metrics['n_eval_pairs']:,} pairs.")
                   + escape_markdown(against))  # fmt: skip
    if run.status in ("done", "failed") and st.session_state.get("reward_live") == run.id:
        st.session_state.pop("reward_live")
        st.rerun(scope="app")  # the run table and the lists below change with it


if followed is not None:
    live = reward.get_run(actor=user, run_id=followed).status in ("queued", "running")
    if live:
        st.session_state["reward_live"] = followed
    st.fragment(run_every=REFRESH_SECONDS if live else None)(show_run)(followed)

# --- runs ------------------------------------------------------------------------------------------------------------

st.subheader("Runs", anchor=False)
if not runs:
    st.info("No training runs yet.", icon=":material/info:")
else:
    st.dataframe(
        [
            {
                "Run": r.id,
                "Status": r.status,
                "Active": r.is_active,
                "Snapshot": f"#{r.snapshot_id} · {r.snapshot_hash[:10]}",
                "Accuracy": r.accuracy,
                "95% CI": "–"
                if not r.metrics.get("accuracy_ci")
                else "{:.1%} – {:.1%}".format(*r.metrics["accuracy_ci"]),
                "Held-out pairs": r.metrics.get("n_eval_pairs"),
                "Longer answer": (r.metrics.get("baselines") or {}).get("longer_answer", {}).get("accuracy"),
                "Bag of words": (r.metrics.get("baselines") or {}).get("bag_of_words", {}).get("accuracy"),
                "Pairs trained": r.metrics.get("train_pairs"),
                "Dropped (too long)": r.metrics.get("dropped_pairs"),
                "Gate": (r.metrics.get("gate") or {}).get("outcome"),
                "Started (UTC)": r.started_at,
                "Finished (UTC)": r.finished_at,
                "Error": r.error,
            }
            for r in runs
        ],
        hide_index=True,
        placeholder="–",
        column_config={
            "Accuracy": st.column_config.NumberColumn(format="percent", help="Held-out pairwise accuracy"),
            "Longer answer": st.column_config.NumberColumn(
                format="percent", help="Baseline: pick the longer answer, on the same held-out pairs"
            ),
            "Bag of words": st.column_config.NumberColumn(
                format="percent", help="Baseline: a bag-of-words classifier trained on the same pairs"
            ),
            "Started (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Finished (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    finished = [r for r in runs if r.status == "done"]
    compared = st.multiselect("Compare runs", [r.id for r in runs], default=[r.id for r in finished[:2]])
    if compared:
        st.dataframe(reward.compare_runs(actor=user, run_ids=compared), hide_index=True)
        st.plotly_chart(loss_figure([r for r in runs if r.id in compared]), key="loss-compare")
    decided = [r for r in finished if r.metrics.get("gate")]
    if decided:
        st.subheader("Promotion gate", anchor=False)
        gated = st.selectbox("Run through the gate", decided, format_func=lambda r: f"run {r.id}", key="gate-run")
        gate_decision(GateDecision.from_dict(gated.metrics["gate"]), what="run")
    if finished:
        promote_column, score_column = st.columns(2)
        with promote_column, st.form("promote", border=True):
            chosen = st.selectbox("Run", [r.id for r in finished], format_func=lambda i: f"run {i}")
            if st.form_submit_button("Promote to active", icon=":material/verified:"):
                try:
                    reward.promote(actor=user, run_id=chosen)
                except RewardError as error:
                    st.error(escape_markdown(str(error)))
                else:
                    st.session_state["reward_notice"] = f"Run {chosen} is the active reward model."
                    st.rerun()
        active = next((r for r in runs if r.is_active), None)
        with score_column, st.container(border=True):
            st.markdown(f"**Active run:** {f'run {active.id}' if active else 'none yet'}")
            if active and st.button("Score every answer", icon=":material/scoreboard:"):
                bar = st.progress(0.0, text="Scoring…")
                try:
                    result = reward.score(
                        actor=user,
                        progress=lambda done, total: bar.progress(done / total, text=f"{done:,} of {total:,}"),
                    )
                except RewardError as error:
                    st.error(escape_markdown(str(error)))
                else:
                    bar.empty()
                    st.success(f"{result.scored:,} answers scored now; {result.total:,} in all.")
        if active:
            st.subheader("Mean reward per version (active run)", anchor=False)
            st.dataframe(
                [
                    {
                        "Version": v.version,
                        "Answers": v.answers,
                        "Mean reward": v.mean,
                        "95% CI low": v.ci[0] if v.ci else None,
                        "95% CI high": v.ci[1] if v.ci else None,
                    }
                    for v in reward.mean_reward_by_version(actor=user, run_id=active.id)
                ],
                hide_index=True,
                placeholder="–",
            )
