"""Nova's own HTTP routes describe themselves in the servers' OpenAPI schema.

langgraph-api builds its OpenAPI document with Starlette's schema generator, which reads
each route's docstring as YAML (after a line of dashes, if any); a docstring that is not
YAML made ``nova serve --dev`` log a traceback per route at every start.
"""

from __future__ import annotations

from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from nova.server.feedback_route import feedback_routes
from nova.server.inbox import routes as inbox_routes


def test_every_nova_route_has_a_parseable_openapi_operation() -> None:
    routes: list[Route] = [*feedback_routes(), *inbox_routes]
    generator = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "Nova", "version": "1"}})
    endpoints = generator.get_endpoints(list(routes))
    assert {e.path for e in endpoints} >= {"/nova/inbox", "/nova/inbox/page", "/nova/feedback"}
    for endpoint in endpoints:
        operation = generator.parse_docstring(endpoint.func)  # raises on a non-YAML docstring
        assert operation.get("summary"), f"{endpoint.http_method} {endpoint.path} has no summary"
        assert operation.get("responses"), f"{endpoint.http_method} {endpoint.path}: no responses"
