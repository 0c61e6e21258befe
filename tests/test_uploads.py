"""Datasets uploaded as a zip of videos and a manifest (issue #15, part 3): a good zip is
stored and registered; hostile zips are refused with the offending entry named and
leave the workspace as it was; deleting removes only what the upload stored; the
command line and the Data page do the same."""

from __future__ import annotations

import csv
import io
import stat
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, make_sasefe, shown, widget
from fer_audit.cli import main
from fer_audit.data.archive import (
    LIMITS,
    MIB,
    ArchiveError,
    ArchiveLimits,
    ArchivePlan,
    copy_capped,
    extract,
)
from fer_audit.data.deletion import dataset_dependents, delete_dataset
from fer_audit.data.index import DatasetError
from fer_audit.data.registry import list_datasets, load_dataset, register_dataset
from fer_audit.data.uploads import suggested_name, upload_dataset
from fer_audit.workspace import Workspace

# ---------------------------------------------------------------- material


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """SYNTHETIC clips (1 + 1 subjects, 32 px, 1 s) and their index, made once."""
    from fer_audit.data.sasefe import read_sasefe
    from fer_audit.data.synthetic import SyntheticSettings, generate

    folder = tmp_path_factory.mktemp("clips") / "syn"
    settings = SyntheticSettings(
        subjects_per_group={"female": 1, "male": 1}, size=32, fps=10, duration_s=1.0
    )
    generate(folder, settings)
    return folder, read_sasefe(folder, dataset="syn").index


def manifest_text(index: pd.DataFrame, prefix: str = "", extra_rows=()) -> str:
    text = io.StringIO()
    rows = csv.writer(text)
    rows.writerow(["path", "subject", "gender", "emotion", "authenticity"])
    for row in index.itertuples():
        rows.writerow([prefix + row.path, row.subject, row.gender, row.emotion, row.authenticity])
    rows.writerows(extra_rows)
    return text.getvalue()


def clip_entries(clips, prefix: str = "") -> list[tuple[str | zipfile.ZipInfo, bytes]]:
    """Every clip at its path (under `prefix`), and the SYNTHETIC marker."""
    folder, index = clips
    entries = [(prefix + p, (folder / p).read_bytes()) for p in index["path"]]
    return entries + [(prefix + "SYNTHETIC.json", (folder / "SYNTHETIC.json").read_bytes())]


def write_zip(path: Path, entries) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def good_zip(path: Path, clips, *extra) -> Path:
    """The clips with manifest.csv at the zip's root, and `extra` entries."""
    return write_zip(
        path, [*clip_entries(clips), ("manifest.csv", manifest_text(clips[1])), *extra]
    )


def tree(root: Path) -> list[tuple[str, int]]:
    """Every path under `root` with its size (folders: -1). The workspace lock's files
    under locks/ are left out: taking a lock leaves its (empty) file by design."""
    return sorted(
        (p.relative_to(root).as_posix(), p.stat().st_size if p.is_file() else -1)
        for p in root.rglob("*")
        if p.relative_to(root).parts[0] != "locks"
    )


@pytest.fixture
def space(tmp_path, clips) -> Workspace:
    """A workspace already holding an upload ("first") and a folder dataset."""
    workspace = Workspace(tmp_path / "workspace")
    upload_dataset(workspace, good_zip(tmp_path / "first.zip", clips), name="first")
    folder = make_sasefe(tmp_path / "data" / "sase", {"S1": "female", "S2": "male"})
    register_dataset(workspace, "folder", folder, kind="sasefe")
    return workspace


# ---------------------------------------------------------------- good uploads


def test_a_good_zip_registers_and_its_clips_are_listed(space, tmp_path, clips):
    upload = upload_dataset(space, good_zip(tmp_path / "clips.zip", clips), name="mine")
    stored = space.root / "uploads" / "mine"
    assert upload.stored_at == stored and upload.files == 26  # 24 clips, manifest, marker
    dataset = load_dataset(space, "mine")
    assert sorted(dataset.index["path"]) == sorted(clips[1]["path"])
    assert all(dataset.video_path(p).is_file() for p in dataset.index["path"])
    assert dataset.root == stored.resolve() and dataset.meta["kind"] == "manifest"
    assert dataset.meta["upload"] == {"archive": "clips.zip", "files": 26, "bytes": upload.bytes}
    assert dataset.synthetic  # the zip's SYNTHETIC.json keeps it labelled
    assert dataset.meta["subjects_per_gender"] == {"female": 1, "male": 1}
    assert {m["name"] for m in list_datasets(space)} == {"first", "folder", "mine"}
    assert not (space.root / "uploads" / ".staging").exists()


