"""The router's settings: ``RouterConfig`` and reading ``router.yaml`` beside a catalog.

Kept apart from fitting and scoring: the CLI, ``nova improve`` and the router read the
settings without needing numpy or the fitting code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nova.yamlio import load_yaml

ROUTER_CONFIG_FILE = "router.yaml"


class RouterConfigError(ValueError):
    """The router config file (``router.yaml``) is invalid; the message says how to fix it."""


class RouterConfig(BaseModel):
    """Catalog-level router settings, read from ``router.yaml`` beside the agents folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    abstain_action: Literal["clarify", "fallback"] = "clarify"
    """What to do when unsure and no model can break the tie: ask the user, or hand the
    request to ``fallback_agent``."""
    fallback_agent: str = "general_chat"
    """Agent that takes requests the router hands over (``abstain_action: fallback``) and
    whose model breaks ties."""
    memory_agents: tuple[str, ...] = ()
    """Agents whose job is to answer from what memory holds (not to draft, plan or look
    elsewhere). A question that a strong recalled memory answers better than the
    classifier's pick goes to the one of these the classifier ranks highest (method
    ``memory``, ``nodes.route_context``); empty: any agent with the ``memory_search`` tool,
    then ``fallback_agent``."""
    top_k: int = Field(default=3, ge=2, le=10)
    """Candidates returned with each decision (and offered to the tie-break model)."""
    use_model: bool = True
    """Ask a model to choose among the top-k when unsure (if one is configured)."""
    max_in_scope_abstain: float = Field(default=0.04, ge=0.0, le=0.5)
    """Most in-scope validation requests the fitted thresholds may abstain on."""
    validation_folds: int = Field(default=5, ge=2, le=10)
    """Folds of the validation split the thresholds and calibration are fitted on."""
    embedding_weight: float = Field(default=1.0, gt=0.0)
    """Weight of the MiniLM embedding against the TF-IDF features."""
    encoder: Literal["minilm", "minilm-int8"] = "minilm-int8"
    """The bundled MiniLM as shipped (fp32) or dynamically quantised to int8: the same
    routing accuracy here (``python -m evals.router_table --int8``) for ~2.5x less CPU
    when fitting large catalogs and ~40% less per request."""
    classifier: Literal["ridge", "logreg", "svm", "centroid"] = "ridge"
    """The linear model on the embedding: closed-form ridge regression (default: fits in
    milliseconds per validation fold), logistic regression, the joint embedding + TF-IDF
    linear SVM of earlier versions, or nearest class centroid."""
    ridge_alpha: float = Field(default=1.0, gt=0.0)
    """Regularisation of the ridge model (larger smooths more)."""
    text_weight: float | None = Field(default=None, ge=0.0)
    """Weight of the TF-IDF naive Bayes scores added to the embedding model's scores; by
    default fitted on the validation folds (not used by ``svm``, which learns its TF-IDF
    weights jointly)."""
    nb_alpha: float = Field(default=0.03, gt=0.0)
    """Smoothing of the TF-IDF multinomial naive Bayes model."""
    logreg_c: float = Field(default=10.0, gt=0.0)
    """Inverse regularisation of ``logreg``."""
    svm_c: float = Field(default=0.5, gt=0.0)
    """Regularisation of the linear SVM (larger fits the examples more closely)."""
    near_duplicate_similarity: float = Field(default=0.9, gt=0.0, le=1.0)
    """Examples of one agent at least this similar (cosine) are kept in one validation fold:
    a held-out example whose near-twin was trained on scores like a seen one, and thresholds
    fitted on such scores abstain more on new requests than they did in validation."""
    max_word_features: int = Field(default=40_000, ge=1_000)
    """Vocabulary cap for word n-grams (keeps large catalogs' fitted state small)."""
    max_char_features: int = Field(default=60_000, ge=1_000)
    """Vocabulary cap for character n-grams."""
    out_of_scope_examples: tuple[str, ...] = ()
    """Requests no agent in the catalog handles; they teach the router to abstain."""

    @property
    def quantized(self) -> bool:
        """Whether the router embeds with the int8 encoder."""
        return self.encoder == "minilm-int8"

    @field_validator("out_of_scope_examples")
    @classmethod
    def _clean(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(text.strip() for text in value if text.strip()))
        return cleaned

    def fit_fields(self) -> dict[str, object]:
        """Return the settings that change the fitted state (and so the cache key)."""
        return self.model_dump(
            mode="json",
            include={
                "max_in_scope_abstain",
                "validation_folds",
                "embedding_weight",
                "encoder",
                "classifier",
                "ridge_alpha",
                "text_weight",
                "nb_alpha",
                "logreg_c",
                "svm_c",
                "near_duplicate_similarity",
                "max_word_features",
                "max_char_features",
                "out_of_scope_examples",
            },
        )


def config_path_for(catalog_dir: Path) -> Path:
    """Return where the router config of the catalog in ``catalog_dir`` lives."""
    return Path(catalog_dir).resolve().parent / ROUTER_CONFIG_FILE


def load_router_config(path: Path | str | None) -> RouterConfig:
    """Read a router config file; ``None`` or a missing default file gives the defaults.

    Raises:
        RouterConfigError: the file is not valid YAML or has bad fields (each is named).

    """
    if path is None:
        return RouterConfig()
    path = Path(path)
    if not path.is_file():
        return RouterConfig()
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise RouterConfigError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise RouterConfigError(f"{path}: expected a mapping of router settings")
    try:
        return RouterConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(file)'}: {item['msg']}"
            for item in error.errors()
        )
        raise RouterConfigError(f"{path}: {problems}") from None
