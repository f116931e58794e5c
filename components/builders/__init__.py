"""Pure manifest builders: spec in, Kubernetes objects (plain dicts) out.

Nothing here imports Pulumi. The components in `components/` call these functions and register the
results, so everything a reviewer wants to know about the rendered objects is tested without an engine.
"""
