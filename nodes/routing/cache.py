"""The fitted-router cache: where fits are kept, and loading one or fitting it on a miss.

The fitting code (``nodes.routing.fit``, with its imports) is loaded only on a miss, so a
cold start with a cached router does not pay for it.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from nodes.routing.config import RouterConfig
from nodes.routing.model import FittedRouter, routing_key
from nova.catalog import RoutableAgent

log = logging.getLogger(__name__)

# Caches written before the router's code moved into this package name their classes
# under ``nodes.routing_model``. They hold the same fit under the same key, so they are
# read with the classes' new home instead of being refitted.
_MOVED_MODULES = {"nodes.routing_model": "nodes.routing.model"}


class _CacheUnpickler(pickle.Unpickler):
    """Reads a cached fit, finding classes that moved since it was written."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED_MODULES.get(module, module), name)


def _read_cached(file: IO[bytes]) -> object:
    return _CacheUnpickler(file).load()


def default_cache_dir() -> Path:
    """Return the router cache folder: ``NOVA_ROUTER_CACHE_DIR``, else ``<data_dir>/router``."""
    from nova.settings import get_settings

    settings = get_settings()
    return settings.router_cache_dir or settings.data_dir / "router"


def load_or_fit(
    agents: Sequence[RoutableAgent],
    config: RouterConfig,
    *,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> tuple[FittedRouter, bool]:
    """Return the cached fit for this catalog and config, fitting (and caching) it if needed.

    Returns:
        The fitted router, and whether it was fitted now (``False`` when read from cache).

    """
    key = routing_key(agents, config)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    # Plain pickle (numpy arrays, dicts, Nova's dataclasses; no scikit-learn objects): it
    # loads in milliseconds where joblib's compressed format took a tenth of a second.
    path = folder / f"router-{key}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as file:
                fitted = _read_cached(file)  # Nova's own cache in the user's data dir
            if isinstance(fitted, FittedRouter) and fitted.key == key:
                return fitted, False
            log.warning("Router cache %s holds another fit; refitting", path)
        except Exception as error:  # a cache written by another version: refit, say so
            log.warning("Router cache %s unreadable (%s); refitting", path, error)
    # Imported on a miss only: a cold start with a cached router skips the fitting code.
    from nodes.routing.fit import embedding_cache, fit_router

    fitted = fit_router(
        agents,
        config,
        progress=progress,
        key=key,
        cache=embedding_cache(folder, quantized=config.quantized),
    )
    folder.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file, and parallel fits do not clash.
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=".router-", suffix=".tmp")
    os.close(handle)
    try:
        with open(tmp_name, "wb") as file:
            pickle.dump(fitted, file, protocol=5)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return fitted, True
