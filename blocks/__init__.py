"""Block Kit builders: pure functions from approvals to blocks."""