def test_the_manifest_can_come_beside_the_zip_and_both_can_be_uploads(space, clips):
    """As the page gives them: file objects, read in chunks."""
    archive = io.BytesIO(write_zip(io.BytesIO(), clip_entries(clips)).getvalue())
    manifest = io.BytesIO(manifest_text(clips[1]).encode())
    upload = upload_dataset(space, archive, name="beside", manifest=manifest, archive_name="a.zip")
    assert upload.dataset.meta["n_videos"] == 24
    assert (upload.stored_at / "manifest.csv").read_bytes() == manifest.getvalue()


def test_a_zipped_folder_is_read_from_that_folder(space, tmp_path, clips):
    """Finder's "Compress": one top folder holding the manifest, plus __MACOSX forks."""
    entries = [
        *clip_entries(clips, "my clips/"),
        ("my clips/manifest.csv", manifest_text(clips[1])),
        ("my clips/.DS_Store", b"\x00"),
        ("__MACOSX/my clips/._F01.mp4", b"\x00"),
    ]
    upload = upload_dataset(space, write_zip(tmp_path / "z.zip", entries), name="zipped")
    assert upload.dataset.meta["n_videos"] == 24
    assert (upload.stored_at / "manifest.csv").is_file()
    assert upload.notes == [
        "2 hidden or archiver entries (such as __MACOSX/ or .DS_Store) were left out"
    ]


def test_rows_without_their_file_are_reported_as_a_folder_registration_does(space, tmp_path, clips):
    folder, index = clips
    listed, unlisted = index.iloc[1:], index.iloc[0]["path"]
    text = manifest_text(listed, extra_rows=[["F99/N2A.mp4", "F99", "female", "neutral"]])
    archive = write_zip(tmp_path / "z.zip", [*clip_entries(clips), ("manifest.csv", text)])
    upload = upload_dataset(space, archive, name="partial")
    assert [(s.path, s.reason) for s in upload.result.skipped] == [
        ("F99/N2A.mp4", "row 25: file not found")
    ]
    assert upload.dataset.meta["skipped"] == [
        {"path": "F99/N2A.mp4", "reason": "row 25: file not found"}
    ]
    assert upload.notes == [
        f"1 of the zip's 24 videos are not in the manifest, so not in the dataset: {unlisted}"
    ]


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("my clips (2).zip", "my-clips-2"),
        ("__x.zip", "x"),
        ("études.zip", "tudes"),
        (".zip", "zip"),
    ],
)
def test_a_name_is_suggested_from_the_file_name(filename, name):
    assert suggested_name(filename) == name


# ---------------------------------------------------------------- hostile uploads


