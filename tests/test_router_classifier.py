"""The router's classifier: fitting, calibration, thresholds, cache and refit on change."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from router_fixtures import write_routable_catalog, write_router_config

from evals.synthetic_catalog import held_out_requests, synthetic_agents, write_catalog
from nodes.router import Router, UnknownAgentError
from nodes.routing.cache import load_or_fit
from nodes.routing.config import RouterConfigError, load_router_config
from nodes.routing.text import instruction_text, positive_description
from nova.catalog import RoutableAgent, load_specs


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("routable")
    folder = write_routable_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    return folder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("router-cache")


@pytest.fixture(scope="module")
def router(catalog_dir: Path, cache_dir: Path) -> Router:
    return Router.from_catalog(catalog_dir, cache_dir=cache_dir)


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Which invoices of Baker & Sons are still unpaid?", "erp_invoices"),
        ("Translate 'the parcel left today' into Italian", "translator"),
        ("Please time-block my Thursday", "daily_planner"),
        ("Tell me something funny", "general_chat"),
    ],
)
def test_routes_in_scope_requests(router: Router, text: str, agent: str) -> None:
    decision = router.route(text)
    assert decision["candidates"][0]["agent"] == agent
    assert decision["method"] == "semantic"
    assert decision["agent"] == agent


def test_decision_carries_calibrated_top_k_and_versions(router: Router) -> None:
    decision = router.route("Is invoice 10482 paid?")
    scores = [c["score"] for c in decision["candidates"]]
    assert len(scores) == router.config.top_k == 3
    assert scores == sorted(scores, reverse=True)
    assert 0.0 <= sum(scores) <= 1.0 + 1e-3
    assert decision["confidence"] == pytest.approx(scores[0], abs=1e-4)
    assert decision["margin"] == pytest.approx(scores[0] - scores[1], abs=1e-3)
    assert decision["catalog_version"] == router.catalog_version
    assert decision["router_version"] == router.version
    assert router.version.startswith("nova-ridge/")
    assert decision["latency_ms"] > 0
    assert "nearest example" in decision["reason"]


def test_out_of_scope_request_abstains(router: Router) -> None:
    decision = router.route("Order two pizzas and a taxi to the cinema")
    assert decision["method"] == "clarify"
    assert decision["agent"] is None
    assert decision["reason"].startswith("out of scope")


def test_thresholds_are_fitted_on_validation_and_cached(router: Router, cache_dir: Path) -> None:
    report = router.fitted.validation
    assert report.folds == 3
    assert report.examples == 40
    assert report.out_of_scope_examples == 8
    assert report.pseudo_out_of_scope == 40  # every agent held out once
    assert report.in_scope_abstain <= router.config.max_in_scope_abstain + 1e-9
    assert report.temperature > 0
    cached = pickle.loads((cache_dir / f"router-{router.fitted.key}.pkl").read_bytes())
    assert cached.thresholds == router.thresholds
    assert cached.validation == report


def test_route_batch_matches_single_routes(router: Router) -> None:
    texts = ["Show me invoice 5510", "Plan my Friday", "book a hotel in Rome", "hello there"]
    batch = router.route_batch(texts)
    for text, decision in zip(texts, batch, strict=True):
        single = router.route(text)
        assert decision["agent"] == single["agent"]
        assert decision["method"] == single["method"]
        # The int8 encoder quantises activations per batch: scores move a little with the
        # batch a request is in (measured up to ~0.01), decisions did not.
        assert decision["confidence"] == pytest.approx(single["confidence"], abs=0.03)


def test_empty_request_is_refused(router: Router) -> None:
    with pytest.raises(ValueError, match="empty request"):
        router.route("   ")


def test_tfidf_features_equal_sklearn_transform() -> None:
    """The cached router scores TF-IDF without scikit-learn: same numbers as its transform."""
    import json

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    from nodes.tfidf import TfidfFeatures

    requests = [
        json.loads(line)["text"]
        for line in (Path(__file__).parents[1] / "evals/datasets/routing.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    union = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    ).fit(requests[::2])
    features = TfidfFeatures.from_sklearn(union)
    coef_t = np.random.default_rng(0).normal(size=(features.size, 7))
    texts = [*requests[1::2], "Show me invoice INV-77!", "Übersetze  ins\tFranzösische", "a", ""]
    expected = np.asarray(union.transform(texts) @ coef_t)
    np.testing.assert_allclose(features.project(texts, coef_t), expected, atol=1e-4)


def test_cached_router_loads_without_sklearn(router: Router, cache_dir: Path) -> None:
    """Loading a fitted router from its cache and routing imports no scikit-learn or SciPy."""
    import subprocess
    import sys

    script = (
        "import sys, pickle\n"
        f"fitted = pickle.load(open({str(next(cache_dir.glob('router-*.pkl')))!r}, 'rb'))\n"
        "from nodes.routing.model import LexicalScorer\n"
        "LexicalScorer(fitted).scores('show me invoice INV-1')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cache_written_before_the_routing_package_loads_without_refitting(
    router: Router, catalog_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """A cached fit naming its classes ``nodes.routing_model.*`` (before the split) is read."""
    key = router.fitted.key
    current = (cache_dir / f"router-{key}.pkl").read_bytes()
    assert b"nodes.routing.model" in current
    # Same length, so the pickle's length-prefixed strings stay valid.
    (tmp_path / f"router-{key}.pkl").write_bytes(
        current.replace(b"nodes.routing.model", b"nodes.routing_model")
    )
    agents = list(load_specs(catalog_dir, RoutableAgent))
    config = load_router_config(catalog_dir.parent / "router.yaml")
    fitted, fitted_now = load_or_fit(agents, config, cache_dir=tmp_path)
    assert not fitted_now
    assert fitted.validation == router.fitted.validation


def test_cache_is_reused_and_a_catalog_change_refits(tmp_path: Path) -> None:
    folder = write_routable_catalog(tmp_path / "agents", examples=6)
    cache = tmp_path / "cache"
    config = load_router_config(None)
    agents = list(load_specs(folder, RoutableAgent))

    first, fitted_now = load_or_fit(agents, config, cache_dir=cache)
    assert fitted_now
    again, fitted_now = load_or_fit(agents, config, cache_dir=cache)
    assert not fitted_now
    assert again.key == first.key

    path = folder / "translator.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "- Render this menu in Portuguese\n", encoding="utf-8"
    )
    changed = list(load_specs(folder, RoutableAgent))
    refit, fitted_now = load_or_fit(changed, config, cache_dir=cache)
    assert fitted_now
    assert refit.key != first.key
    assert "Render this menu in Portuguese" in refit.example_texts
    assert len(list(cache.glob("router-*.pkl"))) == 2
    # The Router's version follows the fitted state.
    assert Router.from_catalog(folder, cache_dir=cache).version.endswith(refit.key[:10])


def test_unreadable_cache_is_refitted(tmp_path: Path) -> None:
    folder = write_routable_catalog(tmp_path / "agents", examples=6)
    agents = list(load_specs(folder, RoutableAgent))
    config = load_router_config(None)
    fitted, _ = load_or_fit(agents, config, cache_dir=tmp_path)
    (tmp_path / f"router-{fitted.key}.pkl").write_bytes(b"not a pickle")
    again, fitted_now = load_or_fit(agents, config, cache_dir=tmp_path)
    assert fitted_now and again.key == fitted.key


def test_payload_is_masked_for_the_embedding() -> None:
    assert instruction_text("Translate 'I'd like two' to German") == "Translate «text» to German"
    assert instruction_text("Any bugs in `def f(): pass`?") == "Any bugs in code ?"
    assert instruction_text("Open https://example.com/a-b and list prices") == (
        "Open link and list prices"
    )
    assert instruction_text("What's the plan for today?") == "What's the plan for today?"
    assert positive_description("Does A and B. It does not do C.") == "Does A and B."


def test_generic_catalog_with_only_name_description_examples(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "returns.yaml").write_text(
        "name: returns\ndescription: Handles product returns and refunds.\n"
        "examples: [I want to return my shoes, How do I get a refund, Return label please]\n"
    )
    (folder / "sizes.yaml").write_text(
        "name: sizes\ndescription: Answers questions about clothing sizes.\n"
        "examples: [Which size fits me, Is this shirt true to size, Size chart for jeans]\n"
    )
    router = Router.from_catalog(folder, cache_dir=tmp_path / "cache")
    assert router.agents == ["returns", "sizes"]
    assert router.route("can I send these boots back for a refund?")["candidates"][0]["agent"] == (
        "returns"
    )
    assert router.subgraph_of("returns") is None  # plain routable files have no group


def test_synthetic_catalog_fits_with_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = synthetic_agents(12, 12)
    folder = write_catalog(tmp_path / "agents", agents)
    router = Router.from_catalog(folder, cache_dir=tmp_path / "cache", progress=True)
    assert "Encoding examples" in capsys.readouterr().err
    cases = held_out_requests(agents, per_agent=3)
    decisions = router.route_batch([text for text, _ in cases])
    top1 = np.mean(
        [d["candidates"][0]["agent"] == a for d, (_, a) in zip(decisions, cases, strict=True)]
    )
    assert top1 >= 0.8


def test_a_single_agent_cannot_be_routed(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "solo.yaml").write_text(
        "name: solo\ndescription: The only agent there is.\nexamples: [do the thing]\n"
    )
    with pytest.raises(ValueError, match="at least two agents"):
        Router.from_catalog(folder, cache_dir=tmp_path / "cache")


def test_bad_router_config_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "router.yaml"
    bad.write_text("abstain_action: shrug\ntop_k: 1\n")
    with pytest.raises(
        RouterConfigError, match=r"abstain_action.*\n?.*top_k|top_k.*abstain_action"
    ):
        load_router_config(bad)
    bad.write_text("top_k: [\n")
    with pytest.raises(RouterConfigError, match="not valid YAML"):
        load_router_config(bad)


def test_fallback_needs_the_fallback_agent(tmp_path: Path, cache_dir: Path) -> None:
    folder = write_routable_catalog(tmp_path / "agents", examples=6)
    config = write_router_config(
        tmp_path / "router.yaml", abstain_action="fallback", fallback_agent="concierge"
    )
    with pytest.raises(UnknownAgentError, match="concierge"):
        Router.from_catalog(folder, cache_dir=cache_dir, config=config)
