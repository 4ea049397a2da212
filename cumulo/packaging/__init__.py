"""Client-side packaging for the CLI: building functions' dependencies and uploading local code.

Runs on the user's machine (``cumulo build``, ``cumulo deploy``, ``cumulo dev``); it shares only
the template reader (``cumulo.template_loader``) with the server's CloudFormation engine.
"""
