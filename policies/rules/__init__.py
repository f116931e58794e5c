"""The rule catalogue, one module per concern; `policies.registry` collects their `RULES` lists."""
