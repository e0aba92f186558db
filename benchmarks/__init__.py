"""Benchmarks, one module per hot area (`python -m benchmarks.imports`, ...). Each builds its own synthetic store in a
temporary folder, prints a readable table, and prints as its last line one JSON object with every figure."""
