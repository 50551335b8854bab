"""Book tooling: benchmarks (`python -m tools.bench`) and the student/instructor editions (`python -m tools.editions`)."""
