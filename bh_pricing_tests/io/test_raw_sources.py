"""Raw sources: sample, CSV path, s3:// (moto), Kaggle (download replaced), and bad input."""

from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from bh_pricing.constants import RAW_COLUMNS
from bh_pricing.io.raw_sources import RawSourceError, read_raw_listings
from bh_pricing_tests.conftest import raw_frame


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "listings.csv"
    raw_frame({}, {"square-foot": "45-65"}).to_csv(path, index=False)
    return path


def test_sample_is_the_default_kind():
    raw = read_raw_listings("sample", sample_rows=50, sample_seed=1)
    assert raw.kind == "sample"
    assert len(raw.frame) == 50
    assert raw.source == "sample(rows=50, seed=1)"


def test_local_csv_is_read_as_text(csv_path):
    raw = read_raw_listings(str(csv_path))
    assert raw.kind == "file"
    assert len(raw.frame) == 2
    assert raw.frame["square-foot"].tolist() == ["70", "45-65"], "values stay text"


def test_content_hash_depends_on_content_not_location(csv_path, tmp_path):
    copy = tmp_path / "copy.csv"
    copy.write_bytes(csv_path.read_bytes())
    assert (
        read_raw_listings(str(copy)).content_hash == read_raw_listings(str(csv_path)).content_hash
    )
    assert (
        read_raw_listings("sample", sample_rows=5).content_hash
        != read_raw_listings(str(csv_path)).content_hash
    )


def test_missing_file_names_the_source(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(RawSourceError, match=f"cannot read {missing}"):
        read_raw_listings(str(missing))


def test_empty_file_is_rejected(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(RawSourceError, match=r"empty.csv: the file is empty"):
        read_raw_listings(str(empty))


def test_unterminated_quote_is_rejected_naming_the_line(tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'address,price\n"unterminated,1\n')
    with pytest.raises(RawSourceError, match=r"broken.csv: no well-formed row.* line 2: 1 field"):
        read_raw_listings(str(broken))


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "partial.csv"
    raw_frame({}).drop(columns=["latitude"]).to_csv(path, index=False)
    with pytest.raises(RawSourceError, match=r"partial.csv: missing column\(s\) \['latitude'\]"):
        read_raw_listings(str(path))


def test_header_only_is_rejected(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(RAW_COLUMNS) + "\n")
    with pytest.raises(RawSourceError, match="header but no rows"):
        read_raw_listings(str(path))


def test_unknown_scheme_is_rejected():
    with pytest.raises(RawSourceError, match="unsupported scheme 'ftp'"):
        read_raw_listings("ftp://example/listings.csv")


@mock_aws
def test_s3_uri_is_read(csv_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="raw")
    s3.put_object(Bucket="raw", Key="in/listings.csv", Body=csv_path.read_bytes())
    raw = read_raw_listings("s3://raw/in/listings.csv")
    assert raw.kind == "s3"
    assert len(raw.frame) == 2


@mock_aws
def test_missing_s3_object_names_the_uri(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    boto3.client("s3").create_bucket(Bucket="raw")
    with pytest.raises(RawSourceError, match=r"cannot read s3://raw/absent.csv"):
        read_raw_listings("s3://raw/absent.csv")


def test_kaggle_source_uses_the_downloaded_csv(tmp_path, csv_path):
    folder = tmp_path / "kaggle"
    folder.mkdir()
    (folder / "data.csv").write_bytes(csv_path.read_bytes())
    asked: list[str] = []

    def fake_download(dataset: str) -> str:
        asked.append(dataset)
        return str(folder)

    raw = read_raw_listings(
        "kaggle://guilherme26/house-pricing-in-belo-horizonte", download=fake_download
    )
    assert asked == ["guilherme26/house-pricing-in-belo-horizonte"]
    assert raw.kind == "kaggle"
    assert len(raw.frame) == 2


def test_kaggle_failure_is_reported(tmp_path):
    def failing_download(dataset: str) -> str:
        raise ConnectionError("no route to host")

    with pytest.raises(RawSourceError, match="Kaggle download failed: no route to host"):
        read_raw_listings("kaggle://owner/name", download=failing_download)


def test_kaggle_folder_without_one_csv_is_rejected(tmp_path):
    with pytest.raises(RawSourceError, match="expected one CSV"):
        read_raw_listings("kaggle://owner/name", download=lambda _: str(tmp_path))


def test_frame_round_trips_through_pandas(csv_path):
    frame = read_raw_listings(str(csv_path)).frame
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(RAW_COLUMNS)


@pytest.mark.parametrize(("uri", "rows"), [("sample:25", 25), ("sample:1_000", 1000)])
def test_sample_size_is_given_in_the_uri(uri, rows):
    raw = read_raw_listings(uri, sample_seed=2)
    assert len(raw.frame) == rows
    assert raw.source == f"sample(rows={rows}, seed=2)"


def test_plain_sample_keeps_its_default_size_and_seed():
    assert len(read_raw_listings("sample").frame) == 5981
    assert read_raw_listings("sample").content_hash == read_raw_listings("sample:5981").content_hash


@pytest.mark.parametrize("uri", ["sample:", "sample:0", "sample:-5", "sample:lots", "sample:1e6"])
def test_bad_sample_size_is_named(uri):
    with pytest.raises(RawSourceError, match="expected sample:<rows> with a positive integer"):
        read_raw_listings(uri)
