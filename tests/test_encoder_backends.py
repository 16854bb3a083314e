"""The torch-free encoder back-ends give sentence-transformers' vectors, without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from memory.encoders import BACKENDS, BackendName, load_backend
from nova.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[1]
EDGE_CASES = REPO / "evals" / "datasets" / "encoder_texts.json"

# Short and long, empty-ish, accented, non-Latin scripts, emoji, code, numbers, control
# characters, and texts past the 256-token limit (where truncation must match).
TEXTS: list[str] = json.loads(EDGE_CASES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return load_backend("torch", Path()).encode(TEXTS, 64)


@pytest.mark.slow
@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "torch"])
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_backend_matches_sentence_transformers(
    name: BackendName, batch_size: int, reference: np.ndarray, encoder_cache_dir: Path
) -> None:
    backend = load_backend(name, encoder_cache_dir)
    assert backend.name == name  # not the numpy fallback for a missing onnx package
    vectors = backend.encode(TEXTS, batch_size)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(np.abs(vectors - reference).max()) < 1e-5


def test_default_backend_never_imports_torch(encoder_cache_dir: Path, tmp_path: Path) -> None:
    load_backend("onnx", encoder_cache_dir)  # export beforehand (that step does import torch)
    script = textwrap.dedent(
        """
        import json, sys
        import memory.embeddings as embeddings
        heavy = ("torch", "sentence_transformers", "transformers")
        after_import = [m for m in heavy if m in sys.modules]
        vectors = embeddings.encode(["Which invoices are overdue?", "bonjour"])
        one = embeddings.encode_one("hello")
        print(json.dumps({
            "after_import": after_import,
            "after_encode": [m for m in heavy if m in sys.modules],
            "backend": embeddings.backend_name(),
            "shape": [list(vectors.shape), list(one.shape)],
        }))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NOVA_ENCODER_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "after_import": [],
        "after_encode": [],
        "backend": "onnx",
        "shape": [[2, 384], [384]],
    }


def test_backend_setting_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_ENCODER_BACKEND", " NumPy ")
    assert load_settings().encoder_backend == "numpy"
    monkeypatch.delenv("NOVA_ENCODER_BACKEND")
    assert load_settings().encoder_backend == "onnx"


def test_invalid_backend_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_ENCODER_BACKEND", "tensorflow")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert "NOVA_ENCODER_BACKEND" in message
    assert "'onnx', 'numpy' or 'torch'" in message