def entry_of_type(name: str, mode: int = stat.S_IFLNK) -> zipfile.ZipInfo:
    """An entry whose Unix mode (in the high bits of its external attributes, as zip
    and unzip keep it) says a symbolic link, or another file type."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (mode | 0o777) << 16
    return info


HOSTILE = {
    "zip-slip": (("../evil.mp4", b"x"), "'../evil.mp4': '..' in its path"),
    "zip-slip inside": (("S01/../../evil.mp4", b"x"), "'S01/../../evil.mp4': '..' in its path"),
    "absolute path": (("/tmp/evil.mp4", b"x"), "'/tmp/evil.mp4': an absolute path"),
    "drive letter": (("C:/evil.mp4", b"x"), "'C:/evil.mp4': a drive letter"),
    "backslash": (("..\\evil.mp4", b"x"), "'..\\\\evil.mp4': a backslash in its path"),
    "symlink": ((entry_of_type("S01/link.mp4"), b"/etc/passwd"), "'S01/link.mp4': a symbolic link"),
    "long name": (("S01/" + "a" * 300 + ".mp4", b"x"), "a name longer than 255 bytes"),
    "special file": (
        (entry_of_type("S01/pipe.mp4", stat.S_IFIFO), b""),
        "'S01/pipe.mp4': a special file",
    ),
    "duplicate": (("S01/N2A.mp4", b"x"), "'S01/N2A.mp4': appears twice"),
    "file and folder": (("S01/N2A.mp4/x.mp4", b"x"), "'S01/N2A.mp4': both a file and a folder"),
    "not a video by name": (("notes.txt", b"hello"), "'notes.txt': not a video (.txt)"),
    "not a video by content": (
        ("S01/fake.mp4", b"not a video at all"),
        "'S01/fake.mp4': not a video by its content",
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_entry_is_refused_by_name_and_changes_nothing(space, tmp_path, clips, case):
    entry, message = HOSTILE[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's own "Duplicate name"
        archive = good_zip(tmp_path / "hostile.zip", clips, entry)
    before = tree(space.root)
    with pytest.raises(ArchiveError) as refused:
        upload_dataset(space, archive, name="hostile")
    assert message in str(refused.value)
    assert tree(space.root) == before
    assert not (tmp_path / "evil.mp4").exists() and not Path("/tmp/evil.mp4").exists()


def test_every_offending_entry_is_listed_in_one_message(space, tmp_path, clips):
    archive = good_zip(
        tmp_path / "z.zip", clips, ("../a.mp4", b"x"), ("b.txt", b"x"), (entry_of_type("c"), b"/")
    )
    with pytest.raises(ArchiveError) as refused:
        upload_dataset(space, archive, name="many")
    assert refused.value.summary == "z.zip is refused: 3 problem(s)"
    assert refused.value.problems == [
        "'../a.mp4': '..' in its path (it would leave the folder)",
        "'c': a symbolic link",
        "'b.txt': not a video (.txt)",
    ]


def test_too_many_entries_are_refused_before_reading_them(space, tmp_path, clips):
    archive = good_zip(tmp_path / "z.zip", clips)
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="it has 26 entries, more than the 25 allowed"):
        upload_dataset(space, archive, name="many", limits=ArchiveLimits(max_entries=25))
    assert tree(space.root) == before


def test_an_entry_over_the_size_cap_is_refused_by_its_declared_size(space, tmp_path, clips):
    archive = good_zip(tmp_path / "z.zip", clips, ("S01/big.mp4", bytes(2 * MIB)))
    before = tree(space.root)
    with pytest.raises(ArchiveError) as refused:
        upload_dataset(space, archive, name="big", limits=ArchiveLimits(max_entry_bytes=MIB))
    assert "'S01/big.mp4': 2.0 MiB unpacked, over the 1.0 MiB allowed for this file" in str(
        refused.value
    )
    with pytest.raises(ArchiveError, match="over the 1.0 MiB allowed in all"):
        upload_dataset(space, archive, name="big", limits=ArchiveLimits(max_total_bytes=MIB))
    assert tree(space.root) == before


def patch_headers(path: Path, name: str, central: int, local: int, value: bytes) -> None:
    """Overwrite, in entry `name`'s central directory record and local header, the
    bytes at offsets `central` and `local` with `value` (a field the reader trusts)."""
    data = bytearray(path.read_bytes())
    offset = 0
    while (offset := data.find(b"PK\x01\x02", offset + 1)) != -1:
        length = int.from_bytes(data[offset + 28 : offset + 30], "little")
        if data[offset + 46 : offset + 46 + length] == name.encode():
            data[offset + central : offset + central + len(value)] = value
            header = int.from_bytes(data[offset + 42 : offset + 46], "little")
            data[header + local : header + local + len(value)] = value
    path.write_bytes(bytes(data))


def test_a_manifest_over_its_cap_is_refused_and_a_big_directory_too(space, tmp_path, clips):
    """Both are read into memory: the manifest (and SYNTHETIC.json), and the zip's
    directory."""
    archive = good_zip(tmp_path / "z.zip", clips)
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="'manifest.csv': .* over the 100 bytes allowed"):
        upload_dataset(space, archive, name="m", limits=ArchiveLimits(max_manifest_bytes=100))
    with pytest.raises(ArchiveError, match="its directory is .* over the 1.0 KiB allowed"):
        upload_dataset(space, archive, name="m", limits=ArchiveLimits(max_directory_bytes=1024))
    assert tree(space.root) == before


def lie_about_size(path: Path, name: str, declared: int) -> None:
    """Make entry `name`'s headers declare `declared` bytes unpacked."""
    patch_headers(path, name, 24, 22, declared.to_bytes(4, "little"))


