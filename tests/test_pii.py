"""Masking personal data at import: what is masked, what is left alone, and what the store and the audit trail hold."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from core.cli.main import main
from core.ingest.pii import mask_pii
from core.store.db import session_scope
from core.store.models import AuditEvent, ModerationItem, ModerationLabel, Prompt, Rating, Response
from tests.app_helpers import add_admin, fresh_streamlit_cache, texts  # noqa: F401
from tests.test_app_data import data_page, upload


@pytest.mark.parametrize(
    ("text", "masked", "counts"),
    [
        ("Write to jane.doe+billing@example.co.uk today", "Write to [EMAIL] today", {"EMAIL": 1}),
        ("Call me on +44 20 7946 0958.", "Call me on [PHONE].", {"PHONE": 1}),
        ("US office (555) 123-4567, cell 555.123.4567", "US office [PHONE], cell [PHONE]", {"PHONE": 2}),
        ("+1 555 123 4567 or +33 1 23 45 67 89", "[PHONE] or [PHONE]", {"PHONE": 2}),
        ("UK: 020 7946 0958 / 07700900123", "UK: [PHONE] / [PHONE]", {"PHONE": 2}),
        ("My SSN is 123-45-6789, right?", "My SSN is [TAX_ID], right?", {"TAX_ID": 1}),
        ("SSN 078-05-1120; EIN 12-3456789", "SSN [TAX_ID]; EIN [TAX_ID]", {"TAX_ID": 2}),
        ("NI number JG 10 37 46 A and JG103746A", "NI number [TAX_ID] and [TAX_ID]", {"TAX_ID": 2}),
        ("PAN card ABCPE1234F", "PAN card [TAX_ID]", {"TAX_ID": 1}),
        ("my tax ID is 12 345 678 901. Thanks", "my tax ID is [TAX_ID]. Thanks", {"TAX_ID": 1}),
        ("Steuer-ID: 12345678901, VAT number DE123456789", "Steuer-ID: [TAX_ID], VAT number [TAX_ID]", {"TAX_ID": 2}),
        (
            "I'm Ann (ann@corp.io, +49 30 1234567), TIN 98-7654321.",
            "I'm Ann ([EMAIL], [PHONE]), TIN [TAX_ID].",
            {"EMAIL": 1, "PHONE": 1, "TAX_ID": 1},
        ),
    ],
)
def test_personal_data_is_replaced_by_tokens_and_counted(text, masked, counts):
    found = Counter()
    assert mask_pii(text, found) == masked
    assert +found == counts


@pytest.mark.parametrize(
    "text",
    [
        "Filed on 2024-03-15 at 14:30:05, due 15/04/2024 or 03.15.2024",
        "I paid $1,234,567.89, then € 1.234,56, then 1 234 567,89 EUR and 12,500 USD",
        "Upgrade from v2.10.4 to 10.0.19045.2965 (build 20240315)",
        "Server 192.168.100.200 on port 8080; +2.5% year on year; 100-200 words",
        "ISBN 978-3-16-148410-0, order 2024-000123, invoice INV-2024-0042",
        "The tax id is pending; my phone is broken; email me later",
        "Income of 45000 in 2023, 52000 in 2024: a 15.6% rise",
    ],
)
def test_dates_money_versions_and_plain_numbers_are_left_alone(text):
    found = Counter()
    assert mask_pii(text, found) == text
    assert not +found


def _jsonl(path, *rows: dict):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_import_with_mask_pii_stores_masked_texts_and_audits_the_counts(engine, tmp_path, capsys):
    add_admin(engine)
    ratings = _jsonl(
        tmp_path / "ratings.jsonl",
        {
            "prompt_id": "p1",
            "prompt": "I'm jo@example.com, SSN 123-45-6789: can I deduct my home office?",
            "model": "bot-v1",
            "response": "Yes, call the IRS at 800-829-1040 on 2024-04-15.",
            "reviewer": "eve",
            "helpfulness": 4,
            "harmlessness": 5,
            "accuracy": 4,
            "rationale": "Mentions v2.1 of the form; the user could write to help@irs.gov",
        },
    )
    labels = _jsonl(
        tmp_path / "labels.jsonl",
        {"item_id": "m1", "text": "text me at +44 7700 900123 loser", "annotator": "ann", "label": "toxic",
         "note": "doxxing: NI number JG 10 37 46 A"},
    )  # fmt: skip
    assert main(["import", "ratings", str(ratings), "--mask-pii"]) == 0
    assert "personal data masked: 2 [EMAIL], 1 [PHONE], 1 [TAX_ID]" in capsys.readouterr().out
    assert main(["import", "labels", str(labels), "--mask-pii"]) == 0
    with session_scope(engine) as s:
        assert s.execute(select(Prompt.text)).scalar_one() == "I'm [EMAIL], SSN [TAX_ID]: can I deduct my home office?"
        assert s.execute(select(Response.text)).scalar_one() == "Yes, call the IRS at [PHONE] on 2024-04-15."
        assert (
            s.execute(select(Rating.rationale)).scalar_one()
            == "Mentions v2.1 of the form; the user could write to [EMAIL]"
        )
        assert s.execute(select(ModerationItem.text)).scalar_one() == "text me at [PHONE] loser"
        assert s.execute(select(ModerationLabel.note)).scalar_one() == "doxxing: NI number [TAX_ID]"
        events = s.execute(select(AuditEvent.after).where(AuditEvent.action == "import")).scalars().all()
    assert [(e["file"], e["mask_pii"], e["pii_masked"]) for e in events] == [
        ("ratings.jsonl", True, {"EMAIL": 2, "PHONE": 1, "TAX_ID": 1}),
        ("labels.jsonl", True, {"EMAIL": 0, "PHONE": 1, "TAX_ID": 1}),
    ]


def test_import_without_the_option_keeps_texts_and_says_masking_was_off(engine, tmp_path):
    add_admin(engine)
    path = _jsonl(
        tmp_path / "labels.jsonl", {"item_id": "m1", "text": "mail a@b.org", "annotator": "ann", "label": "toxic"}
    )
    assert main(["import", "labels", str(path)]) == 0
    with session_scope(engine) as s:
        assert s.execute(select(ModerationItem.text)).scalar_one() == "mail a@b.org"
        (event,) = s.execute(select(AuditEvent.after).where(AuditEvent.action == "import")).scalars()
    assert event["mask_pii"] is False and "pii_masked" not in event


def test_the_data_page_masks_when_the_box_is_ticked(engine):
    at = data_page(engine)
    at.checkbox(key="import_mask_pii").check()
    content = json.dumps({"item_id": "m1", "text": "reach me: bob@mail.net", "annotator": "ann", "label": "toxic"})
    at = upload(at, "labels.jsonl", (content + "\n").encode(), kind="labels")
    assert not at.exception and not at.error
    assert texts(at.success) == [
        "labels.jsonl: 1 rows read, 1 labels: 1 added, 0 already present; "
        "personal data masked: 1 [EMAIL], 0 [PHONE], 0 [TAX_ID]"
    ]
    with session_scope(engine) as s:
        assert s.execute(select(ModerationItem.text)).scalar_one() == "reach me: [EMAIL]"
