"""Extensions Cumulo ships as built-in layers (programs that run inside function environments)."""
