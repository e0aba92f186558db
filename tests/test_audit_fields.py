"""The audit trail's Before and After as a lead reads them."""

from app.audit_fields import readable_change


def test_a_change_shows_only_the_fields_that_changed():
    before = {"helpfulness": 4, "accuracy": 4, "flags": [], "rationale": ""}
    after = {"helpfulness": 4, "accuracy": 1, "flags": ["incorrect", "unsafe"], "rationale": "Wrong rate."}
    assert readable_change(before, after) == (
        "accuracy: 4 · flags: – · rationale: –",
        "accuracy: 1 · flags: incorrect, unsafe · rationale: Wrong rate.",
    )


def test_a_creation_shows_every_field_and_a_comparison_the_side_chosen():
    after = {"choice": "a", "preferred": "right", "strength": None, "left_response_id": 8}
    assert readable_change(None, after) == ("", "choice: a · left response id: 8 · preferred: right · strength: –")
