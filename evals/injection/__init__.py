"""The prompt-injection suite (``nova eval injection``): tasks, attacks, two scripted models."""
