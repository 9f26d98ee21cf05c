"""Work-order attachments: check each upload, store it by content hash, hand back the records.

Files are stored (``integrations.storage``: a directory or S3) under the key
``<sha256[:2]>/<sha256>``; the same file uploaded twice is stored once. Each upload is checked in a
local scratch file first; only a good one goes to the storage.
Nothing here trusts the browser: the type comes from the file name's extension *and* the file's
first bytes, the size is counted while streaming. A failed batch removes what it wrote.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import BinaryIO

from integrations.storage import LocalStorage, Storage, StorageKeyError
from services.errors import NotFound, ValidationFailed

CHUNK = 64 * 1024
MAX_FILES = 10
MAX_NAME = 200

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office / WPS compound documents
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # zip, and every OOXML / OFD document


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head


def _starts(*prefixes: bytes):
    return lambda head: head.startswith(prefixes)


def _webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _heic(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


# extension → (content type stored with the file, check of the file's first bytes)
ALLOWED: dict[str, tuple[str, object]] = {
    "jpg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "png": ("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "gif": ("image/gif", _starts(b"GIF87a", b"GIF89a")),
    "bmp": ("image/bmp", _starts(b"BM")),
    "webp": ("image/webp", _webp),
    "heic": ("image/heic", _heic),
    "pdf": ("application/pdf", _starts(b"%PDF-")),
    "ofd": ("application/ofd", _starts(*_ZIP)),
    "doc": ("application/msword", _starts(_OLE)),
    "xls": ("application/vnd.ms-excel", _starts(_OLE)),
    "ppt": ("application/vnd.ms-powerpoint", _starts(_OLE)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _starts(*_ZIP)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _starts(*_ZIP)),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", _starts(*_ZIP)),
    "wps": ("application/vnd.ms-works", _starts(_OLE, *_ZIP)),
    "et": ("application/vnd.ms-excel", _starts(_OLE, *_ZIP)),
    "dps": ("application/vnd.ms-powerpoint", _starts(_OLE, *_ZIP)),
    "odt": ("application/vnd.oasis.opendocument.text", _starts(*_ZIP)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", _starts(*_ZIP)),
    "txt": ("text/plain; charset=utf-8", _is_text),
    "csv": ("text/csv; charset=utf-8", _is_text),
    "zip": ("application/zip", _starts(*_ZIP)),
}
ALLOWED_LABEL = "图片（jpg/png/gif/bmp/webp/heic）、PDF、OFD、Office/WPS 文档、txt/csv、zip"
ACCEPT_ATTR = ",".join(f".{ext}" for ext in ALLOWED)


@dataclass(frozen=True)
class Upload:
    """One uploaded file as the handler received it (a werkzeug FileStorage fits)."""

    filename: str
    stream: BinaryIO


@dataclass
class StoredBatch:
    """The records for ``NewOrder.attachments`` and the files this batch newly wrote."""

    records: list[dict] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # storage keys
    storage: Storage | None = None

    def discard(self) -> None:
        """Remove the files this batch created (files that existed before are kept: shared by hash)."""
        for key in self.written:
            if self.storage is not None:
                self.storage.delete(key)
        self.written.clear()
        self.records.clear()


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most MAX_NAME characters."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:MAX_NAME]
    return base


def _mb(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 1 else f"{size // 1024} KB"


def open_stored(storage: Storage | Path, storage_key: str) -> BinaryIO:
    """A stored attachment for reading; ``NotFound`` for a key that is not one or a missing file."""
    storage = LocalStorage(storage) if isinstance(storage, (str, Path)) else storage
    try:
        return storage.open(storage_key)
    except (StorageKeyError, FileNotFoundError, IsADirectoryError):
        raise NotFound("附件不存在") from None


def store_uploads(uploads: Iterable[Upload], storage: Storage | Path, *, max_bytes: int,
                  scratch: Path | None = None) -> StoredBatch:
    """Validate and store every upload; on any invalid file remove this batch's files and raise.
    ``storage`` may be a directory (a ``LocalStorage`` there); ``scratch`` is where uploads are
    checked before they are stored (the system's temporary folder by default)."""
    storage = LocalStorage(storage) if isinstance(storage, (str, Path)) else storage
    items = [u for u in uploads if u is not None and (u.filename or "").strip()]
    if len(items) > MAX_FILES:
        raise ValidationFailed(f"一次最多上传 {MAX_FILES} 个附件", fields={"attachments": f"最多 {MAX_FILES} 个"})
    batch = StoredBatch(storage=storage)
    try:
        for upload in items:
            _store_one(upload, storage, Path(scratch or tempfile.gettempdir()), max_bytes, batch)
    except BaseException:
        batch.discard()
        raise
    return batch


def _store_one(upload: Upload, storage: Storage, scratch: Path, max_bytes: int, batch: StoredBatch) -> None:
    filename = clean_filename(upload.filename)
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not filename or ext not in ALLOWED:
        raise ValidationFailed(
            f"附件「{filename or upload.filename}」的类型不支持，仅支持：{ALLOWED_LABEL}",
            fields={"attachments": "类型不支持"},
        )
    content_type, signature_ok = ALLOWED[ext]
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / f"yxby-upload-{secrets.token_hex(16)}"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(tmp, "wb") as out:
            while True:
                chunk = upload.stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationFailed(
                        f"附件「{filename}」超过单个文件 {_mb(max_bytes)} 的上限，请压缩或拆分后再上传",
                        fields={"attachments": f"单个文件不超过 {_mb(max_bytes)}"},
                    )
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationFailed(f"附件「{filename}」是空文件", fields={"attachments": "空文件"})
        if not signature_ok(head):
            raise ValidationFailed(
                f"附件「{filename}」的内容与扩展名 .{ext} 不符，请确认文件未损坏", fields={"attachments": "内容不符"}
            )
        sha = digest.hexdigest()
        storage_key = f"{sha[:2]}/{sha}"
        if not storage.exists(storage_key):
            storage.put_file(storage_key, tmp)
            batch.written.append(storage_key)
    finally:
        tmp.unlink(missing_ok=True)
    batch.records.append(
        {"filename": filename, "content_type": content_type, "size": size, "sha256": sha, "storage_key": storage_key}
    )
