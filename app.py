"""fer-audit dashboard entry point: `streamlit run app.py` (or `make run`)."""

import streamlit as st

from app_pages.ui import page_guard
from app_pages.ui_build import demo_build_view
from fer_audit.workspace import Workspace

st.set_page_config(page_title="fer-audit", page_icon="⚖️", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/audit.py", title="Audit", icon=":material/balance:"),
    st.Page("app_pages/reports.py", title="Reports", icon=":material/download:"),
    st.Page("app_pages/data.py", title="Data", icon=":material/database:"),
    st.Page("app_pages/demo.py", title="Live demo", icon=":material/videocam:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/study.py", title="Study", icon=":material/account_tree:"),
]
with page_guard():  # no traceback reaches a user: the message here, the details in the log
    page = st.navigation(pages)
    if page.title != "Home":  # Home shows the demo build in full
        with st.sidebar:
            demo_build_view(Workspace.from_env(), detailed=False)
    page.run()
