//! Benchmarks live in `benches/`; the load generator will live in `src/bin/`.
