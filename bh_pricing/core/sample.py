"""Seeded generator of raw listings in the Kaggle format, messiness included.

It lets the project run, and be tested, without the real file: realistic price levels per
neighborhood, flats listed more than once at slightly different prices, plus padded strings,
``45-65`` ranges, ``--``, blank fees, duplicates, outliers and coordinates outside Belo Horizonte.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bh_pricing.constants import RAW_COLUMNS

# name, city, latitude, longitude, typical price per m2 (BRL), relative listing frequency
NEIGHBORHOODS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("Buritis", "Belo Horizonte", -19.975, -43.968, 7200, 9.0),
    ("Lourdes", "Belo Horizonte", -19.932, -43.944, 12500, 7.0),
    ("Funcionários", "Belo Horizonte", -19.935, -43.929, 11500, 4.5),
    ("Sagrada Família", "Belo Horizonte", -19.907, -43.917, 5600, 4.0),
    ("Serra", "Belo Horizonte", -19.943, -43.918, 8800, 4.0),
    ("Santo Antônio", "Belo Horizonte", -19.946, -43.943, 9400, 3.5),
    ("Sion", "Belo Horizonte", -19.951, -43.932, 10200, 3.5),
    ("Santo Agostinho", "Belo Horizonte", -19.926, -43.951, 10800, 3.4),
    ("Savassi", "Belo Horizonte", -19.937, -43.934, 11800, 3.0),
    ("Gutierrez", "Belo Horizonte", -19.938, -43.958, 8600, 2.8),
    ("Anchieta", "Belo Horizonte", -19.948, -43.928, 9300, 2.6),
    ("Cidade Nova", "Belo Horizonte", -19.886, -43.925, 6600, 2.5),
    ("Centro", "Belo Horizonte", -19.920, -43.938, 5400, 2.5),
    ("Belvedere", "Belo Horizonte", -19.976, -43.940, 12800, 2.2),
    ("Cruzeiro", "Belo Horizonte", -19.942, -43.925, 9700, 2.0),
    ("Luxemburgo", "Belo Horizonte", -19.940, -43.953, 8200, 2.0),
    ("Castelo", "Belo Horizonte", -19.887, -44.002, 6100, 2.0),
    ("Padre Eustáquio", "Belo Horizonte", -19.909, -43.974, 5000, 1.8),
    ("Prado", "Belo Horizonte", -19.925, -43.963, 6500, 1.8),
    ("Floresta", "Belo Horizonte", -19.915, -43.930, 6400, 1.6),
    ("Santa Efigênia", "Belo Horizonte", -19.926, -43.920, 6600, 1.5),
    ("Barro Preto", "Belo Horizonte", -19.921, -43.950, 6000, 1.4),
    ("Ouro Preto", "Belo Horizonte", -19.866, -43.990, 5600, 1.4),
    ("Pampulha", "Belo Horizonte", -19.860, -43.975, 7100, 1.3),
    ("Santa Amélia", "Belo Horizonte", -19.840, -43.975, 5000, 1.2),
    ("Caiçara", "Belo Horizonte", -19.895, -43.970, 5500, 1.2),
    ("Santa Tereza", "Belo Horizonte", -19.915, -43.915, 5900, 1.1),
    ("Mangabeiras", "Belo Horizonte", -19.950, -43.915, 11200, 1.0),
    ("Santa Lúcia", "Belo Horizonte", -19.960, -43.950, 8100, 1.0),
    ("Estoril", "Belo Horizonte", -19.960, -43.960, 6000, 1.0),
    ("Nova Suíça", "Belo Horizonte", -19.930, -43.975, 6000, 0.9),
    ("Carlos Prates", "Belo Horizonte", -19.912, -43.960, 5000, 0.9),
    ("Coração Eucarístico", "Belo Horizonte", -19.922, -43.995, 5400, 0.8),
    ("Ipiranga", "Belo Horizonte", -19.885, -43.940, 5000, 0.8),
    ("Havaí", "Belo Horizonte", -19.955, -43.975, 5000, 0.7),
    ("Liberdade", "Belo Horizonte", -19.865, -43.965, 5600, 0.7),
    ("Jaraguá", "Belo Horizonte", -19.860, -43.950, 5000, 0.7),
    ("Palmares", "Belo Horizonte", -19.870, -43.930, 5000, 0.6),
    ("Santa Mônica", "Belo Horizonte", -19.831, -43.975, 3900, 0.6),
    ("Venda Nova", "Belo Horizonte", -19.815, -43.955, 3500, 0.6),
    ("Barreiro", "Belo Horizonte", -19.980, -44.025, 3400, 0.6),
    ("Vila Paris", "Belo Horizonte", -19.945, -43.950, 9100, 0.5),
    ("Vila da Serra", "Nova Lima", -19.975, -43.945, 11000, 0.4),
    ("Eldorado", "Contagem", -19.935, -44.045, 4000, 0.3),
)
STREETS = (
    "Rua Gonçalves Dias",
    "Rua Alvarenga Peixoto",
    "Rua dos Aimorés",
    "Avenida do Contorno",
    "Rua São Paulo",
    "Rua Espírito Santo",
    "Rua Alagoas",
    "Avenida Afonso Pena",
    "Rua da Bahia",
    "Rua Pernambuco",
    "Rua Sergipe",
    "Avenida Prudente de Morais",
    "Rua Paraíba",
    "Rua Tomé de Souza",
)


RELISTED_SHARE = 0.15
TEXT = pd.ArrowDtype(pa.string())
DEFAULT_ROWS = 5981  # the real file's size


def generate_raw_listings(n_rows: int = DEFAULT_ROWS, seed: int = 0) -> pd.DataFrame:
    """Return ``n_rows`` raw listings as text columns (``string[pyarrow]``) in the Kaggle format.

    Vectorised: 1 M rows take a few seconds. Same ``n_rows`` and ``seed``, same frame.
    Raises ``ValueError`` when ``n_rows`` is not positive.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    rng = np.random.default_rng(seed)
    hoods = pd.DataFrame(NEIGHBORHOODS, columns=["name", "city", "lat", "lon", "ppm", "weight"])
    pick = rng.choice(len(hoods), size=n_rows, p=hoods["weight"] / hoods["weight"].sum())
    hood = hoods.iloc[pick].reset_index(drop=True)

    area = np.clip(np.round(np.exp(rng.normal(4.55, 0.55, n_rows))), 18, 1400)
    rooms = np.clip(np.round(area / 45 + rng.normal(0.8, 0.7, n_rows)), 1, 6)
    garage = np.clip(np.round(rooms - 1.5 + rng.normal(0, 0.8, n_rows)), 0, 6)
    lat = hood["lat"].to_numpy() + rng.normal(0, 0.006, n_rows)
    lon = hood["lon"].to_numpy() + rng.normal(0, 0.006, n_rows)
    quality = rng.normal(0, 0.18, n_rows)
    log_price = (
        np.log(hood["ppm"].to_numpy())
        + 0.93 * np.log(area)
        + 0.05 * garage
        + quality
        + rng.normal(0, 0.12, n_rows)
    )
    price = np.round(np.exp(log_price), -3)
    fees = np.round(area * rng.uniform(3.5, 9.0, n_rows) * np.exp(0.5 * quality), 0)
    street = rng.integers(0, len(STREETS), n_rows)
    number = rng.integers(10, 3000, n_rows)

    # The same flat offered again (another agency, a later ad): same address, coordinates, area,
    # rooms, parking and fees, a price a few % apart.
    relisted = _rows(rng, n_rows, RELISTED_SHARE)
    source = rng.choice(_all_but(n_rows, relisted), len(relisted))
    for column in (area, rooms, garage, lat, lon, fees, street, number):
        column[relisted] = column[source]
    hood.iloc[relisted] = hood.iloc[source].to_numpy()
    price[relisted] = np.round(price[source] * np.exp(rng.normal(0, 0.05, len(relisted))), -3)

    raw = pd.DataFrame(
        {
            "address": _join(np.asarray(STREETS)[street], ", ", _integers(number), " "),
            "adm-fees": _join(_integers(fees), ".0"),
            "garage-places": _integers(garage),
            "price": _join(_integers(price), ".0"),
            "rooms": _integers(rooms),
            "square-foot": _integers(area),
            "neighborhood": _join(" ", hood["name"].to_numpy(dtype=str)),
            "city": _join(" ", hood["city"].to_numpy(dtype=str), " "),
            "latitude": _fixed7(lat),
            "longitude": _fixed7(lon),
        }
    ).astype(TEXT)
    _add_mess(raw, rng)
    return raw.loc[:, list(RAW_COLUMNS)]


