"""One summary of an artefact's serialization from sniffing, for every source that sniffs."""

from __future__ import annotations

from scanner.artefacts.integrity import SniffedFile, serialization_summary
from scanner.inventory import Unknown


def test_formats_are_sorted_and_a_pickle_makes_it_pickle_based():
    summary = serialization_summary(
        [
            SniffedFile("weights.pt", "pytorch-pickle", True),
            SniffedFile("config.json", None, False),
            SniffedFile("model.safetensors", "safetensors", False),
        ]
    )
    assert summary == {"formats": ["pytorch-pickle", "safetensors"], "pickle_based": True}


def test_an_undetermined_format_is_unknown_naming_the_first_file_by_path():
    summary = serialization_summary(
        [
            SniffedFile("z.bin", Unknown("cannot read: AccessDenied"), False),
            SniffedFile("model.safetensors", "safetensors", False),
            SniffedFile("a.pt", Unknown("empty file"), False),
        ]
    )
    reason = summary["pickle_based"]
    assert isinstance(reason, Unknown)
    assert reason.reason == "format of a.pt and 1 more could not be determined (empty file)"
    # The known formats are not the list of formats: Unknown, never a list that looks whole.
    assert summary["formats"] == reason


def test_a_known_pickle_outweighs_an_undetermined_file():
    summary = serialization_summary(
        [SniffedFile("a.bin", Unknown("denied"), False), SniffedFile("b.pkl", "pickle", True)]
    )
    assert summary["pickle_based"] is True


def test_no_model_format_at_all_is_not_pickle_based():
    assert serialization_summary([SniffedFile("README.md", None, False)]) == {
        "formats": [],
        "pickle_based": False,
    }
