"""Streamlit glue: the entry point, the login gate, navigation by role, shared widgets and cached resources."""
