"""The store: the engine and its transactions, the tables, the migrations, backups, and what the store holds."""
