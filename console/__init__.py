"""The Streamlit console: app.py (the entry point) builds the navigation; one module per page in pages/."""
