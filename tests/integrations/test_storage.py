"""The storage interface on a local directory and on S3 — the real boto3 client against moto's S3
server on a local port — and an import whose file travels through S3 by key."""

from __future__ import annotations

import contextlib
import io
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from integrations.storage import LocalStorage, S3Storage, StorageKeyError, copy_all
from models import Enterprise, ImportJob, ImportStatus
from services.admin.housekeeping import prune
from services.orders.attachments import Upload, open_stored, store_uploads
from services.registry import import_jobs
from tests.registry.exports import codes, row, write_csv

BUCKET = "yxby-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server):
    storage = S3Storage.from_settings(bucket=BUCKET, endpoint_url=s3_server, region="us-east-1",
                                      access_key="test", secret_key="test", prefix=f"run-{uuid.uuid4().hex[:8]}")
    with contextlib.suppress(storage.client.exceptions.BucketAlreadyOwnedByYou):
        storage.client.create_bucket(Bucket=BUCKET)
    return storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    return LocalStorage(tmp_path / "files") if request.param == "local" else request.getfixturevalue("s3")


def test_put_open_list_copy_and_delete(storage, tmp_path):
    source = tmp_path / "a.pdf"
    source.write_bytes(b"%PDF-1.4 one")
    storage.put_file("ab/abc", source)
    storage.put_bytes("imports/x.csv", "名称\n".encode())
    assert storage.exists("ab/abc") and not storage.exists("ab/none")
    with storage.open("ab/abc") as handle:
        assert handle.read() == b"%PDF-1.4 one"
    with storage.local_copy("imports/x.csv") as path:
        assert path.read_text(encoding="utf-8") == "名称\n" and path.suffix == ".csv"
    assert [o.key for o in storage.objects("imports/")] == ["imports/x.csv"]
    assert sorted(o.key for o in storage.objects()) == ["ab/abc", "imports/x.csv"]
    copy = LocalStorage(tmp_path / "copy")
    assert copy_all(storage, copy) == 2 and copy.path("ab/abc").read_bytes() == b"%PDF-1.4 one"
    storage.delete("ab/abc")
    assert not storage.exists("ab/abc")
    with pytest.raises(FileNotFoundError):
        storage.open("ab/abc")
    for bad in ("../etc/passwd", "/abs", "", "a//b", "a/./b"):
        with pytest.raises(StorageKeyError):
            storage.exists(bad)


def test_attachments_are_stored_by_hash_once(storage):
    first = store_uploads([Upload("照片.png", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"x" * 100))], storage, max_bytes=10**6)
    again = store_uploads([Upload("同一张.png", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"x" * 100))], storage, max_bytes=10**6)
    [record] = first.records
    assert record["storage_key"] == again.records[0]["storage_key"] and again.written == []
    assert open_stored(storage, record["storage_key"]).read().startswith(b"\x89PNG")
    again.discard()  # the other upload's file stays
    assert storage.exists(record["storage_key"])
    first.discard()
    assert not storage.exists(record["storage_key"])


def test_an_import_refers_to_its_s3_key_and_the_jobs_process_reads_it_from_there(s3, session_factory, tmp_path):
    local = write_csv(tmp_path / "upload.csv", [row(1, codes(1)[0], "天津北辰测试有限公司")], encoding="utf-8")
    key = import_jobs.upload_key("csv")
    now = datetime.now(UTC)
    with session_factory() as session:
        job = import_jobs.accept_upload(session, kind="enterprises", stored_path=local, storage_key=key,
                                        filename="名录.csv", actor=None, now=now, max_bytes=10**7, dry_run=False)
        s3.put_file(key, local)
        session.commit()
        job_id = job.id
    local.unlink()  # the web host's scratch copy is gone; only S3 has the file
    summary = import_jobs.run_queued(session_factory, worker="test", clock=lambda: datetime.now(UTC), storage=s3)
    assert "已完成" in summary
    with session_factory() as session:
        job = session.get(ImportJob, job_id)
        assert job.stored_path == key and job.status == ImportStatus.DONE
        assert session.scalar(select(func.count(Enterprise.id))) == 1
    assert not s3.exists(key)  # discarded once the job ended


def test_housekeeping_sweeps_orphaned_import_objects(s3, session_factory):
    needed, orphan = import_jobs.upload_key("xlsx"), import_jobs.upload_key("xlsx")
    for key in (needed, orphan):
        s3.put_bytes(key, b"PK")
    with session_factory() as session:
        import_jobs.create_job(session, kind="enterprises", filename="a.xlsx", stored_path=needed, file_size=2,
                               actor=None, now=datetime.now(UTC))
        session.commit()
    later = datetime.now(UTC) + timedelta(hours=2)
    report = prune(session_factory, now=later, inbound_retention=timedelta(days=90), storage=s3)
    assert report.import_files == 1
    assert s3.exists(needed) and not s3.exists(orphan)
