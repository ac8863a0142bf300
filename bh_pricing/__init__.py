"""bh-pricing: Belo Horizonte house prices as a Dagster asset graph."""
