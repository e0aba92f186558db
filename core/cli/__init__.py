"""`python -m core <command>`: one module per command group, thin over the services."""