def test_an_encrypted_entry_is_refused(space, tmp_path, clips):
    archive = good_zip(tmp_path / "z.zip", clips, ("S01/secret.mp4", b"x"))
    patch_headers(archive, "S01/secret.mp4", 8, 6, (1).to_bytes(2, "little"))  # flag bit 0
    with pytest.raises(ArchiveError, match="'S01/secret.mp4': encrypted"):
        upload_dataset(space, archive, name="secret")


def test_an_end_record_that_understates_the_entries_is_caught(space, tmp_path, clips):
    archive = good_zip(tmp_path / "z.zip", clips)
    data = bytearray(archive.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2  # entries here, and in all
    archive.write_bytes(bytes(data))
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="more than 25 entries"):
        upload_dataset(space, archive, name="many", limits=ArchiveLimits(max_entries=25))
    assert tree(space.root) == before


def test_extraction_itself_refuses_a_path_that_leaves_its_folder(tmp_path, clips):
    """The last word, below the checks of the zip's directory: a plan with an escaping
    path (as if those checks had missed it) writes nothing outside."""
    archive = good_zip(tmp_path / "z.zip", clips)
    with zipfile.ZipFile(archive) as opened:
        info = opened.getinfo("manifest.csv")
        plan = ArchivePlan("", [("../escaped.mp4", info)], True, info.file_size)
        with pytest.raises(ArchiveError, match="'../escaped.mp4' would leave the folder"):
            extract(opened, plan, tmp_path / "dest", LIMITS)
    assert not (tmp_path / "escaped.mp4").exists()


def test_an_archive_over_its_cap_is_refused_file_or_upload(space, tmp_path, clips):
    archive = good_zip(tmp_path / "z.zip", clips)
    limits = ArchiveLimits(max_archive_bytes=archive.stat().st_size - 1)
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="z.zip is refused: .* bytes, over the"):
        upload_dataset(space, archive, name="large", limits=limits)
    with pytest.raises(ArchiveError, match="up.zip is refused: over"):
        stream = io.BytesIO(archive.read_bytes())
        upload_dataset(space, stream, name="large", archive_name="up.zip", limits=limits)
    assert tree(space.root) == before


def test_an_upload_the_disk_has_no_room_for_is_refused(space, tmp_path, clips, monkeypatch):
    import shutil

    import fer_audit.data.uploads as uploads

    full = shutil.disk_usage(tmp_path)._replace(free=1000)
    monkeypatch.setattr(uploads.shutil, "disk_usage", lambda path: full)
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="the workspace's disk has 1,000 free: make room"):
        upload_dataset(space, good_zip(tmp_path / "z.zip", clips), name="full")
    assert tree(space.root) == before


def test_a_zip_bomb_that_lies_about_its_size_is_stopped(space, tmp_path, clips):
    archive = good_zip(tmp_path / "bomb.zip", clips, ("S01/bomb.mp4", bytes(8 * MIB)))
    lie_about_size(archive, "S01/bomb.mp4", 100)
    with zipfile.ZipFile(archive) as opened:  # the lie is what a reader is told
        assert opened.getinfo("S01/bomb.mp4").file_size == 100
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="'S01/bomb.mp4' cannot be unpacked"):
        upload_dataset(space, archive, name="bomb", limits=ArchiveLimits(max_entry_bytes=MIB))
    assert tree(space.root) == before


