"""Benchmarks of the gpuplat program: cost under mocks, time to ready, real-engine preview/up (see README)."""