def _integers(values: np.ndarray) -> pa.Array:
    """Whole numbers as text, like ``str(int(v))``."""
    return pa.array(values.astype(np.int64)).cast(pa.string())


def _join(*parts: object) -> pa.Array:
    """Element-wise concatenation of text arrays and constant strings."""
    arrays = [p if isinstance(p, str) else pa.array(p, type=pa.string()) for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def _fixed7(values: np.ndarray) -> pa.Array:
    """``f"{v:.7f}"`` for every value: integer arithmetic on tenths of a microdegree (rounded
    half to even, like ``format``)."""
    scaled = np.round(np.abs(values) * 1e7).astype(np.int64)
    fraction = pc.utf8_lpad(_integers(scaled % 10_000_000), 7, "0")
    sign = np.where((values < 0) & (scaled > 0), "-", "")
    return _join(sign, _integers(scaled // 10_000_000), ".", fraction)


def _all_but(n: int, rows: np.ndarray) -> np.ndarray:
    """``np.setdiff1d(np.arange(n), rows)`` in linear time."""
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    return np.flatnonzero(keep)


def _rows(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.choice(n, size=max(1, round(n * share)), replace=False)


def _add_mess(raw: pd.DataFrame, rng: np.random.Generator) -> None:
    """Reproduce the real file's defects, in place."""
    n = len(raw)
    raw.loc[_rows(rng, n, 0.33), "adm-fees"] = ""
    raw.loc[_rows(rng, n, 0.09), "garage-places"] = "--"
    land = _rows(rng, n, 0.08)
    raw.loc[land, "rooms"] = "--"
    for column, share in (("square-foot", 0.01), ("rooms", 0.005), ("garage-places", 0.005)):
        rows = _rows(rng, n, share)
        low = pd.to_numeric(raw.loc[rows, column], errors="coerce").fillna(1).clip(lower=1)
        width = rng.integers(1, 20 if column == "square-foot" else 2, len(rows))
        raw.loc[rows, column] = [f"{int(a)}-{int(a + w)}" for a, w in zip(low, width, strict=True)]
    raw.loc[_rows(rng, n, 0.005), "price"] = ""
    raw.loc[_rows(rng, n, 0.004), "neighborhood"] = ""
    outliers = _rows(rng, n, 0.01)
    raw.loc[outliers, "price"] = rng.choice(["450.0", "130000000.0", "45000000.0"], len(outliers))
    raw.loc[_rows(rng, n, 0.002), "square-foot"] = "20000"
    raw.loc[_rows(rng, n, 0.003), "rooms"] = "9"
    far = _rows(rng, n, 0.02)
    raw.loc[far, "latitude"] = [f"{v:.7f}" for v in rng.uniform(-23.5, -18.0, len(far))]
    raw.loc[far, "longitude"] = [f"{v:.7f}" for v in rng.uniform(-47.0, -41.0, len(far))]
    duplicates = _rows(rng, n, 0.01)
    targets = rng.choice(_all_but(n, duplicates), len(duplicates), replace=False)
    raw.loc[duplicates] = raw.loc[targets].to_numpy()
