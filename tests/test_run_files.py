"""Reading a run folder is bounded and validated (issue 12, items 5, 6 and 8): a run file that
is a FIFO, a device, a link out of the folder, a folder or far too large is refused by name
before it is read; invalid JSON is a one-line RunError, never a traceback; weights get the
same file mode as every other run file; the manifest says what differs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.errors import RunError
from rnnlab.runs import files


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runfiles")
    return rnnlab.train(toy_config(write_toy_csv(tmp / "toy.csv", n=120), tmp / "runs", fit__epochs=1)).dir


@pytest.fixture
def copy(trained, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(trained, dest)
    return dest


def bounded(call, seconds: float = 20.0):
    """``call()``'s result or exception; fails (instead of hanging) when it runs past ``seconds``."""
    out: dict = {}

    def go():
        try:
            out["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s (an unbounded read)"
    if "error" in out:
        raise out["error"]
    return out["value"]


def replace(path, how: str, outside) -> None:
    """Make the run file ``path`` a FIFO, a link to /dev/zero, a link out of the folder or a folder."""
    path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    elif how == "dev-zero":
        path.symlink_to("/dev/zero")
    elif how == "link-out":
        outside.write_bytes(b"{}")
        path.symlink_to(outside)
    else:
        path.mkdir()


HOSTILE = ["fifo", "dev-zero", "link-out", "folder"]


# ---------------------------------------------------------------------------------- not a regular file
@pytest.mark.parametrize("how", HOSTILE)
@pytest.mark.parametrize("name", ["labels.json", "vocab.json", "model.safetensors", "config.toml", "metrics.json"])
def test_a_protected_file_that_is_not_a_regular_file_is_refused_before_it_is_read(copy, tmp_path, name, how):
    replace(copy / name, how, tmp_path / "outside.json")
    with pytest.raises(RunError, match=rf"'{copy / name}' is not a regular file inside the run folder") as info:
        bounded(lambda: rnnlab.load_run(copy))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("how", HOSTILE)
@pytest.mark.parametrize("name, read", [("run.json", lambda run: run.info), ("history.csv", lambda run: run.history)])
def test_an_unprotected_file_that_is_not_a_regular_file_is_refused(copy, tmp_path, name, read, how):
    run = rnnlab.load_run(copy)
    replace(copy / name, how, tmp_path / "outside.json")
    with pytest.raises(RunError, match=rf"'{copy / name}' is not a regular file inside the run folder"):
        bounded(lambda: read(run))


def test_a_link_inside_the_folder_is_read(copy):
    (copy / "run.json").rename(copy / "run-original.json")
    (copy / "run.json").symlink_to("run-original.json")
    assert rnnlab.load_run(copy).info["status"] == "completed"


@pytest.mark.parametrize("name, read", [("run.json", lambda run: run.info), ("history.csv", lambda run: run.history),
                                        ("metrics.json", lambda run: run.metrics)])
def test_a_file_over_its_size_limit_is_refused_unread(copy, monkeypatch, name, read):
    run = rnnlab.load_run(copy)
    monkeypatch.setattr(files, "JSON_MAX_BYTES", 100)
    monkeypatch.setattr(files, "TABLE_MAX_BYTES", 100)
    (copy / name).write_bytes(b" " * 101)
    with pytest.raises(RunError, match=rf"'{copy / name}' has more than 100 bytes"):
        read(run)


def test_weights_are_read_no_further_than_the_manifest_says(copy):
    from rnnlab.runs.manifest import recorded_bytes

    size = (copy / "model.safetensors").stat().st_size
    assert recorded_bytes(copy, "model.safetensors") == size
    with pytest.raises(RunError, match=f"has more than {size - 1:,} bytes"):
        files.load_weights(copy / "model.safetensors", max_bytes=size - 1)
    assert files.load_weights(copy / "model.safetensors", max_bytes=size)


# ---------------------------------------------------------------------------------- invalid content
def test_invalid_run_json_is_a_one_line_run_error(copy):
    (copy / "run.json").write_text('{"created_at": "2024-01-01", oops')
    run = rnnlab.load_run(copy)
    with pytest.raises(RunError, match=r"run.json' is not valid JSON \(line 1 column 30: .*delete it") as info:
        run.info
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content, words", [
    ("[1, 2]", "not a JSON object"), ('{"created_at": 5}', "'created_at' must be a string"),
    ('{"rnnlab_version": ["1"]}', "'rnnlab_version' must be a string"), (b"\xff\xfe{}", "not UTF-8"),
])
def test_run_json_of_the_wrong_shape_is_refused(copy, content, words):
    (copy / "run.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RunError, match=words):
        rnnlab.load_run(copy).info


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.one_of(st.binary(max_size=200),
                      st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=20),
                                   lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                              max_size=4),
                                   max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_any_bytes_in_an_unprotected_json_file_read_or_are_one_run_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz", numbered=True)
    for name in ("run.json", "metrics.json"):
        (folder / name).write_bytes(data)
        try:
            value = files.read_json(folder / name)
        except RunError as exc:
            assert "\n" not in str(exc) and name in str(exc)
        else:
            assert isinstance(value, dict)
    (folder / "history.csv").write_bytes(data)
    try:
        rows = files.read_history(rnnlab.runs.RunFolder(folder))
    except RunError as exc:
        assert "\n" not in str(exc) and "history.csv" in str(exc)
    else:
        assert isinstance(rows, list)


# ---------------------------------------------------------------------------------- weights mode, manifest
def test_every_run_file_gets_the_umask_mode(trained):
    mask = os.umask(0)
    os.umask(mask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in trained.rglob("*") if p.is_file()}
    assert "model.safetensors" in modes
    assert {name: mode for name, mode in modes.items() if mode != 0o666 & ~mask} == {}


def test_a_shortened_file_is_reported_by_its_sizes_not_as_truncated(copy):
    f = copy / "labels.json"
    original = f.read_bytes()
    edited = original.replace(b"pos", b"po")  # an edit that shortens it, not a truncation
    f.write_bytes(edited)
    with pytest.raises(RunError) as info:
        rnnlab.load_run(copy)
    message = str(info.value)
    assert f"{len(edited):,} bytes where {'manifest.json'} records {len(original):,}" in message
    assert "sha256 differs" in message and "truncated" not in message


def test_a_same_size_edit_is_reported_as_a_checksum_mismatch(copy):
    f = copy / "labels.json"
    data = f.read_bytes()
    f.write_bytes(data.replace(b"pos", b"neg"))
    with pytest.raises(RunError, match=rf"same size \({len(data):,} bytes\) but its sha256 differs"):
        rnnlab.load_run(copy)


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(copy, tmp_path):
    manifest = json.loads((copy / "manifest.json").read_text())
    (tmp_path / "secret").write_text("x")
    manifest["files"]["../secret"] = {"sha256": "0" * 64, "bytes": 1}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunError, match="manifest.json' is damaged"):
        rnnlab.load_run(copy)


def test_run_json_says_which_machine_and_load_the_timings_were_measured_at(trained):
    """Issue 14 item 6: a time read from a run states the machine and the load beside it."""
    info = rnnlab.load_run(trained).info
    assert info["machine"]["cores"] == os.cpu_count() and info["machine"]["cpu_model"]
    load = info["load_average"]
    assert len(load) == 3 and all(isinstance(x, float) and x >= 0 for x in load)
    assert info["duration_seconds"] > 0
