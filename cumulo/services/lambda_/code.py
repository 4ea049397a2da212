"""Function and layer code packages: validated, stored once by content, measured as AWS measures."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.store.artifacts import Artifact, ArtifactStore

MAX_ZIPPED = 50 * 1024 * 1024          # direct upload limit
MAX_UNZIPPED = 250 * 1024 * 1024       # function plus all its layers, unzipped


@dataclass(frozen=True)
class CodePackage:
    sha256_hex: str
    size: int
    unzipped_size: int

    @property
    def code_sha256(self) -> str:
        return Artifact(self.sha256_hex, self.size).code_sha256

    def record(self) -> dict[str, Any]:
        return {"sha": self.sha256_hex, "size": self.size, "unzipped": self.unzipped_size}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CodePackage:
        return cls(record["sha"], record["size"], record.get("unzipped", 0))


def read_code_source(params: dict[str, Any], s3: Any, what: str = "function") -> bytes:
    """The zip bytes of a ``Code``/``Content`` argument: inline, or an object in Cumulo's S3."""
    if params.get("ImageUri"):
        raise AwsError("InvalidParameterValueException",
                       "Container image functions (ImageUri) are not supported by Cumulo yet: "
                       "upload a .zip package with ZipFile or S3Bucket/S3Key.")
    if params.get("S3Bucket") or params.get("S3Key"):
        if not (params.get("S3Bucket") and params.get("S3Key")):
            raise AwsError("InvalidParameterValueException", "Both S3Bucket and S3Key are required.")
        try:
            return s3.read_object(params["S3Bucket"], params["S3Key"])
        except AwsError as error:
            raise AwsError("InvalidParameterValueException",
                           f"Error occurred while GetObject. S3 Error Code: {error.code}. "
                           f"S3 Error Message: {error.message}") from error
    data = params.get("ZipFile")
    if not data:
        raise AwsError("InvalidParameterValueException",
                       "Please provide a source for function code." if what == "function"
                       else "Please provide a source for layer content.")
    return data


def store_zip(artifacts: ArtifactStore, data: bytes) -> CodePackage:
    """Validate a zip package and store it; raises AWS's errors for bad or oversized zips."""
    if len(data) > MAX_ZIPPED:
        raise AwsError("RequestEntityTooLargeException",
                       f"Zipped size must be smaller than {MAX_ZIPPED} bytes", status=413)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("CRC mismatch")
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise AwsError("InvalidParameterValueException",
                       "Could not unzip uploaded file. Please check your file, then try to upload again.") from exc
    if unzipped > MAX_UNZIPPED:
        raise AwsError("InvalidParameterValueException",
                       f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
    artifact = artifacts.put(data)
    return CodePackage(artifact.sha256_hex, artifact.size, unzipped)
