"""Reports: Plotly figure builders (used by the dashboard and the export), the summary
in words, and the self-contained HTML report."""
