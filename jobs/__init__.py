"""RQ jobs: small functions that load fresh state and re-check it before acting."""