def test_the_bytes_written_are_counted_whatever_a_header_says():
    """The counting guard itself: a source longer than the cap is cut off, with an
    error, before anything beyond the cap is written."""
    out = io.BytesIO()
    with pytest.raises(ArchiveError, match="'x.mp4' is refused: over 1.0 MiB"):
        copy_capped(io.BytesIO(bytes(3 * MIB)), out, MIB, what="'x.mp4'")
    assert out.tell() <= MIB


@pytest.mark.parametrize(
    "content", [b"", b"PK\x03\x04 truncated", b"just text, not a zip", bytes(100)]
)
def test_a_file_that_is_not_a_zip_is_refused(space, tmp_path, content):
    archive = tmp_path / "clips.zip"
    archive.write_bytes(content)
    before = tree(space.root)
    with pytest.raises(ArchiveError, match="clips.zip is not a zip archive"):
        upload_dataset(space, archive, name="notzip")
    assert tree(space.root) == before


def test_a_manifest_naming_files_outside_the_zip_is_refused(space, tmp_path, clips):
    outside = [["../../outside.mp4", "X", "female", "happy"], ["/etc/passwd", "X", "female", "sad"]]
    text = manifest_text(clips[1], extra_rows=outside)
    archive = write_zip(tmp_path / "z.zip", [*clip_entries(clips), ("manifest.csv", text)])
    before = tree(space.root)
    with pytest.raises(DatasetError) as refused:
        upload_dataset(space, archive, name="outside")
    assert refused.value.problems == ["row 26: '../../outside.mp4'", "row 27: '/etc/passwd'"]
    assert tree(space.root) == before


def test_no_manifest_or_two_manifests_are_refused(space, tmp_path, clips):
    videos_only = write_zip(tmp_path / "v.zip", clip_entries(clips))
    with pytest.raises(ArchiveError, match="no manifest.csv at the zip's root"):
        upload_dataset(space, videos_only, name="none")
    both = good_zip(tmp_path / "b.zip", clips)
    with pytest.raises(ArchiveError, match="'manifest.csv': a manifest inside the zip, and"):
        upload_dataset(space, both, name="both", manifest=io.BytesIO(b"path\n"))


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 101])
def test_a_name_that_would_leave_the_workspace_is_refused(space, tmp_path, clips, name):
    archive = good_zip(tmp_path / "z.zip", clips)
    before = tree(space.root)
    with pytest.raises(DatasetError, match="is not allowed"):
        upload_dataset(space, archive, name=name)
    assert tree(space.root) == before


def test_a_linked_uploads_folder_cannot_lead_outside(space, tmp_path, clips):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (space.uploads_dir / "evil").symlink_to(elsewhere)
    with pytest.raises(DatasetError, match="points outside"):
        upload_dataset(space, good_zip(tmp_path / "z.zip", clips), name="evil")
    assert list(elsewhere.iterdir()) == []


def test_a_taken_name_is_refused(space, tmp_path, clips):
    with pytest.raises(DatasetError, match="'folder' is already registered: choose another"):
        upload_dataset(space, good_zip(tmp_path / "z.zip", clips), name="folder")


def test_a_failure_after_registering_leaves_nothing(space, tmp_path, clips, monkeypatch):
    import fer_audit.data.uploads as uploads

    seen = []

    def register_then_fail(workspace, name, *args, **kwargs):
        register_dataset(workspace, name, *args, **kwargs)
        seen.append(sorted(p.name for p in workspace.dataset_dir(name).iterdir()))
        raise OSError("disk vanished")

    monkeypatch.setattr(uploads, "register_dataset", register_then_fail)
    before = tree(space.root)
    with pytest.raises(OSError, match="disk vanished"):
        upload_dataset(space, good_zip(tmp_path / "z.zip", clips), name="midway")
    assert seen == [["dataset.json", "index.csv"]]  # it had registered, and stored
    assert tree(space.root) == before


def test_a_manifest_with_a_bad_row_registers_nothing(space, tmp_path, clips):
    text = manifest_text(clips[1], extra_rows=[["S01/N2A.mp4", "S01", "female", "boredom"]])
    archive = write_zip(tmp_path / "z.zip", [*clip_entries(clips), ("manifest.csv", text)])
    before = tree(space.root)
    with pytest.raises(DatasetError, match="has 1 bad row"):
        upload_dataset(space, archive, name="badrow")
    assert tree(space.root) == before


