"""A synthetic SASE-FE-layout dataset of drawn faces with a planted gender bias."""

from fer_audit.data.synthetic.bias import (
    DEFAULT_BIAS,
    PlantedBias,
    Subject,
    SyntheticSettings,
    displayed_emotion,
    displays_other,
)
from fer_audit.data.synthetic.generator import generate, make_subjects
from fer_audit.data.synthetic.render import (
    ACTIONS,
    EXPRESSIONS,
    SKIN_TONES,
    draw_face,
    expression_track,
    render_video,
    write_video,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_BIAS",
    "EXPRESSIONS",
    "SKIN_TONES",
    "PlantedBias",
    "Subject",
    "SyntheticSettings",
    "displayed_emotion",
    "displays_other",
    "draw_face",
    "expression_track",
    "generate",
    "make_subjects",
    "render_video",
    "write_video",
]
