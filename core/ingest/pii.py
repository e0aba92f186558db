"""Masking personal data in imported texts: e-mail addresses, phone numbers and tax ids become [EMAIL], [PHONE]
and [TAX_ID] before anything is written.

The patterns favour precision: dates, times, money amounts, version numbers and IP addresses are left alone, so
a phone number needs a form people write phone numbers in (a leading +, an area code in parentheses, the 3-3-4
North-American grouping, or a trunk 0 with grouped digits) and 7 to 15 digits. Tax ids are the US SSN/ITIN
(123-45-6789) and EIN (12-3456789), the UK National Insurance number (QQ 12 34 56 C), India's PAN (ABCDE1234F), and
any number of at least 5 digits written after a label such as "tax id", "TIN", "VAT number", "national id",
"Steuer-ID", "NIF" or "codice fiscale"."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

TOKENS = ("EMAIL", "PHONE", "TAX_ID")

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")

_BEFORE = r"(?<![\w.,/:$€£+-])"  # not inside a longer number, word, amount, path or version
_AFTER = r"(?![\w/-]|[.,:]\d)"

_LABELLED_ID = re.compile(
    r"\b(?i:tax[ -]?(?:id(?:entification)?|payer|number|no\.?|code)|TIN|ITIN|SSN|EIN|VAT(?:[ -]?(?:id|number|no\.?))?"
    r"|national[ -](?:id|identity|insurance)(?:[ -]?(?:number|no\.?|card))?|NINO|Steuer-?ID|Steuernummer|NIF|NIE"
    r"|codice fiscale|personnummer|BSN)"
    r"(?i:\s*(?:number|no\.?|#))?(?:\s+(?:is|was))?\s*[:#=]?\s*"
    r"(?P<value>[A-Z0-9](?:[A-Z0-9]|[ ./-](?=[A-Z0-9])){4,22})" + _AFTER
)
_TAX_IDS = re.compile(
    _BEFORE
    + r"(?:"
    + r"(?!000|666)\d{3}-(?!00)\d{2}-(?!0000)\d{4}"  # US SSN / ITIN
    + r"|\d{2}-\d{7}"  # US EIN
    + r"|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]"  # UK National Insurance number
    + r"|[A-Z]{3}[ABCFGHLJPT][A-Z]\d{4}[A-Z]"  # India PAN
    + r")"
    + _AFTER
)
_PHONE = re.compile(
    _BEFORE
    + r"(?:"
    + r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # international: +44 20 7946 0958
    + r"|\(\d{3}\)[ .-]?\d{3}[ .-]?\d{4}"  # (555) 123-4567
    + r"|\d{3}([-. ])\d{3}\1\d{4}"  # 555-123-4567, 555.123.4567
    + r"|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}|0\d{9,10}"  # trunk 0: 020 7946 0958, 030 12345678, 07700900123
    + r")"
    + _AFTER
)


def mask_pii(text: str, counts: Counter[str] | None = None) -> str:
    """The text with personal data replaced by tokens; `counts` (if given) is incremented per token."""
    counts = Counter() if counts is None else counts
    text = _EMAIL.sub(_replacement("EMAIL", counts), text)
    text = _LABELLED_ID.sub(_labelled(counts), text)
    text = _TAX_IDS.sub(_replacement("TAX_ID", counts), text)
    return _PHONE.sub(_phone(counts), text)


def _replacement(token: str, counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def replace(_match: re.Match[str]) -> str:
        counts[token] += 1
        return f"[{token}]"

    return replace


def _labelled(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    """Only the value after the label is masked, and only when it holds at least 5 digits ("tax id: pending" stays)."""

    def replace(match: re.Match[str]) -> str:
        value = match.group("value")
        if sum(c.isdigit() for c in value) < 5:
            return match.group(0)
        counts["TAX_ID"] += 1
        start, end = match.span("value")
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + "[TAX_ID]" + whole[end - offset :]

    return replace


def _phone(counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if not 7 <= sum(c.isdigit() for c in match.group(0)) <= 15:
            return match.group(0)
        counts["PHONE"] += 1
        return "[PHONE]"

    return replace


# Import fields that hold free text a person wrote; ids, model names and reviewer names are not masked.
TEXT_FIELDS = frozenset(
    {
        "prompt",
        "text",
        "response",
        "response_a",
        "response_b",
        "rationale",
        "note",
        "chosen",
        "rejected",
        "comment_text",
    }
)


def mask_row(row: Any, counts: Counter[str]) -> Any:
    """A copy of a validated import row with its text fields masked, nested rows and Label Studio's
    {"text": [...]} values included."""
    if isinstance(row, BaseModel):
        changes = {
            name: mask_row(value, counts) if name not in TEXT_FIELDS else _mask_text(value, counts)
            for name, value in row
            if isinstance(value, BaseModel | list | dict) or name in TEXT_FIELDS
        }
        return row.model_copy(update=changes)
    if isinstance(row, list):
        return [mask_row(item, counts) for item in row]
    if isinstance(row, dict):
        return {k: _mask_text(v, counts) if k in TEXT_FIELDS else mask_row(v, counts) for k, v in row.items()}
    return row


def _mask_text(value: Any, counts: Counter[str]) -> Any:
    if isinstance(value, str):
        return mask_pii(value, counts)
    if isinstance(value, list):
        return [_mask_text(item, counts) for item in value]
    return value
