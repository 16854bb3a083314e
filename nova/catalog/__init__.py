"""Nova's agents as validated, versioned data."""

from nova.catalog.loader import (
    DEFAULT_CATALOG_DIR,
    Catalog,
    CatalogError,
    catalog_json_schema,
    default_catalog,
    load_catalog,
    load_specs,
)
from nova.catalog.spec import AgentGroup, AgentSpec, ModelChoice, RoutableAgent

__all__ = [
    "DEFAULT_CATALOG_DIR",
    "AgentGroup",
    "AgentSpec",
    "Catalog",
    "CatalogError",
    "ModelChoice",
    "RoutableAgent",
    "catalog_json_schema",
    "default_catalog",
    "load_catalog",
    "load_specs",
]
