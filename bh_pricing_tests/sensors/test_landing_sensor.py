"""``landing_sensor`` tick by tick on an ephemeral instance, for a local folder and an S3 prefix
(moto): complete files only, content-keyed batches, hidden files, extensions in any case,
completion markers, and a reason for every file not taken."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pytest
from moto import mock_aws

from bh_pricing.io import storage
from bh_pricing.io.landing import BATCH_FILE_TAG, BATCH_SHA256_TAG, batch_key
from bh_pricing.resources import Locations
from bh_pricing.sensors.landing import landing_sensor

BUCKET = "landing-bucket"
BATCH = b"address,adm-fees,price\nRua A,100,500000\nRua B,200,600000\nRua C,300,700000\n"
OTHER = b"address,adm-fees,price\nRua D,400,800000\n"


class Landing:
    """A landing location (local folder or S3 prefix) and the sensor ticking over it, with the
    cursor and partitions carried from tick to tick as the daemon does."""

    def __init__(self, uri: str, instance: dg.DagsterInstance, local: Path | None) -> None:
        self.uri, self.instance, self.local = uri, instance, local
        self.cursor: str | None = None
        self.run_keys: list[str] = []
        self.clock = 1_700_000_000_000_000_000

    def write(self, name: str, content: bytes) -> None:
        """Write ``content`` at ``name``; locally with a fresh modification time every time."""
        if self.local is None:
            storage.write_bytes(storage.join(self.uri, name), content)
            return
        path = self.local / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.clock += 1_000_000_000
        os.utime(path, ns=(self.clock, self.clock))

    def remove(self, name: str) -> None:
        if self.local is None:
            location = storage.parse(storage.join(self.uri, name))
            storage.s3_client().delete_object(Bucket=location.bucket, Key=location.key)
        else:
            (self.local / name).unlink()

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={
                "locations": Locations(
                    landing_uri=self.uri, artifacts_uri=self.uri, prediction_log_uri=self.uri
                )
            },
        )
        result = landing_sensor(context)
        assert isinstance(result, dg.SensorResult), result
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions("market_batches", list(request.partition_keys))
        self.run_keys += [request.run_key for request in result.run_requests or []]
        return result

    def taken(self) -> list[str]:
        """Partition keys requested by the next tick."""
        return [request.partition_key for request in self.tick().run_requests or []]


def key(name: str, content: bytes) -> str:
    return batch_key(name, hashlib.sha256(content).hexdigest())


def skip_text(result: dg.SensorResult) -> str:
    assert result.skip_reason is not None, f"expected a skip, got {result.run_requests}"
    return result.skip_reason.skip_message or ""


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(params=["local", "s3"])
def landing(request, instance, tmp_path: Path, monkeypatch) -> Iterator[Landing]:
    if request.param == "local":
        yield Landing(str(tmp_path / "landing"), instance, tmp_path / "landing")
        return
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        storage.reset_s3_client()
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield Landing(f"s3://{BUCKET}/landing", instance, None)
    storage.reset_s3_client()


@pytest.mark.parametrize(
    "name", ["2026-01.csv", "agency/2026-02.csv", "LOTE-03.CSV", "lote_04.Csv", "a/b/c/05.cSv"]
)
def test_a_file_written_in_one_go_is_taken_on_the_second_tick(landing, name) -> None:
    # given a complete file, seen for the first time
    landing.write(name, BATCH)
    first = landing.tick()
    assert not first.run_requests, "a file seen once may still be growing"
    assert f"{name}: incomplete: first seen" in skip_text(first)
    # when it is unchanged at the next tick, then it is one batch keyed by path and content
    second = landing.tick()
    (request,) = second.run_requests
    sha = hashlib.sha256(BATCH).hexdigest()
    assert request.partition_key == key(name, BATCH) == f"{name}@{sha[:12]}", request
    assert request.tags == {BATCH_FILE_TAG: name, BATCH_SHA256_TAG: sha}, request.tags
    assert request.run_key == f"sha256:{sha}", "one content, one check run"
    (added,) = second.dynamic_partitions_requests
    assert list(added.partition_keys) == [request.partition_key]
    # and later ticks leave it alone
    later = landing.tick()
    assert "1 already registered" in skip_text(later), skip_text(later)


@pytest.mark.parametrize("cut", [1, 30, len(BATCH) // 2, len(BATCH) - 1])
def test_a_file_copied_in_two_steps_is_taken_once_complete(landing, cut) -> None:
    # given a copy interrupted after ``cut`` bytes, then completed before the next tick
    landing.write("lote.csv", BATCH[:cut])
    assert landing.taken() == [], "first seen"
    landing.write("lote.csv", BATCH)
    growing = landing.tick()
    assert "lote.csv: still being written" in skip_text(growing), skip_text(growing)
    # when the file is unchanged at the next tick, then the whole content is the batch
    assert landing.taken() == [key("lote.csv", BATCH)], "the complete file, once"
    assert landing.taken() == [], "never again"


def test_a_rewrite_of_the_same_size_is_not_taken_until_it_settles(landing) -> None:
    landing.write("lote.csv", BATCH.replace(b"Rua A", b"Rua X"))
    landing.tick()
    landing.write("lote.csv", BATCH)
    assert landing.taken() == [], "same size, new version: still being written"
    assert landing.taken() == [key("lote.csv", BATCH)]


@pytest.mark.parametrize(
    "new",
    [
        BATCH + b"Rua E,500,900000\n",
        BATCH.replace(b"500000", b"550000"),
        OTHER,
        BATCH.replace(b"\n", b"\r\n"),
    ],
    ids=["appended", "same-size-edit", "replaced", "line-endings"],
)
def test_new_content_under_an_old_name_is_a_new_batch(landing, new) -> None:
    # given a batch already taken
    landing.write("lote.csv", BATCH)
    landing.tick()
    assert landing.taken() == [key("lote.csv", BATCH)]
    # when new content is uploaded under the same name
    landing.write("lote.csv", new)
    # then it waits for completeness, then becomes a batch of its own
    assert landing.taken() == [], "the new upload is seen once first"
    assert landing.taken() == [key("lote.csv", new)], "new content, new batch"
    assert len(set(landing.run_keys)) == len(landing.run_keys) == 2, landing.run_keys


@pytest.mark.parametrize(
    "copy", ["lote-copy.csv", "agency/lote.csv", "LOTE.CSV", "renamed/again/x.Csv"]
)
def test_the_same_content_under_another_name_is_never_checked_twice(landing, copy) -> None:
    landing.write("lote.csv", BATCH)
    landing.tick()
    assert landing.taken() == [key("lote.csv", BATCH)]
    # when the same bytes land under another name (and the original is removed)
    landing.write(copy, BATCH)
    landing.remove("lote.csv")
    landing.tick()
    result = landing.tick()
    # then no batch, and the tick says whose duplicate it is
    assert not result.run_requests, "same content: no second check"
    assert f"{copy}: duplicate content of batch {key('lote.csv', BATCH)}" in skip_text(result)
    assert landing.run_keys == [f"sha256:{hashlib.sha256(BATCH).hexdigest()}"]


def test_the_same_content_landed_twice_at_once_is_one_batch(landing) -> None:
    for name in ("a.csv", "b.csv", "c/a.csv"):
        landing.write(name, BATCH)
    landing.tick()
    result = landing.tick()
    assert [r.partition_key for r in result.run_requests] == [key("a.csv", BATCH)]
    assert "b.csv: duplicate content of batch" in skip_text(landing.tick())


@pytest.mark.parametrize(
    "name",
    [
        ".lote.csv",
        ".ipynb_checkpoints/lote-2026-02-checkpoint.csv",
        "agency/.lote.csv.partial.csv",
        "_tmp-lote.csv",
        "_temporary/0/part-0000.csv",
        "agency/.git/lote.csv",
    ],
)
def test_hidden_files_and_folders_are_skipped_with_their_reason(landing, name) -> None:
    landing.write(name, BATCH)
    landing.write("visible.csv", OTHER)
    landing.tick()
    result = landing.tick()
    assert [r.partition_key for r in result.run_requests] == [key("visible.csv", OTHER)]
    assert f"{name}: hidden" in skip_text(landing.tick())


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("notes.txt", "not a CSV"),
        ("lote.csv.gz", "not a CSV"),
        ("lote.csv.part", "not a CSV"),
        ("lote", "not a CSV"),
        ("bad, name.csv", "invalid name"),
        ("lote@2.csv", "invalid name"),
        ("são-paulo.csv", "invalid name"),
        ("a...b.csv", "invalid name"),
    ],
)
def test_every_file_not_taken_is_named_with_its_reason(landing, name, reason) -> None:
    landing.write(name, BATCH)
    landing.tick()
    result = landing.tick()
    assert not result.run_requests, f"{name} must not become a batch"
    assert f"{name}: {reason}" in skip_text(result), skip_text(result)


@pytest.mark.parametrize("marker", ["lote.csv.done", "lote.csv.DONE"])
def test_a_completion_marker_takes_a_file_at_once(landing, marker) -> None:
    landing.write("lote.csv", BATCH)
    landing.write(marker, b"")
    assert landing.taken() == [key("lote.csv", BATCH)], "marked complete: no second tick"
    assert f"{marker}: completion marker" not in skip_text(landing.tick()), "markers are settled"


def test_a_marker_older_than_a_reupload_does_not_vouch_for_it(landing) -> None:
    landing.write("lote.csv", BATCH)
    landing.write("lote.csv.done", b"")
    assert landing.taken() == [key("lote.csv", BATCH)]
    if landing.local is None:
        pytest.skip("S3 LastModified has a resolution of one second")
    # when the file is re-uploaded and the old marker left in place
    landing.write("lote.csv", OTHER)
    assert landing.taken() == [], "the marker predates the new content"
    assert landing.taken() == [key("lote.csv", OTHER)], "taken once unchanged"


def test_partitions_registered_by_name_are_kept_and_not_registered_again(landing) -> None:
    # given a batch registered before keys carried content (key = its path)
    landing.instance.add_dynamic_partitions("market_batches", ["2026-01.csv"])
    landing.write("2026-01.csv", BATCH)
    # when the sensor sees that file, then it adopts it rather than checking it again
    landing.tick()
    result = landing.tick()
    assert not result.run_requests, "already checked under its old key"
    assert "1 already registered" in skip_text(result), skip_text(result)
    # and new content under that name is a new batch
    landing.write("2026-01.csv", OTHER)
    landing.tick()
    assert landing.taken() == [key("2026-01.csv", OTHER)]


def test_a_lost_cursor_does_not_register_a_batch_again(landing) -> None:
    landing.write("lote.csv", BATCH)
    landing.tick()
    assert landing.taken() == [key("lote.csv", BATCH)]
    # when the sensor's cursor is reset, then the partition keys still tell what was taken
    landing.cursor = None
    landing.tick()
    assert landing.taken() == [], "known partition key: not registered twice"


def test_a_missing_landing_location_is_nothing_new(instance, tmp_path: Path) -> None:
    landing = Landing(str(tmp_path / "absent"), instance, tmp_path / "absent")
    assert "no new batch" in skip_text(landing.tick())
