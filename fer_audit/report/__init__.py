"""Reports: Plotly figures (one run's audit, comparisons across runs, the live demo and
training), the summary in words and its glossary, the HTML report and the exports."""
