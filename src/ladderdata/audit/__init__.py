"""Trust checks on built benchmarks and datasets: blind baselines (``ladder audit``) and bias pruning
(``build-bench --debias``); docs/benchmarks.md#trust."""
