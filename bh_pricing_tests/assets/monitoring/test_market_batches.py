"""``market_batches`` reads the file its partition key names, and only the content registered."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import dagster as dg
import pytest

from bh_pricing.assets.monitoring import market_batches
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.io.landing import BATCH_SHA256_TAG, batch_key
from bh_pricing.resources import Locations


def raw_csv(rows: int, seed: int) -> bytes:
    return generate_raw_listings(rows, seed).to_csv(index=False).encode()


def materialize(landing: Path, key: str, tags: dict[str, str] | None = None):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("market_batches", [key])
    locations = Locations(
        landing_uri=str(landing), artifacts_uri=str(landing), prediction_log_uri=str(landing)
    )
    return dg.materialize(
        [market_batches],
        resources={"locations": locations},
        instance=instance,
        partition_key=key,
        tags=tags or {},
    )


def meta(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.mark.parametrize("name", ["lote.csv", "agency/2026-02.CSV"])
def test_the_file_a_key_names_is_read_and_its_hash_recorded(tmp_path: Path, name) -> None:
    content = raw_csv(60, seed=3)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    result = materialize(tmp_path, batch_key(name, sha), {BATCH_SHA256_TAG: sha})
    assert meta(result)["file_sha256"] == sha
    assert meta(result)["source"] == str(tmp_path / name)


@pytest.mark.parametrize("with_tag", [True, False], ids=["run tag", "key prefix"])
@pytest.mark.parametrize("replacement", ["other rows", "one row more", "empty"])
def test_a_replaced_file_is_an_error_naming_it_and_both_hashes(
    tmp_path: Path, with_tag: bool, replacement: str
) -> None:
    # given a batch registered with one content, whose file was then replaced
    content = raw_csv(60, seed=3)
    sha = hashlib.sha256(content).hexdigest()
    new = {
        "other rows": raw_csv(60, seed=4),
        "one row more": raw_csv(61, seed=3),
        "empty": b"",
    }[replacement]
    (tmp_path / "lote.csv").write_bytes(new)
    # when the batch is materialized, then it fails rather than read the new content
    expected = sha if with_tag else sha[:12]
    found = hashlib.sha256(new).hexdigest()
    message = f"{tmp_path / 'lote.csv'} no longer holds batch lote.csv@{sha[:12]}: registered "
    message += f"with sha256 {expected}, the file now has sha256 {found}"
    with pytest.raises(dg.Failure, match=re.escape(message)):
        materialize(
            tmp_path, batch_key("lote.csv", sha), {BATCH_SHA256_TAG: sha} if with_tag else {}
        )


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(dg.Failure, match=re.escape(f"{tmp_path / 'gone.csv'}: no such file")):
        materialize(tmp_path, batch_key("gone.csv", "ab" * 32))


def test_a_key_registered_before_keys_carried_content_reads_the_file(tmp_path: Path) -> None:
    (tmp_path / "2026-01.csv").write_bytes(raw_csv(40, seed=5))
    result = materialize(tmp_path, "2026-01.csv")
    assert meta(result)["raw_rows"] == 40
