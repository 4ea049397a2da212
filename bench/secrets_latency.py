"""Secrets Manager GetSecretValue and Parameter Store GetParameter latency.

Starts a real ``cumulo serve``, creates one secret (a 1 KB JSON string) and one SecureString
parameter, then measures sequential round trips through boto3 (SDK overhead included) and
with a keep-alive raw HTTP client (the server's own cost): requests/s, p50 and p99 for each.
"""

from __future__ import annotations

import http.client
import json
import tempfile
from pathlib import Path

from bench._server_common import AUTH
from bench.report import Figure, latency_figures, print_figures, timed_samples
from tests.server import CumuloServer


def run(quick: bool = False) -> list[Figure]:
    count = 300 if quick else 3000
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        server = CumuloServer(Path(directory) / "data").start()
        try:
            sm, ssm = server.client("secretsmanager"), server.client("ssm")
            sm.create_secret(Name="bench/db", SecretString=json.dumps({"password": "x" * 1000}))
            ssm.put_parameter(Name="/bench/db/password", Value="s3cret", Type="SecureString")
            for label, call in (
                    ("GetSecretValue", lambda: sm.get_secret_value(SecretId="bench/db")),
                    ("GetParameter", lambda: ssm.get_parameter(Name="/bench/db/password", WithDecryption=True))):
                samples = timed_samples(call, count)
                figures.append(Figure("secrets_latency", f"{label} boto3 throughput",
                                      round(len(samples) / sum(samples)), "req/s", "1 client, sequential"))
                figures += latency_figures("secrets_latency", f"{label} boto3", samples)
            connection = http.client.HTTPConnection("127.0.0.1", server.port)
            for label, target, service, body in (
                    ("GetSecretValue", "secretsmanager.GetSecretValue", "secretsmanager", {"SecretId": "bench/db"}),
                    ("GetParameter", "AmazonSSM.GetParameter", "ssm",
                     {"Name": "/bench/db/password", "WithDecryption": True})):
                headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1",
                           "Authorization": AUTH.replace("/lambda/", f"/{service}/")}
                payload = json.dumps(body)

                def raw_call(headers: dict = headers, payload: str = payload) -> None:
                    connection.request("POST", "/", body=payload, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 200, response.status

                samples = timed_samples(raw_call, count)
                figures.append(Figure("secrets_latency", f"{label} raw HTTP throughput",
                                      round(len(samples) / sum(samples)), "req/s", "keep-alive, sequential"))
                figures += latency_figures("secrets_latency", f"{label} raw HTTP", samples)
            connection.close()
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    print_figures(run())
