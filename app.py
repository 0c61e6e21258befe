"""fer-audit dashboard entry point: `streamlit run app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="fer-audit", page_icon="⚖️", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/audit.py", title="Audit", icon=":material/balance:"),
]
st.navigation(pages).run()
