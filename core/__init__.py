"""The human-evaluation workbench: everything the pages, the CLI and the tests share. No Streamlit here."""
