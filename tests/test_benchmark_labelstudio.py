"""The Label Studio files benchmark at a tiny scale: without --server it measures only our side and prints no peer
figure; with --server (slow: it starts the real Label Studio) the peer is measured in the same run."""

from __future__ import annotations

import json

import pytest

from benchmarks import labelstudio
from tests.labelstudio_server import Unavailable, install
from tests.required import unavailable


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, dict]:
    labelstudio.main(argv)
    output = capsys.readouterr().out
    return output, json.loads(output.strip().splitlines()[-1])


def test_without_a_server_no_peer_figure_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    output, figures = _run(["--scale", "300"], capsys)
    assert figures["checks_ok"] and not figures["peer_measured"]
    assert figures["sqlite_tasks"] == figures["sqlite_import_file_tasks"] == 300
    assert figures["sqlite_labels"] == figures["annotations"] > 0 and figures["sqlite_again_added"] == 0
    assert not any(key.startswith("peer_") and key != "peer_measured" for key in figures)
    assert "Label Studio 1.23.2" not in output and "6,000" not in output


@pytest.mark.slow
def test_with_the_server_label_studio_is_measured_beside_us(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        install(print)
    except Unavailable as error:
        unavailable("LABEL_STUDIO", str(error))
    output, figures = _run(["--scale", "300", "--server"], capsys)
    assert figures["checks_ok"] and figures["peer_measured"]
    assert figures["peer_import_tasks_created"] == figures["peer_export_tasks"] == 300
    assert figures["peer_import_tasks_per_s"] > 0 and figures["peer_export_tasks_per_s"] > 0
    assert "Label Studio 1.23.2, measured in this run" in output
