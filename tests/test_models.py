import pytest

from nova.catalog import load_catalog
from nova.concurrency import LimitedChatModel
from nova.models import HOW_TO_CONFIGURE, ModelUnavailable, build_chat_model
from nova.settings import load_settings


def test_no_model_configured_is_a_typed_state() -> None:
    spec = load_catalog()["general_chat"]
    result = build_chat_model(spec, settings=load_settings())
    assert isinstance(result, ModelUnavailable)
    assert "no model endpoint is configured" in result.message
    assert HOW_TO_CONFIGURE in result.message


def test_endpoint_without_model_name_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_MODEL_BASE_URL", "http://127.0.0.1:8080/v1")
    result = build_chat_model(load_catalog()["general_chat"], settings=load_settings())
    assert isinstance(result, ModelUnavailable)
    assert "NOVA_MODEL_NAME" in result.message


def _client(result: object) -> object:
    assert isinstance(result, LimitedChatModel), result
    return result.inner


@pytest.mark.allow_model_client
def test_openai_compatible_endpoint_and_override_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_openai import ChatOpenAI

    monkeypatch.setenv("NOVA_MODEL_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("NOVA_MODEL_NAME", "qwen2.5")
    spec = load_catalog()["translator"]
    settings = load_settings()
    limited = build_chat_model(spec, settings=settings)
    model = _client(limited)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "qwen2.5"
    assert limited.limit_key == "qwen2.5"  # type: ignore[union-attr]
    assert str(model.openai_api_base).startswith("http://127.0.0.1:8080/v1")
    assert model.temperature == spec.model.temperature

    catalog_choice = spec.model_copy(
        update={"model": spec.model.model_copy(update={"name": "m-cat"})}
    )
    assert _client(build_chat_model(catalog_choice, settings=settings)).model_name == "m-cat"  # type: ignore[attr-defined]
    run_choice = build_chat_model(catalog_choice, "m-run", settings=settings)
    assert _client(run_choice).model_name == "m-run"  # type: ignore[attr-defined]
    monkeypatch.setenv("NOVA_MODEL_OVERRIDE", "m-forced")
    forced = load_settings()
    assert _client(build_chat_model(catalog_choice, settings=forced)).model_name == "m-forced"  # type: ignore[attr-defined]


@pytest.mark.allow_model_client
def test_call_budget_covers_the_clients_own_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from nova.models import model_call_budget_s
    from nova.testing import ScriptedChatModel

    monkeypatch.setenv("NOVA_MODEL_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("NOVA_MODEL_NAME", "qwen2.5")
    monkeypatch.setenv("NOVA_MODEL_TIMEOUT_S", "5")
    monkeypatch.setenv("NOVA_MODEL_MAX_RETRIES", "2")
    settings = load_settings()
    model = build_chat_model(load_catalog()["general_chat"], settings=settings)
    assert _client(model).max_retries == 2  # type: ignore[attr-defined]
    assert model_call_budget_s(model, settings) == 5 * 3 + 10 * 2  # type: ignore[arg-type]
    assert model_call_budget_s(ScriptedChatModel(), settings) == 5  # no client retries


@pytest.mark.allow_model_client
def test_default_factory_builds_each_model_once_per_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nova.concurrency import reset_default_limiter
    from nova.models import default_model_factory
    from nova.settings import get_settings

    monkeypatch.setenv("NOVA_MODEL_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("NOVA_MODEL_NAME", "qwen2.5")
    get_settings.cache_clear()
    reset_default_limiter()
    catalog = load_catalog()
    first = default_model_factory(catalog["translator"], None)
    assert default_model_factory(catalog["translator"], None) is first  # reused, not rebuilt
    assert default_model_factory(catalog["general_chat"], None) is not first
    other_model = default_model_factory(catalog["translator"], "m-run")
    assert _client(other_model).model_name == "m-run"  # type: ignore[attr-defined]

    # Changed settings (and a fresh limiter) build anew, with the new values.
    monkeypatch.setenv("NOVA_MODEL_NAME", "llama3.1")
    get_settings.cache_clear()
    rebuilt = default_model_factory(catalog["translator"], None)
    assert rebuilt is not first and _client(rebuilt).model_name == "llama3.1"  # type: ignore[attr-defined]
    reset_default_limiter()
    assert default_model_factory(catalog["translator"], None) is not rebuilt
