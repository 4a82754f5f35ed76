"""Agent callbacks: the signed POST to an agent's `callback_url` after a decision (`outbound`)."""
