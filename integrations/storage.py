"""Where files live: attachments, import uploads and generated exports, by key.

A key is a relative path with ``/`` separators (``ab/ab12…`` for an attachment stored by hash,
``imports/<uuid>.xlsx`` for a spreadsheet waiting for the jobs process). Two backends:

* ``LocalStorage`` — a directory (``STORAGE_DIR``, by default ``INSTANCE_DIR/uploads``); fine for
  one host, or several sharing the directory over NFS;
* ``S3Storage`` — any S3-compatible object store (an intranet MinIO, or AWS) through boto3, so
  web hosts and the jobs process may run on different machines.

Callers never see the backend: they ``put_file`` a finished local file, ``open`` a key for
reading, take a ``local_copy`` where a library needs a path (spreadsheet readers), ``delete``,
and list ``objects`` under a prefix (housekeeping, backups). This module knows no domain.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol


class StorageKeyError(ValueError):
    """A key that is not a plain relative path (``..``, absolute, empty)."""


def check_key(key: str) -> str:
    path = PurePosixPath(key)
    if not key or path.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")) or "\\" in key:
        raise StorageKeyError(f"invalid storage key: {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def objects(self, prefix: str = "") -> Iterator[StoredObject]: ...

    def local_copy(self, key: str): ...


class LocalStorage:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = self.root / check_key(key)
        resolved, root = path.resolve(), self.root.resolve()
        if root not in resolved.parents:
            raise StorageKeyError(f"storage key outside the root: {key!r}")
        return path

    def put_file(self, key: str, source: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")  # noqa: SIM115 - the caller closes it

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def objects(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(self.root).parts):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                yield StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self.path(key)


class S3Storage:
    """Objects under ``prefix`` in ``bucket``; ``client`` is a boto3 S3 client."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    @classmethod
    def from_settings(cls, *, bucket: str, endpoint_url: str = "", region: str = "", access_key: str = "",
                      secret_key: str = "", prefix: str = "") -> S3Storage:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None,
            aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3},
                          s3={"addressing_style": "path"}),
        )
        return cls(client, bucket, prefix)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put_file(self, key: str, source: Path) -> None:
        self.client.upload_file(str(source), self.bucket, self._name(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def objects(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", ()):
                yield StoredObject(item["Key"][len(self.prefix):], item["Size"], item["LastModified"])

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        suffix = PurePosixPath(key).suffix
        with tempfile.TemporaryDirectory(prefix="yxby-s3-") as folder:
            path = Path(folder) / f"object{suffix}"
            try:
                self.client.download_file(self.bucket, self._name(key), str(path))
            except Exception as error:
                if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    raise FileNotFoundError(key) from None
                raise
            yield path


def copy_all(source: Storage, target: Storage, prefix: str = "") -> int:
    """Copy every object (backups and restores)."""
    count = 0
    for item in source.objects(prefix):
        with source.local_copy(item.key) as path:
            target.put_file(item.key, path)
        count += 1
    return count
