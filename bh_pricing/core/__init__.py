"""Domain code: schemas, cleaning, features, models, evaluation, promotion. No Dagster here."""