# ---------------------------------------------------------------- deleting


def write_dependents(workspace: Workspace, dataset: str) -> None:
    """A run, a predictions table and an audit of `dataset`: the fields of each that
    name the dataset, in the files fer-audit writes them to."""
    from fer_audit import atomic

    run_id = f"{dataset}-3dcnn-regular-s1"
    atomic.write_json(
        workspace.run_dir(run_id) / "run.json",
        {"run_id": run_id, "arch": "3dcnn", "dataset": dataset},
    )
    table = pd.DataFrame({"run_id": [run_id], "dataset": [dataset], "y_true": ["sad"]})
    workspace.predictions_dir.mkdir(exist_ok=True)
    table.to_parquet(workspace.predictions_path(f"{run_id}+1"))
    path = str(workspace.predictions_path(f"{run_id}+1").resolve())
    source = {"kind": "predictions", "path": path, "datasets": [dataset]}
    atomic.write_json(workspace.audit_dir(f"audit-{dataset}") / "audit.json", {"source": source})


def test_delete_removes_only_what_the_upload_stored(space, tmp_path, clips):
    upload_dataset(space, good_zip(tmp_path / "z.zip", clips), name="doomed")
    write_dependents(space, "doomed")
    write_dependents(space, "first")
    dependents = dataset_dependents(space, "doomed")
    assert dependents.runs == ["doomed-3dcnn-regular-s1"]
    assert dependents.predictions == ["doomed-3dcnn-regular-s1+1.parquet"]
    assert dependents.audits == ["audit-doomed"]
    before = tree(space.root)
    deletion = delete_dataset(space, "doomed")
    removed = ("datasets/doomed", "uploads/doomed")
    assert tree(space.root) == [p for p in before if not p[0].startswith(removed)]
    assert deletion.removed == [
        f"its registration {space.root / 'datasets' / 'doomed'}",
        f"its stored copy {space.root / 'uploads' / 'doomed'}",
    ]
    assert deletion.kept == [
        "1 run(s) trained on it: doomed-3dcnn-regular-s1 (kept)",
        "1 predictions table(s) of it: doomed-3dcnn-regular-s1+1.parquet (kept)",
        "1 audit(s) of those predictions: audit-doomed (kept)",
    ]
    assert load_dataset(space, "first").meta["n_videos"] == 24


def test_deleting_a_folder_dataset_removes_its_registration_only(space, tmp_path):
    folder = tmp_path / "data" / "sase"
    files = tree(folder)
    before = tree(space.root)
    deletion = delete_dataset(space, "folder")
    assert tree(space.root) == [p for p in before if not p[0].startswith("datasets/folder")]
    assert tree(folder) == files
    assert deletion.kept == [
        f"its folder {folder.resolve()} is left untouched (not a copy fer-audit stored)"
    ]


def test_deleting_refuses_unknown_and_unsafe_names(space):
    before = tree(space.root)
    with pytest.raises(DatasetError, match="no dataset named 'nope'"):
        delete_dataset(space, "nope")
    with pytest.raises(DatasetError, match="is not allowed"):
        delete_dataset(space, "../workspace")
    assert tree(space.root) == before


# ---------------------------------------------------------------- command line


