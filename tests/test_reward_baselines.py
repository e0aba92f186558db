"""Reward models checked against style: "pick the longer answer" and a bag-of-words classifier on the same held-out
pairs, the model's accuracy where they are wrong, and where these figures appear (card, `reward runs`, compare)."""

from __future__ import annotations

from core.cli.main import main
from core.reward.baselines import against_baselines, bag_of_words, beats_baselines, longer_answer
from core.reward.card import model_card
from core.reward.registry import compare_runs
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, RewardModelRun
from tests.app_helpers import add_admin


def pair(chosen: str, rejected: str) -> dict:
    return {"chosen_text": chosen, "rejected_text": rejected, "topic": "VAT", "source": "app"}


def test_the_longer_answer_baseline_counts_a_tie_in_length_as_wrong():
    pairs = [pair("a long right answer", "short"), pair("short", "a long wrong answer"), pair("same", "sAme")]
    assert longer_answer(pairs) == [True, False, False]


def test_bag_of_words_learns_the_words_that_go_with_the_chosen_answer_whichever_comes_first():
    train = [pair(f"the rate is {n} percent under the rule", f"it depends on your situation {n}") for n in range(20)]
    held_out = [pair("the rate is 7 percent under the rule", "it depends on your situation, really")]
    assert bag_of_words(train, held_out) == [True]
    flipped = [pair(p["rejected_text"], p["chosen_text"]) for p in held_out]
    assert bag_of_words(train, flipped) == [False]  # the same score difference, the other way round
    assert bag_of_words([], held_out) == [False]


def test_against_baselines_gives_the_models_accuracy_where_each_baseline_is_wrong():
    train = [pair(f"figure {n} and the rule", f"vague words {n}") for n in range(10)]
    held_out = [
        pair("figure and the rule, with more words", "vague"),  # longer right, words right
        pair("figure and the rule", "vague words that run on and on"),  # longer wrong, words right
        pair("vague words here", "figure and the rule"),  # what the reviewers chose is the vague one: words wrong
    ]
    found = against_baselines(train, held_out, model_right=[True, True, False])
    assert found["baselines"]["longer_answer"]["correct"] == 1 and found["baselines"]["longer_answer"]["n"] == 3
    assert found["baselines"]["bag_of_words"]["correct"] == 2
    assert found["where_baselines_wrong"]["longer_answer"] == {"accuracy": 0.5, "ci": [0.0945, 0.9055], "n": 2,
                                                               "correct": 1}  # fmt: skip
    assert found["where_baselines_wrong"]["bag_of_words"]["n"] == 1
    assert found["where_baselines_wrong"]["bag_of_words"]["correct"] == 0


METRICS = {
    "accuracy": 0.9,
    "accuracy_ci": [0.8, 0.95],
    "n_eval_pairs": 40,
    "by_topic": {},
    "baselines": {
        "longer_answer": {"accuracy": 0.5, "ci": [0.35, 0.65], "n": 40, "correct": 20},
        "bag_of_words": {"accuracy": 0.7, "ci": [0.55, 0.82], "n": 40, "correct": 28},
    },
    "where_baselines_wrong": {
        "longer_answer": {"accuracy": 0.85, "ci": [0.64, 0.95], "n": 20, "correct": 17},
        "bag_of_words": {"accuracy": 0.75, "ci": [0.47, 0.91], "n": 12, "correct": 9},
    },
}


def test_the_model_beats_the_baselines_with_a_higher_accuracy_and_a_higher_lower_bound():
    assert beats_baselines(METRICS)
    assert not beats_baselines(METRICS | {"accuracy_ci": [0.54, 0.95]})  # under bag of words' 0.55
    assert not beats_baselines(METRICS | {"accuracy": 0.69})
    assert not beats_baselines({"accuracy_ci": [0.8, 0.9]})  # not measured: no claim


def test_the_model_card_lists_both_baselines_and_the_verdict():
    card = model_card(run_id=3, snapshot={"id": 1, "content_hash": "f" * 64, "path": "/s"}, base_model="m",
                      params={"max_length": 64}, metrics=METRICS)  # fmt: skip
    assert "- pick the longer answer: 50.0% (95% CI 35.0%-65.0%); the model is right on 85.0% of the 20 pairs" in card
    assert "- bag-of-words classifier: 70.0% (95% CI 55.0%-82.0%)" in card
    assert "The model beats both baselines (a higher accuracy, and the lower bound of its 95% interval above" in card


def test_reward_runs_and_compare_show_the_baselines(engine, capsys):
    add_admin(engine)
    with session_scope(engine, write=True) as session:
        snapshot = DatasetSnapshot(kind="reward-pairs", content_hash="f" * 64, row_count=10, path="/nowhere")
        session.add(snapshot)
        session.flush()
        run = RewardModelRun(snapshot_id=snapshot.id, base_model="m", params={"max_length": 64}, metrics=METRICS,
                             status="done")  # fmt: skip
        session.add(run)
        session.flush()
        run_id = run.id
    assert main(["reward", "runs"]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    assert "longer" in header and "words" in header
    assert "50.0%" in line and "70.0%" in line
    rows = {row["figure"]: row[f"run {run_id}"] for row in compare_runs(engine, [run_id])}
    assert rows["baseline: pick the longer answer"] == "50.0% of 40"
    assert rows["right where bag-of-words classifier is wrong"] == "75.0% of 12"
