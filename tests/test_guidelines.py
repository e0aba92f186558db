"""The guidelines the review pages show exist and cover every rubric dimension and flag."""

from core.review.guidelines import guidelines, rubric
from core.store.models import FLAGS, RUBRIC


def test_every_dimension_has_a_question_and_five_anchors():
    for dimension in RUBRIC:
        assert rubric()[dimension]["question"].endswith("?")
        assert sorted(rubric()[dimension]["anchors"]) == ["1", "2", "3", "4", "5"]


def test_every_flag_is_described_and_both_queues_have_guidelines():
    assert sorted(rubric()["flags"]) == sorted(FLAGS)
    assert "rationale" in guidelines("rating") and "Tie" in guidelines("comparison")
