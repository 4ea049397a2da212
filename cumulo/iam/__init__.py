"""Identity and access: temporary session credentials, IAM policy evaluation and its enforcement.

* :mod:`.sessions` mints and finds temporary credentials (function environments, STS AssumeRole);
* :mod:`.policy` and :mod:`.conditions` evaluate identity-based policy documents;
* :mod:`.request_target` names the IAM action and resource ARN of an API request;
* :mod:`.enforcement` decides whether a request signed with session credentials may run.
"""
