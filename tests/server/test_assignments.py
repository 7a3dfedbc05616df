import pytest
import typer

from locvlm.assignments import parse_assignments


@pytest.mark.parametrize(
    ("item", "want"),
    [
        ("stage2.steps=200", {"stage2.steps": 200}),  # JSON number
        ('codec={"name": "nfp"}', {"codec": {"name": "nfp"}}),  # JSON object
        ("note=hello world", {"note": "hello world"}),  # not JSON: kept as text
        ("empty=", {"empty": ""}),  # empty value
        ("a=b=c", {"a": "b=c"}),  # only the first "=" splits
    ],
)
def test_assignments(item: str, want: dict[str, object]) -> None:
    assert parse_assignments([item], "--set") == want


def test_an_item_without_equals_names_its_option() -> None:
    with pytest.raises(typer.BadParameter, match="KEY=VALUE") as raised:
        parse_assignments(["steps"], "--param")
    assert raised.value.param_hint == "--param"
