"""fer-audit dashboard entry point: `streamlit run app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="fer-audit", page_icon=":material/balance:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
]
st.navigation(pages).run()
