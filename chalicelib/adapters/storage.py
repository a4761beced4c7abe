"""The stage's bucket (S3; moto's locally): import files and their reports under imports/, the event
archive under events/. Reads stream (a million-row file is never in memory); large writes go up in
multipart parts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..platform import aws
from ..platform.config import Settings
from ..platform.errors import DependencyUnavailable

CHUNK_BYTES = 1 << 20
# S3's minimum part size (all parts but the last); a writer buffers this much before each part.
PART_BYTES = 8 << 20


class ObjectMissing(Exception):
    """The object is not (or no longer) in the bucket."""


class ObjectChanged(Exception):
    """The object was replaced since we first read it (its ETag differs)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class ObjectStore:
    def __init__(self, settings: Settings, budget: aws.CallBudget = aws.IN_BACKGROUND):
        self._settings = settings
        self._budget = budget
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def bucket(self) -> str:
        if not self._settings.data_bucket:
            raise DependencyUnavailable("No bucket configured (DATA_BUCKET).", code="STORAGE_NOT_CONFIGURED")
        return self._settings.data_bucket

    def _s3(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = aws.client("s3", self._settings, self._budget)
        return self._client

    def info(self, key: str, bucket: str | None = None) -> ObjectInfo:
        try:
            head = self._s3().head_object(Bucket=bucket or self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(key) from exc
            raise
        return ObjectInfo(key, str(head["ETag"]).strip('"'), int(head["ContentLength"]))

    def chunks(self, key: str, *, start: int, etag: str, bucket: str | None = None) -> Iterator[bytes]:
        """The object's bytes from `start` to the end, in chunks, provided it is still the version `etag`."""
        try:
            body = self._s3().get_object(
                Bucket=bucket or self.bucket, Key=key, Range=f"bytes={start}-", IfMatch=f'"{etag}"'
            )["Body"]
        except Exception as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "412"):
                raise ObjectChanged(key) from exc
            if code in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from exc
            if code == "InvalidRange":  # nothing left past `start`
                return
            raise
        try:
            while chunk := body.read(CHUNK_BYTES):
                yield chunk
        finally:
            body.close()

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        content_encoding: str | None = None,
        bucket: str | None = None,
    ) -> None:
        extra = {"ContentEncoding": content_encoding} if content_encoding else {}
        self._s3().put_object(Bucket=bucket or self.bucket, Key=key, Body=data, ContentType=content_type, **extra)

    def writer(self, key: str, *, content_type: str, bucket: str | None = None) -> Writer:
        return Writer(self, bucket or self.bucket, key, content_type)


class Writer:
    """Write an object of any size: one PUT when it stays under PART_BYTES, else a multipart upload
    (aborted if the writer is closed by an exception)."""

    def __init__(self, store: ObjectStore, bucket: str, key: str, content_type: str):
        self._store = store
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._flush_part()

    def _flush_part(self) -> None:
        s3 = self._store._s3()
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type
            )["UploadId"]
        number = len(self._parts) + 1
        etag = s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer.clear()

    def close(self) -> None:
        if self._upload_id is None:
            self._store.put(self._key, bytes(self._buffer), content_type=self._content_type, bucket=self._bucket)
            return
        if self._buffer:
            self._flush_part()
        self._store._s3().complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        if self._upload_id is not None:
            self._store._s3().abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