def run(capsys, workspace, *args):
    code = main(["--workspace", str(workspace.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_commands_upload_show_and_delete(capsys, space, tmp_path, clips):
    archive = write_zip(tmp_path / "videos.zip", clip_entries(clips))
    manifest = tmp_path / "labels.csv"
    manifest.write_text(manifest_text(clips[1]))
    code, out, err = run(
        capsys, space, "datasets", "upload", str(archive), "--manifest", str(manifest),
        "--name", "cli",
    )  # fmt: skip
    stored = space.root / "uploads" / "cli"
    assert (code, err) == (0, "")
    assert (
        "cli (manifest): 24 videos, 2 subjects (1 female, 1 male)  [SYNTHETIC]  "
        "[uploaded: stored in the workspace]" in out
    )
    assert f"stored in the workspace: {stored} (26 files" in out  # with the manifest
    assert "delete it with: fer-audit datasets delete cli" in out
    code, out, _ = run(capsys, space, "datasets", "show", "cli")
    assert code == 0 and f"uploaded: stored in the workspace at {stored}" in out
    code, out, err = run(capsys, space, "datasets", "delete", "cli")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "deleted dataset cli:",
        f"  removed its registration {space.root / 'datasets' / 'cli'}",
        f"  removed its stored copy {stored}",
    ]
    code, out, _ = run(capsys, space, "datasets", "delete", "folder")
    assert code == 0 and "left untouched" in out


def test_the_upload_command_refuses_a_hostile_zip_in_one_message(capsys, space, tmp_path, clips):
    archive = good_zip(tmp_path / "z.zip", clips, ("../evil.mp4", b"x"))
    before = tree(space.root)
    code, out, err = run(capsys, space, "datasets", "upload", str(archive), "--name", "bad")
    assert (code, out) == (2, "")
    assert err.startswith("error: z.zip is refused: 1 problem(s)") and "'../evil.mp4'" in err
    assert "Traceback" not in err and tree(space.root) == before


# ---------------------------------------------------------------- Data page


@pytest.fixture
def page_env(monkeypatch, space, tmp_path):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(space.root))
    monkeypatch.setenv("FER_AUDIT_DATA_ROOTS", str(tmp_path / "data"))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    return space


def data_page() -> AppTest:
    return AppTest.from_file(str(REPO / "app_pages" / "data.py"), default_timeout=60).run()


def test_the_data_page_uploads_a_zip_and_manifest_then_deletes_it(page_env, clips):
    app = data_page()
    archive = write_zip(io.BytesIO(), clip_entries(clips)).getvalue()
    widget(app.file_uploader, "Zip of videos").upload("my clips.zip", archive, "application/zip")
    widget(app.file_uploader, "Manifest CSV (leave empty when the zip holds manifest.csv)").upload(
        "labels.csv", manifest_text(clips[1]).encode(), "text/csv"
    )
    app.run()
    assert widget(app.text_input, "Dataset name").value == "my-clips"  # from the zip's name
    widget(app.text_input, "Dataset name").set_value("paged")
    widget(app.button, "Upload and register").click().run()
    assert not app.exception and not app.error
    stored = page_env.root / "uploads" / "paged"
    done = shown(app.success[0].value)
    assert "Registered paged: 24 videos of 2 subjects (SYNTHETIC data)." in done
    assert f"Stored in the workspace at {stored} (26 files" in done
    assert "Datasets tab, choose paged, 'Delete this dataset'" in done
    assert widget(app.file_uploader, "Zip of videos").value is None  # dropped from memory

    widget(app.selectbox, "Dataset").set_value("paged").run()
    notes = [shown(i.value) for i in app.info]
    assert any(f"stored in the workspace at `{stored}`" in n for n in notes)
    widget(app.checkbox, "Delete this dataset").check().run()
    (warning,) = [shown(w.value) for w in app.warning if "This removes" in w.value]
    assert f"its stored copy `{stored}`" in warning and "Made from it, kept" in warning
    widget(app.button, "Delete paged now").click().run()
    assert not app.exception
    assert "Deleted paged." in shown(app.success[0].value)
    assert not stored.exists() and "paged" not in widget(app.selectbox, "Dataset").options


def test_the_data_page_names_the_entry_of_a_hostile_zip(page_env, clips):
    app = data_page()
    archive = write_zip(
        io.BytesIO(), [*clip_entries(clips), ("manifest.csv", manifest_text(clips[1])),
                       ("../../evil.mp4", b"x")],
    ).getvalue()  # fmt: skip
    before = tree(page_env.root)
    widget(app.file_uploader, "Zip of videos").upload("bad.zip", archive, "application/zip")
    app.run()
    widget(app.button, "Upload and register").click().run()
    assert not app.exception and not app.success
    error = shown(app.error[0].value)
    assert "bad.zip is refused: 1 problem(s)" in error and "'../../evil.mp4'" in error
    assert tree(page_env.root) == before
