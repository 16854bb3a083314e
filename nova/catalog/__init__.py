"""Nova's agents as validated, versioned data."""

from nova.catalog.loader import (
    DEFAULT_CATALOG_DIR,
    AgentOrigin,
    Catalog,
    CatalogError,
    catalog_json_schema,
    default_catalog,
    load_catalog,
    load_specs,
    validate_spec_file,
)
from nova.catalog.spec import AgentGroup, AgentSpec, ModelChoice, RoutableAgent

__all__ = [
    "DEFAULT_CATALOG_DIR",
    "AgentGroup",
    "AgentOrigin",
    "AgentSpec",
    "Catalog",
    "CatalogError",
    "ModelChoice",
    "RoutableAgent",
    "catalog_json_schema",
    "default_catalog",
    "load_catalog",
    "load_specs",
    "validate_spec_file",
]
