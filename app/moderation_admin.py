"""The moderation section of the admin's Data page: the classifier versions' thresholds and bands, the Retrain
button (confirmed first; the retrain runs in a background thread, so the page stays usable, and its stages show as
it goes), the latest retrain's result beside the previous version's, and the promotion gate: each version's decision
side by side with the version it was compared with, and promotion by hand."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from app.widgets import escape_markdown, gate_decision
from core.auth import UserPublic
from core.moderation import ModerationError
from core.moderation import service as moderation
from core.moderation.classifier import ClassifierOverview
from core.moderation.metrics import METRICS, RetrainSummary

# Each stage of a retrain: where it starts on the progress bar, its share of it, and what it says.
STAGES = {
    "embed": (0.0, 0.55, "Embedding the items that have no stored embedding yet"),
    "fit": (0.55, 0.15, "Fitting the classifier on the final labels"),
    "evaluate": (0.70, 0.05, "Evaluating the new and the previous version on the held-out items"),
    "score": (0.75, 0.20, "Re-scoring every item"),
    "queue": (0.95, 0.05, "Rebuilding the borderline queue"),
    "done": (1.0, 0.0, "Done"),
}


def moderation_section(user: UserPublic) -> None:
    st.subheader("Moderation classifier", anchor=False)
    overview = moderation.classifier_overview(actor=user)
    retrain_column, settings_column = st.columns([1, 1], gap="large")
    with retrain_column, st.container(border=True):
        _retrain(user, overview)
    with settings_column, st.container(border=True):
        _thresholds(user, overview)
    if overview.versions:
        with st.container(border=True):
            _gate(user, overview)
    if overview.latest is not None:
        _summary(overview.latest)


@dataclass
class RetrainJob:
    """A retrain running in a background thread, as its progress reports it."""

    to_embed: int
    stage: str = "embed"
    fraction: float = 0.0
    version: str | None = None
    error: str | None = None
    done: bool = False

    def line(self) -> str:
        text = STAGES[self.stage][2]
        if self.stage == "embed" and self.to_embed:
            text += f": {round(self.fraction * self.to_embed):,} of {self.to_embed:,}"
        return text


@st.cache_resource
def _jobs() -> dict[str, RetrainJob]:
    """The retrains of this server process by the admin who started them (one at a time each)."""
    return {}


def _retrain(user: UserPublic, overview: ClassifierOverview) -> None:
    st.markdown("**Retrain from the final human labels**")
    st.caption(
        f"{overview.embedded:,} of {overview.items:,} items have a stored embedding; the others are embedded first. "
        "The new version re-scores every item and the borderline queue is rebuilt from its scores."
    )
    if notice := st.session_state.pop("retrain_notice", None):
        st.success(notice, icon=":material/check_circle:")
    if refused := st.session_state.pop("retrain_error", None):
        st.error(refused)
    st.session_state.pop("retrain_started", None)  # the dialog's: spent once the page is drawn again
    running = user.username in _jobs()
    if running:
        _progress(user)
    if st.button("Retrain", type="primary", icon=":material/model_training:", disabled=running or not overview.items):
        _confirm(user, overview)


@st.dialog("Retrain the moderation classifier?")
def _confirm(user: UserPublic, overview: ClassifierOverview) -> None:
    to_embed = overview.items - overview.embedded
    st.markdown(
        f"A new classifier version is trained on the final human labels. It re-scores all {overview.items:,} items "
        f"({to_embed:,} are embedded first) and the borderline queue is rebuilt from its scores; the current versions "
        "stay. The page stays usable while it runs."
    )
    yes, no = st.columns(2)
    yes.button("Retrain now", type="primary", width="stretch", on_click=_start, args=(user, to_embed))
    if no.button("Cancel", width="stretch") or st.session_state.pop("retrain_started", False):
        st.rerun()  # closes the dialog; a started retrain shows its progress on the page


def _start(user: UserPublic, to_embed: int) -> None:
    """Start the retrain in a background thread (a button's callback: it runs before the page is drawn again)."""
    st.session_state["retrain_started"] = True
    job = _jobs()[user.username] = RetrainJob(to_embed)

    def progress(stage: str, fraction: float) -> None:
        job.stage, job.fraction = stage, fraction

    def run() -> None:
        try:
            job.version = moderation.retrain(actor=user, progress=progress).version
        except ModerationError as error:
            job.error = f"Retraining refused, nothing was changed: {error}"
        except Exception as error:  # shown to the admin: a background thread must not fail silently
            job.error = f"The retrain failed, nothing was changed: {error}"
        finally:
            job.done = True

    threading.Thread(target=run, name=f"retrain-{user.username}", daemon=True).start()


@st.fragment(run_every=1.0)
def _progress(user: UserPublic) -> None:
    job = _jobs().get(user.username)
    if job is None:
        return
    if not job.done:
        start, share, _ = STAGES[job.stage]
        st.progress(min(start + share * job.fraction, 1.0), text=job.line())
        return
    _jobs().pop(user.username, None)
    if job.error:
        st.session_state["retrain_error"] = job.error
    else:
        st.session_state["retrain_notice"] = f"New version {job.version} is ready."
    st.rerun(scope="app")  # the section now shows the new version


def _thresholds(user: UserPublic, overview: ClassifierOverview) -> None:
    st.markdown("**Borderline band per version**")
    if not overview.versions:
        st.info("No moderation classifier yet: import moderation scores.", icon=":material/info:")
        return
    st.dataframe(
        [
            {
                "Version": v.name,
                "Threshold": v.threshold,
                "Band ±": v.band,
                "Feeds queue": v.feeds_queue,
                "Status": v.status,
                "Gate": v.gate.outcome if v.gate else None,
            }
            for v in overview.versions
        ],
        hide_index=True,
    )
    names = [v.name for v in overview.versions]
    name = st.selectbox("Version", names, key="threshold-version")  # outside the form: its values follow the choice
    chosen = overview.versions[names.index(name)]
    with st.form(f"threshold-{name}"):
        threshold = st.number_input("Threshold", 0.01, 0.99, chosen.threshold, step=0.01, format="%.2f")
        band = st.number_input("Band (±)", 0.01, 0.5, chosen.band, step=0.01, format="%.2f")
        if st.form_submit_button("Save and rebuild the queue"):
            try:
                saved = moderation.set_threshold(actor=user, version=name, threshold=threshold, band=band)
            except ModerationError as error:
                st.error(str(error))
            else:
                st.success(f"{saved.name}: threshold {saved.threshold:.2f}, band ±{saved.band:.2f}; queue rebuilt.")


def _summary(summary: RetrainSummary) -> None:
    st.markdown(f"**Latest retrain: {summary.version}** (previous version: {summary.previous or 'none'})")
    tiles = st.columns(4)
    tiles[0].metric("Final labels used", f"{summary.labels:,}", help="Training and held-out items together.")
    tiles[1].metric("Of which external", f"{summary.external:,}", help="Imported from another tool or a dataset.")
    tiles[2].metric("Loop time", summary.loop_time(), help="From the newest label used to the new version ready.")
    tiles[3].metric("Borderline items waiting", f"{summary.queue_waiting:,}")
    rows = []
    for row in summary.comparison():
        line = {"Scope": row["scope"], "Held-out items": row["held-out items"], "Positives": row["positives"]}
        for metric in METRICS:
            line[f"{metric} new"] = row[metric]
            line[f"{metric} previous"] = row[f"{metric} (previous)"]
        rows.append(line)
    st.dataframe(
        rows,
        hide_index=True,
        placeholder="–",
        column_config={
            name: st.column_config.NumberColumn(format="%.3f") for name in rows[0] if name.split()[0] in METRICS
        },
    )
    st.caption(
        f"Held out: {summary.test_items:,} items (stratified); the previous version had scored "
        f"{summary.previous_test_items:,} of them. Re-scored {summary.scored:,} items in "
        f"{summary.seconds.get('score', 0):.1f} s; whole retrain {summary.seconds.get('total', 0):.1f} s."
    )


def _gate(user: UserPublic, overview: ClassifierOverview) -> None:
    """A version's promotion-gate decision beside the version it was compared with, and its promotion by hand."""
    st.markdown("**Promotion gate**")
    if notice := st.session_state.pop("promote_notice", None):
        st.success(notice, icon=":material/check_circle:")
    versions = sorted(overview.versions, key=lambda v: not v.candidate)  # candidates first, then newest first
    chosen = st.selectbox(
        "Version through the gate", versions, format_func=lambda v: f"{v.name} ({v.status or 'not used'})", key="gate-v"
    )
    gate_decision(chosen.gate, what="version")
    current = next((v.name for v in overview.versions if v.current), "none")
    promote = st.button(
        f"Promote {chosen.name} to the queue",
        icon=":material/verified:",
        help=f"It feeds the borderline queue in place of {current}",
        disabled=chosen.current,
    )
    if promote:
        try:
            moderation.promote(actor=user, version=chosen.name)
        except ModerationError as error:
            st.error(escape_markdown(str(error)))
        else:
            st.session_state["promote_notice"] = f"{chosen.name} feeds the borderline queue now, in place of {current}."
            st.rerun()
