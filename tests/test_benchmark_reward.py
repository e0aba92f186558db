"""The reward benchmark's verdict: from measured ratios only. The legs are scripted here (a real run trains MiniLM
four times or more, about a minute: the slow test below), so the repeat-until-agreed rule and "not measured" are
checked through `main` and its final JSON line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import reward


def _scripted(monkeypatch: pytest.MonkeyPatch, seconds: dict[str, list[float]], pairs: int = 80) -> None:
    """Each leg's runs take these seconds in turn; the store is not built."""
    turns: dict[str, Iterator[float]] = {name: iter(values) for name, values in seconds.items()}

    def in_child(fn: Any, *args: Any) -> tuple[dict[str, Any], float]:
        name = "bare" if fn is reward.bare_leg else "pipeline"
        took = next(turns[name])
        run = {"pairs": pairs, "seconds": took, "cpu_seconds": took}
        if name == "pipeline":
            run |= {"progress_seconds": 0.01, "end_to_end_seconds": took + 5, "accuracy": 0.9,
                    "accuracy_ci": [0.8, 0.95], "n_eval_pairs": 22, "dropped_pairs": 0}  # fmt: skip
        return run, 900.0

    monkeypatch.setattr(reward, "in_child", in_child)
    monkeypatch.setattr(
        reward, "build_store", lambda url, seeds: {"snapshot_id": 1, "path": "", "train": 80, "eval": 22, "left_out": 0}
    )


def _figures(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_runs_that_agree_give_a_measured_overhead(monkeypatch, capsys) -> None:
    _scripted(monkeypatch, {"bare": [10.0, 10.2], "pipeline": [10.4, 10.3]})
    reward.main([])
    figures = _figures(capsys)
    assert figures["runs_bare"] == figures["runs_pipeline"] == 2
    assert figures["overhead_measured"] and figures["overhead_ratio"] == pytest.approx(1.03, abs=0.001)
    assert figures["meets_target_overhead"] is True and figures["checks_ok"]


def test_runs_repeat_until_they_agree(monkeypatch, capsys) -> None:
    _scripted(monkeypatch, {"bare": [10.0, 14.0, 13.0, 10.3], "pipeline": [12.0, 15.0, 11.6, 11.4]})
    reward.main([])
    figures = _figures(capsys)
    assert figures["runs_bare"] == figures["runs_pipeline"] == 4
    assert figures["spread_bare"] <= 1.05 and figures["spread_pipeline"] <= 1.05
    assert figures["overhead_ratio"] == pytest.approx(11.4 / 10.0, abs=0.001)
    assert figures["meets_target_overhead"] is False


def test_runs_that_never_agree_are_not_measured_and_no_proxy_is_put_in(monkeypatch, capsys) -> None:
    _scripted(monkeypatch, {"bare": [10.0, 13.0, 16.0], "pipeline": [10.0, 12.0, 14.0]})
    reward.main(["--max-runs", "3"])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["runs_bare"] == 3 and not figures["overhead_measured"]
    assert figures["overhead_ratio"] is None and figures["meets_target_overhead"] is None
    assert "not measured" in output and not figures["meets_targets"]


def test_legs_on_different_pairs_fail_the_check(monkeypatch, capsys) -> None:
    _scripted(monkeypatch, {"bare": [10.0, 10.1], "pipeline": [10.0, 10.1]})
    real = reward.in_child

    def uneven(fn: Any, *args: Any) -> tuple[dict[str, Any], float]:
        run, peak = real(fn, *args)
        return (run | {"pairs": 79} if fn is reward.bare_leg else run), peak

    monkeypatch.setattr(reward, "in_child", uneven)
    with pytest.raises(SystemExit) as ended:
        reward.main([])
    assert ended.value.code == 1 and not _figures(capsys)["checks_ok"]


@pytest.mark.slow
def test_the_real_legs_train_on_the_same_pairs(capsys) -> None:
    reward.main(["--max-runs", "2", "--max-length", "128"])
    figures = _figures(capsys)
    assert figures["checks_ok"] and figures["runs_bare"] == 2 and figures["train_pairs"] > 0
    assert figures["overhead_measured"] == (figures["overhead_ratio"] is not None)
