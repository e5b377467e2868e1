"""The HTTP service: routers per area, roles, approvals, problem details, SSE, metrics."""
