"""The bundled registry and loading configs from disk."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmplan.errors import UsageError
from llmplan.model import registry as models
from llmplan.model.registry import list_models, load_model, registry_entry

REGISTRY = Path(models.__file__).parent.parent / "data" / "models"
MODEL_IDS = list_models()
TOLERANCE = 0.005  # computed totals must land within 0.5% of the published ones


def _published(model_id: str) -> tuple[int, int]:
    """(computed total comparable to the published figure, published figure)."""
    entry = registry_entry(model_id)
    arch = load_model(model_id)
    computed = arch.total_parameters
    if entry.get("published_parameters_counts_tied_lm_head"):
        # The checkpoint stores the tied output matrix a second time (Falcon); the model does not.
        computed += arch.embedding_parameters
    return computed, int(entry["published_parameters"])


WITH_PUBLISHED = [m for m in MODEL_IDS if registry_entry(m).get("published_parameters")]


@pytest.mark.parametrize("model_id", WITH_PUBLISHED)
def test_computed_total_matches_published(model_id: str) -> None:
    computed, published = _published(model_id)
    error = abs(computed - published) / published
    assert error <= TOLERANCE, f"{model_id}: computed {computed:,} vs published {published:,}"


@pytest.mark.parametrize(
    ("model_id", "published"),
    [
        ("meta-llama/Llama-3.1-8B", 8_030_261_248),
        ("meta-llama/Llama-3.1-70B", 70_553_706_496),
        ("mistralai/Mistral-7B-v0.3", 7_248_023_552),
        ("Qwen/Qwen2.5-7B-Instruct", 7_615_616_512),
    ],
)
def test_required_published_totals(model_id: str, published: int) -> None:
    assert registry_entry(model_id)["published_parameters"] == published
    assert load_model(model_id).total_parameters == published


REQUIRED = [
    "meta-llama/Llama-2-7b-hf",
    "meta-llama/Llama-2-13b-hf",
    "meta-llama/Llama-2-70b-hf",
    "meta-llama/Meta-Llama-3-8B",
    "meta-llama/Meta-Llama-3-70B",
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-70B",
    "meta-llama/Llama-3.1-405B",
    "meta-llama/Llama-3.2-1B",
    "meta-llama/Llama-3.2-3B",
    "meta-llama/Llama-3.3-70B-Instruct",
    "mistralai/Mistral-7B-v0.3",
    "mistralai/Mistral-Small-24B-Instruct-2501",
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
    "mistralai/Mixtral-8x7B-v0.1",
    "mistralai/Mixtral-8x22B-v0.1",
    "Qwen/Qwen2.5-7B",
    "Qwen/Qwen2.5-14B",
    "Qwen/Qwen2.5-32B",
    "Qwen/Qwen2.5-72B",
    "Qwen/Qwen3-8B",
    "Qwen/Qwen3-32B",
    "Qwen/Qwen3-30B-A3B",
    "Qwen/Qwen3-235B-A22B",
    "google/gemma-2-9b",
    "google/gemma-2-27b",
    "google/gemma-3-12b-it",
    "google/gemma-3-27b-it",
    "microsoft/Phi-3-mini-4k-instruct",
    "microsoft/phi-4",
    "deepseek-ai/DeepSeek-V2-Lite",
    "deepseek-ai/DeepSeek-V3",
    "deepseek-ai/DeepSeek-R1",
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "tiiuae/falcon-7b",
]


def test_registry_covers_the_required_models() -> None:
    assert len(MODEL_IDS) >= 32
    for ref in REQUIRED:
        assert registry_entry(ref)  # resolves by id or alias


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_registry_file_is_well_formed(model_id: str) -> None:
    entry = registry_entry(model_id)
    org, name = model_id.split("/")
    assert (REGISTRY / f"{org}__{name}.json").is_file()
    assert entry["source"] == f"https://huggingface.co/{model_id}/blob/main/config.json"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["as_of"])
    assert isinstance(entry["aliases"], list)
    if entry["published_parameters"] is not None:
        assert entry["published_parameters_source"].strip()
    config = entry["config"]
    assert config["model_type"] and config["architectures"]


def test_aliases_are_unique_and_never_shadow_ids() -> None:
    ids = {m.lower() for m in MODEL_IDS}
    seen: set[str] = set()
    for model_id in MODEL_IDS:
        for alias in registry_entry(model_id)["aliases"]:
            assert alias.lower() not in ids, alias
            assert alias.lower() not in seen, alias
            seen.add(alias.lower())


def test_list_models_is_sorted_ids() -> None:
    assert sorted(MODEL_IDS, key=str.lower) == MODEL_IDS
    assert "meta-llama/Llama-3.1-8B" in MODEL_IDS
    assert "meta-llama/Llama-3.1-8B-Instruct" not in MODEL_IDS  # an alias, not a second entry


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
        ("META-LLAMA/llama-3.1-8b", "meta-llama/Llama-3.1-8B"),
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B"),
        ("qwen/qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct"),
        ("  openai/gpt-oss-20b ", "openai/gpt-oss-20b"),
    ],
)
def test_load_by_id_or_alias_any_case(ref: str, expected: str) -> None:
    assert load_model(ref).model_id == expected


def test_loading_an_id_reads_only_its_own_file() -> None:
    models._entry.cache_clear()
    models._alias_index.cache_clear()
    load_model("mistralai/Mixtral-8x7B-v0.1")
    assert models._entry.cache_info().currsize == 1


def test_unknown_id_suggests_the_closest() -> None:
    with pytest.raises(UsageError) as caught:
        load_model("meta-llama/Llama-3.1-7B")
    message = str(caught.value)
    assert message.startswith("unknown model 'meta-llama/Llama-3.1-7B' (did you mean ")
    assert "meta-llama/Llama-3.1-8B" in message and message.endswith("?)")


def test_unknown_id_without_a_close_match() -> None:
    with pytest.raises(UsageError, match="unknown model 'zzzz/qqqq-9000'"):
        load_model("zzzz/qqqq-9000")


def test_empty_reference() -> None:
    with pytest.raises(UsageError, match="model: must name a model id"):
        load_model(" ")


def _write_config(folder: Path, config: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_load_from_a_config_json_path_and_its_folder(tmp_path: Path) -> None:
    # Any Hugging Face model works from disk: reuse a bundled config under another name.
    config = registry_entry("Qwen/Qwen3-8B")["config"]
    path = _write_config(tmp_path / "my-finetune", config)
    by_file = load_model(str(path))
    by_folder = load_model(str(path.parent))
    assert by_file.total_parameters == by_folder.total_parameters == 8_190_735_360
    assert by_file.model_id == "my-finetune"
    assert by_file.source == str(path)
    assert by_file.published_parameters is None


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no config.json in this folder"):
        load_model(str(tmp_path))


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"hidden_size": 4096,', encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_model(str(path))
    assert str(caught.value).startswith(f"{path}: not valid JSON (")


def test_config_that_is_not_an_object(tmp_path: Path) -> None:
    path = _write_config(tmp_path, [1, 2, 3])
    with pytest.raises(UsageError, match="must hold a JSON object"):
        load_model(str(path))


def test_config_with_a_bad_field_names_field_and_file(tmp_path: Path) -> None:
    config = dict(registry_entry("Qwen/Qwen3-8B")["config"], num_hidden_layers="many")
    path = _write_config(tmp_path, config)
    with pytest.raises(UsageError) as caught:
        load_model(str(path))
    assert str(caught.value) == (
        f"{path}: num_hidden_layers: must be a positive integer (got 'many')"
    )


def test_an_alias_is_served_as_itself_not_as_the_base_model() -> None:
    from llmplan.model.registry import served_model_id

    # The -Instruct variant shares the base model's architecture record but is a different
    # checkpoint: the engine must load what the user named, in the registry's spelling.
    assert served_model_id("meta-llama/llama-3.1-70b-instruct") == (
        "meta-llama/Llama-3.1-70B-Instruct")
    assert served_model_id("meta-llama/Llama-3.1-70B") == "meta-llama/Llama-3.1-70B"
    assert served_model_id("someone/unlisted-model") == "someone/unlisted-model"
