"""``python -m cumulo`` runs the ``cumulo`` command (for environments without the console script)."""

from cumulo.cli.main import app

app(prog_name="cumulo")
