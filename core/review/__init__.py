"""Expert review: the queues (leases, overlap k, gold items), their sync with the store, the one write path of every
judgment, and the service the review pages and the CLI call."""
