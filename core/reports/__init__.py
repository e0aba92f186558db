"""Reports: each a function from the store (and filters) to plain data, aggregated in SQL."""
