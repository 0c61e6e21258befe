"""Reports: the self-contained HTML report and the CSV tables of the current selection."""

import streamlit as st

from app_pages.housekeeping import deletion_panel, show_deleted
from app_pages.ui import audit_selection
from fer_audit.fairness.result import TABLES
from fer_audit.report.export import export_name, export_zip
from fer_audit.report.html import render_report
from fer_audit.workspace import Workspace

st.title("Reports")
st.write(
    "Downloads for the selection below (the same one the Audit page uses). The HTML "
    "report opens offline in any browser: summary in words, settings and provenance, "
    "rankings, every figure and the tables."
)


workspace = Workspace.from_env()


def not_audited(source) -> None:
    st.page_link(
        "app_pages/audit.py", label="Audit it on the Audit page", icon=":material/analytics:"
    )


show_deleted()
selection = audit_selection(workspace, not_audited=not_audited)
if selection is None:  # a table not audited yet, or a source that cannot be read
    deletion_panel(workspace, st.session_state["audit_source"])
    st.stop()
_, chosen = selection
runs = chosen.settings["runs"]
st.caption(
    f"{len(runs)} run(s): "
    + ", ".join(r["run_id"] for r in runs[:12])
    + (" ..." * (len(runs) > 12))
)


@st.cache_data(show_spinner="Writing the report...")
def report_files(key: str, _result) -> tuple[str, bytes]:
    html = render_report(_result)
    return html, export_zip(_result, report_html=html)


key = repr(
    (
        st.session_state.get("audit_source"),
        chosen.settings.get("created_at"),
        [r["run_id"] for r in runs],
    )
)
html, bundle = report_files(key, chosen)
left, right = st.columns(2)
left.download_button(
    "Download the HTML report",
    html,
    file_name=export_name(chosen, "fer-audit-report", "html"),
    mime="text/html",
    icon=":material/description:",
    type="primary",
)
right.download_button(
    "Download everything (zip: report, CSVs, settings)",
    bundle,
    file_name=export_name(chosen, "fer-audit-export", "zip"),
    mime="application/zip",
    icon=":material/folder_zip:",
)

st.subheader("Tables (CSV)")
descriptions = {
    "gaps": "every gap of every definition, with interval, p-value and adjusted p-value",
    "group_metrics": "accuracy, TPR, FPR and selection rate per group and class, with n",
    "confusion": "confusion counts per group (empty for the published reference)",
    "rankings": "the architectures ranked per training set and definition",
    "summary": "per run: accuracy per group and the aggregate gaps",
    "variation": "per run, rate and class: the rate, videos per subject and the "
    "between-subject SD the sample-size planner starts from",
}
for name in TABLES:
    table = getattr(chosen, name)
    column, button = st.columns([3, 1])
    column.markdown(f"**{name}.csv**: {descriptions[name]} ({len(table)} rows)")
    button.download_button(
        f"{name}.csv",
        chosen.table_csv(name),
        file_name=export_name(chosen, name, "csv"),
        mime="text/csv",
        key=f"csv-{name}",
        disabled=table.empty,
    )

deletion_panel(workspace, st.session_state["audit_source"])
