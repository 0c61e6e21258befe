"""The dashboard: its pages (one file each, listed in app.py) and the Streamlit helpers
they share (ui.py, ui_build.py); the library itself never imports Streamlit."""
