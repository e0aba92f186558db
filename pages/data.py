"""Data (admin): import a file, sync with Label Studio, and see what the store holds."""

import shutil
import tempfile
from functools import partial
from pathlib import Path

import streamlit as st

from app.moderation_admin import moderation_section
from app.session import require_page
from app.widgets import bullet_message, imports_table, page_header
from core.ingest import KINDS, ImportRefused
from core.ingest.service import import_data
from core.labelstudio import service as labelstudio
from core.labelstudio.client import LabelStudioError
from core.labelstudio.sync import TITLES
from core.labelstudio.tasks import QUEUES
from core.store import service as store

user = require_page("data")
page_header(
    "Data",
    "Import production logs, judgments and public datasets. A file with any bad row is refused whole, "
    "and importing the same file again adds nothing.",
)


def run_import(uploaded, kind: str, mask_pii: bool) -> None:
    bar = st.progress(0.0, text=f"Reading {uploaded.name}…")

    def progress(done: int, total: int) -> None:
        share = min(done / total, 1.0) if total else 1.0
        bar.progress(share, text=f"Reading {uploaded.name}: {done / 1e6:,.1f} of {total / 1e6:,.1f} MB")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(uploaded.name).name
        with path.open("wb") as handle:
            shutil.copyfileobj(uploaded, handle)
        try:
            summary = import_data(
                actor=user, path=path, kind=kind, file_name=uploaded.name, progress=progress, mask_pii=mask_pii
            )
        except ImportRefused as refused:
            bar.empty()
            st.error(bullet_message("Refused: nothing was imported.", refused.lines()), icon=":material/block:")
            return
    bar.empty()
    st.success(summary.line(), icon=":material/check_circle:")


def labelstudio_section() -> None:
    """Push a queue to a Label Studio project and pull its annotations back as labels or ratings."""
    st.subheader("Label Studio", anchor=False)
    problem = labelstudio.configuration_problem()
    if problem:
        st.info(problem, icon=":material/link_off:")
        return
    st.caption(
        "Push sends the queue's open items as tasks (never twice): moderation items with the classifier's prediction "
        "as a pre-annotation, or answers to rate with their conversation (never the model). Pull brings the "
        "annotations back as labels, or ratings with their error spans (never counted twice; a changed one updates). "
        "Each queue needs a project of its own."
    )
    queue_column, title_column = st.columns([1, 2])
    queue = queue_column.selectbox("Queue", QUEUES, key="labelstudio_queue")
    title = title_column.text_input("Project title", value=TITLES[queue], key=f"labelstudio_project_{queue}")
    push_column, pull_column = st.columns(2)
    if push_column.button("Push", icon=":material/cloud_upload:", key="labelstudio_push", width="stretch"):
        run_labelstudio(partial(labelstudio.push, queue=queue), title, f"Pushing the {queue} queue", "tasks")
    if pull_column.button("Pull", icon=":material/cloud_download:", key="labelstudio_pull", width="stretch"):
        run_labelstudio(labelstudio.pull, title, "Pulling annotations", "bytes")


def run_labelstudio(action, title: str, doing: str, unit: str) -> None:
    with st.status(f"{doing} ({title})…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{done:,} of {total:,} {unit}")

        try:
            summary = action(actor=user, title=title, progress=progress)
        except LabelStudioError as error:
            status.update(label=f"{doing}: failed", state="error")
            st.error(str(error), icon=":material/error:")
            return
        except ImportRefused as refused:
            status.update(label=f"{doing}: refused", state="error")
            header = "Refused: nothing was imported. Fix these annotations in Label Studio, then pull again."
            st.error(bullet_message(header, refused.lines()), icon=":material/block:")
            return
        status.update(label=f"{doing}: done", state="complete")
    st.success(summary.line(), icon=":material/check_circle:")


main_column, side_column = st.columns([2, 1], gap="large")
with main_column, st.container(border=True):
    st.subheader("Import a file", anchor=False)
    kind_column, format_column = st.columns([1, 2], vertical_alignment="bottom")
    kind = kind_column.selectbox("Kind of file", list(KINDS), key="import_kind")
    format_column.caption(f"Format: `{KINDS[kind].description}`")
    suffixes = [suffix.lstrip(".") for suffix in KINDS[kind].suffixes]
    suffixes += ["json"] if "jsonl" in suffixes else []  # JSON Lines files are often saved as .json
    uploaded = st.file_uploader("File", type=suffixes, key=f"import_file_{kind}")
    mask_pii = st.checkbox(
        "Mask personal data",
        key="import_mask_pii",
        help="Replace e-mail addresses, phone numbers and tax ids in the texts with [EMAIL], [PHONE] and [TAX_ID] "
        "before they are stored; the audit trail records that masking was on and how many were masked.",
    )
    if st.button("Import", type="primary", icon=":material/upload:", disabled=uploaded is None):
        run_import(uploaded, kind, mask_pii)
with main_column, st.container(border=True):
    labelstudio_section()

inventory = store.inventory(actor=user)  # after the import, so the tables include it

with main_column:
    st.subheader("Model versions", anchor=False)
    if inventory.versions:
        st.dataframe(
            [
                {
                    "Name": v.name,
                    "Kind": v.kind,
                    "Created (UTC)": v.created_at,
                    "Answers": v.answers,
                    "Scored items": v.scored_items,
                }
                for v in inventory.versions
            ],
            hide_index=True,
            placeholder="–",
            column_config={
                "Created (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                "Answers": st.column_config.NumberColumn(format="localized", help="Chatbot answers in the store"),
                "Scored items": st.column_config.NumberColumn(
                    format="localized", help="Moderation items this classifier scored"
                ),
            },
        )
    else:
        st.info("No model versions yet: import a conversations or moderation file.", icon=":material/info:")
with side_column:
    st.subheader("Rows per table", anchor=False)
    st.dataframe(
        [{"Table": t.label, "Rows": t.rows} for t in inventory.tables],
        hide_index=True,
        height="content",
        column_config={"Rows": st.column_config.NumberColumn(format="localized")},
    )

st.subheader("Recent imports", anchor=False)
imports_table(inventory.imports)

moderation_section(user)
