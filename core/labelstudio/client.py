"""The Label Studio client (label-studio-sdk 2.x), configured by LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY, and
errors that say which setting to fix: unset, unreachable, or a refused token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.config import get_settings

TIMEOUT_SECONDS = 120  # a bulk import of a few thousand tasks takes a while


class LabelStudioError(Exception):
    """Talking to Label Studio failed or is not set up; the message says what to do."""


def missing_settings() -> list[str]:
    """The environment variables still to set before Label Studio can be used (empty when configured)."""
    settings = get_settings()
    return [
        name
        for name, value in (
            ("LABEL_STUDIO_URL", settings.label_studio_url),
            ("LABEL_STUDIO_API_KEY", settings.label_studio_api_key),
        )
        if not value
    ]


def not_configured_message(missing: list[str]) -> str:
    return (
        f"Label Studio is not configured: set {' and '.join(missing)} "
        "(the server's address, e.g. http://127.0.0.1:8080, and an access token from its Account & Settings page)."
    )


def base_url() -> str:
    missing = missing_settings()
    if missing:
        raise LabelStudioError(not_configured_message(missing))
    return get_settings().label_studio_url.rstrip("/")


def connect() -> Any:
    """A client whose token the server has accepted (one request), or a LabelStudioError saying what to fix."""
    from label_studio_sdk import LabelStudio

    url = base_url()
    client = LabelStudio(base_url=url, api_key=get_settings().label_studio_api_key, timeout=TIMEOUT_SECONDS)
    with talking_to(url):
        client.users.whoami()
    return client


@contextmanager
def talking_to(url: str) -> Iterator[None]:
    """Turn the SDK's network and HTTP errors into a LabelStudioError naming the setting to check."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except httpx.HTTPError as error:
        raise LabelStudioError(
            f"cannot reach Label Studio at {url} ({str(error) or type(error).__name__}): "
            "check LABEL_STUDIO_URL and that the server is running"
        ) from error
    except ApiError as error:
        if error.status_code in (401, 403):
            raise LabelStudioError(
                f"Label Studio at {url} refused the token ({_detail(error)}): check LABEL_STUDIO_API_KEY "
                "(an access token from Label Studio's Account & Settings page)"
            ) from error
        if error.status_code == 404 and not isinstance(error.body, dict):
            raise LabelStudioError(
                f"{url} does not answer like a Label Studio server (HTTP 404): check LABEL_STUDIO_URL"
            ) from error
        raise LabelStudioError(f"Label Studio at {url} answered HTTP {error.status_code}: {_detail(error)}") from error


def _detail(error: Any) -> str:
    body = error.body
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("validation_errors") or body)
    return str(body)[:200]
