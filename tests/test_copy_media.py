"""Moving a running site's media into the bucket (issue 21): `manage.py copy_media_to_storage` copies
the local media folder into the storage the settings name, against a real SeaweedFS. Every name is
kept (the rows' file fields point at the copies as they are), a second run copies nothing, and a run
after an interrupted one copies only what is missing or of another size."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

FILES = {
    "jobs/0123456789abcdef0123456789abcdef/content.png": b"\x89PNG content" * 10,
    "jobs/0123456789abcdef0123456789abcdef/result.png": b"\x89PNG result" * 300,
    "jobs/0123456789abcdef0123456789abcdef/video/chunk-00000.mp4": b"chunk" * 1000,
    "jobs/fedcba9876543210fedcba9876543210/style-1.png": b"style",
    "staged/7/token.png": b"staged upload",
}


def copy(*args: str) -> str:
    out = io.StringIO()
    call_command("copy_media_to_storage", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def local_media(tmp_path):
    folder = tmp_path / "old-media"
    local = FileSystemStorage(location=folder)
    for name, data in FILES.items():
        local.save(name, ContentFile(data))
    return folder


def test_it_copies_a_local_media_folder_into_the_bucket_once(s3_storage, local_media, make_job) -> None:
    server, prefix = s3_storage
    dry = copy("--source", str(local_media), "--dry-run")
    assert f"Would copy {len(FILES)} files" in dry and server.keys(f"{prefix}/") == {}

    assert f"Copied {len(FILES)} files" in copy("--source", str(local_media))
    assert server.keys(f"{prefix}/") == {f"{prefix}/{name}": len(data) for name, data in FILES.items()}
    assert "Copied 0 files (0\xa0bytes); 5 already stored; 0 failed." in copy("--source", str(local_media))


def test_a_run_after_an_interrupted_one_copies_what_is_missing_or_differs(s3_storage, local_media) -> None:
    server, prefix = s3_storage
    copy("--source", str(local_media))
    client, names = server.client(), list(FILES)
    client.delete_object(Bucket=server.bucket, Key=f"{prefix}/{names[1]}")               # never copied
    client.put_object(Bucket=server.bucket, Key=f"{prefix}/{names[2]}", Body=b"cut")     # cut short
    out = copy("--source", str(local_media))
    assert f"copying {names[1]}" in out and f"copying {names[2]}" in out and "Copied 2 files" in out
    assert server.keys(f"{prefix}/") == {f"{prefix}/{name}": len(data) for name, data in FILES.items()}


def test_a_jobs_files_read_from_the_bucket_after_the_move(s3_storage, local_media, make_job, settings) -> None:
    """A job made on local disk reads its files from the bucket once they are copied: same names."""
    job = make_job(mode="fast", size=64)   # in the bucket already (s3_storage): copy it back out to disk
    with job.content.open("rb") as fh:
        content = fh.read()
    FileSystemStorage(location=local_media).save(job.content.name, ContentFile(content))
    job.content.storage.delete(job.content.name)
    copy("--source", str(local_media))
    with job.content.open("rb") as fh:
        assert fh.read() == content


def test_it_refuses_to_copy_the_storage_onto_itself(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(CommandError, match="NST_STORAGE=s3"):
        copy()
