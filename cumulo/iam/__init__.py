"""Identity and access: temporary session credentials, IAM policy evaluation and its enforcement.

* :mod:`.sessions` mints and finds temporary credentials (function environments, STS AssumeRole);
* :mod:`.roles` keeps roles and managed policies (the IAM provider's tables) and reads a role's
  policies; :mod:`.aws_managed` knows the documents of common AWS managed policies;
* :mod:`.policy` and :mod:`.conditions` evaluate identity-based policy documents;
* :mod:`.request_target` names the IAM action and resource ARN of an API request;
* :mod:`.enforcement` decides whether a request signed with session credentials may run.

Verifying a session's signature and token is the gateway's (``cumulo/gateway/session_auth.py``).
"""
