"""gpuplat policy rules: one rule library, two drivers (the CrossGuard pack and `python -m policies.check`)."""
