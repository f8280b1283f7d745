"""load_imdb on tiny fake copies of every IMDB form (CSV, aclImdb folder/archive, Keras npz)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format

from rnnlab.data import imdb
from rnnlab.data.imdb import load_imdb
from rnnlab.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
KERAS_REFERENCE = REPO / "tests" / "fixtures" / "keras" / "imdb_load_data.json"
REAL_CSV = REPO.parent / "shared" / "data" / "imdb" / "aclImdb_train.csv.gz"

REVIEWS = {  # split/label/N_R.txt -> text
    "train/pos/10_9.txt": "Great film.<br /><br />Really.",
    "train/pos/2_7.txt": "Loved it",
    "train/neg/1_1.txt": "Awful",
    "train/neg/0_3.txt": "Boring",
    "train/unsup/0_0.txt": "not labelled",
    "test/pos/0_10.txt": "Superb",
    "test/neg/5_2.txt": "Meh",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("RNNLAB_IMDB", "RNNLAB_OFFLINE", "RNNLAB_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)


def make_folder(root: Path, extra: dict[str, bytes] | None = None) -> Path:
    """root/aclImdb with REVIEWS (plus ``extra`` raw files); returns the aclImdb folder."""
    base = root / "aclImdb"
    files = {k: v.encode() for k, v in REVIEWS.items()} | (extra or {})
    files["train/urls_pos.txt"] = b"http://example.com\n"
    for name, raw in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(raw)
    return base


def make_archive(root: Path, extra: dict[str, bytes] | None = None) -> Path:
    folder = make_folder(root / "src", extra)
    archive = root / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="aclImdb")
    return archive


# --- aclImdb folder and archive ---------------------------------------------------------------

@pytest.mark.parametrize("form", ["folder", "parent", "archive"])
def test_aclimdb_forms(tmp_path, form):
    path = {"folder": lambda: make_folder(tmp_path), "parent": lambda: make_folder(tmp_path).parent,
            "archive": lambda: make_archive(tmp_path)}[form]()
    ds = load_imdb(path)
    assert ds.ids.tolist() == ["pos/2_7", "pos/10_9", "neg/0_3", "neg/1_1"]
    assert ds.texts == ["Loved it", "Great film.<br /><br />Really.", "Boring", "Awful"]
    assert ds.targets.tolist() == [[1.0], [1.0], [0.0], [0.0]] and ds.targets.dtype == np.float32
    assert ds.schema.to_dict() == {"task": "binary", "labels": ["positive"], "column": "label"}
    test = load_imdb(path, split="test")
    assert test.ids.tolist() == ["pos/0_10", "neg/5_2"] and test.texts == ["Superb", "Meh"]


@pytest.mark.parametrize("archive", [False, True])
def test_aclimdb_bad_utf8_names_the_file(tmp_path, archive):
    extra = {"train/neg/3_2.txt": b"caf\xe9 au lait"}
    path = make_archive(tmp_path, extra) if archive else make_folder(tmp_path, extra)
    with pytest.raises(DataError, match=r"train/neg/3_2\.txt' line 1, byte 4: not valid UTF-8"):
        load_imdb(path)
    assert load_imdb(path, split="test").ids.tolist() == ["pos/0_10", "neg/5_2"]


def test_aclimdb_empty_text_policy(tmp_path):
    path = make_folder(tmp_path, {"train/pos/7_8.txt": b"  \n"})
    assert "kept 1 empty reviews" in load_imdb(path).notes[0]
    dropped = load_imdb(path, empty_text="drop")
    assert "pos/7_8" not in dropped.ids.tolist() and len(dropped) == 4 and dropped.targets.shape == (4, 1)
    with pytest.raises(DataError, match=r"1 empty reviews \(pos/7_8\)"):
        load_imdb(path, empty_text="error")


def test_aclimdb_wrong_folder_and_broken_archive(tmp_path):
    with pytest.raises(DataError, match="has no 'train' folder"):
        load_imdb(tmp_path)
    bad = tmp_path / "aclImdb_v1.tar.gz"
    bad.write_bytes(gzip.compress(b"not a tar" * 100)[:50])
    with pytest.raises(DataError, match="Cannot read archive"):
        load_imdb(bad)


# --- CSV ---------------------------------------------------------------------------------------

def write_csv(path: Path) -> Path:
    rows = ['0,9,1,"Great, really",aclImdb/train/pos/0_9.txt',
            "1,7,1,Loved it,aclImdb/train/pos/1_7.txt",
            "0,2,0,Awful,aclImdb/train/neg/0_2.txt",
            "1,4,0,,aclImdb/train/neg/1_4.txt"]
    path.write_bytes(gzip.compress(("id,rating,label,text,source_path\n" + "\n".join(rows) + "\n").encode()))
    return path


def test_csv_builds_unique_ids(tmp_path):
    ds = load_imdb(write_csv(tmp_path / "imdb.csv.gz"))
    assert ds.ids.tolist() == ["pos/0_9", "pos/1_7", "neg/0_2", "neg/1_4"]
    assert ds.texts == ["Great, really", "Loved it", "Awful", ""]
    assert ds.targets[:, 0].tolist() == [1, 1, 0, 0]
    assert ds.schema == imdb.SCHEMA and ds.notes == ["kept 1 missing or empty texts as empty strings (rows 4)"]


def test_csv_notes_and_policies(tmp_path):
    path = write_csv(tmp_path / "imdb.csv.gz")
    ds = load_imdb(path, split="test", num_words=100, maxlen=200, empty_text="drop")
    assert len(ds) == 3
    assert any("split='test' ignored" in n for n in ds.notes)
    assert any("ignored maxlen=200:" in n for n in ds.notes)  # num_words is the tokenizer's too
    with pytest.raises(DataError, match="missing or empty texts"):
        load_imdb(path, empty_text="error")


def test_csv_missing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,label,text\n0,1,hi\n")
    with pytest.raises(DataError, match="has no column 'rating'"):
        load_imdb(path)


def test_real_csv():
    if not REAL_CSV.exists():
        pytest.skip(f"../shared/data absent: {REAL_CSV} not found, real IMDB CSV not checked")
    ds = load_imdb(REAL_CSV)
    assert len(ds) == 25_000 and int(ds.targets.sum()) == 12_500
    assert len(set(ds.ids.tolist())) == 25_000


# --- Keras npz ----------------------------------------------------------------------------------

def object_array(seqs) -> np.ndarray:
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = list(s)
    return out


def write_npz(path: Path, raw: dict) -> Path:
    np.savez(path, x_train=object_array(raw["x_train"]), y_train=np.asarray(raw["y_train"], np.int64),
             x_test=object_array(raw["x_test"]), y_test=np.asarray(raw["y_test"], np.int64))
    return path


RAW = {"x_train": [[5, 1, 9], [2], [7, 7, 3, 4]], "y_train": [1, 0, 1],
       "x_test": [[3, 3], [8, 1, 2]], "y_test": [0, 1]}


def test_keras_matches_reference_outputs(tmp_path):
    if not KERAS_REFERENCE.exists():
        pytest.skip(f"{KERAS_REFERENCE} absent: run tests/fixtures/make_keras_expected.py")
    ref = json.loads(KERAS_REFERENCE.read_text())
    npz = write_npz(tmp_path / "imdb.npz", ref["raw"])
    for case in ref["cases"]:
        for split in ("train", "test"):
            ds = load_imdb(npz, split=split, **case["kwargs"])
            want = case["output"]
            assert ds.sequences.to_lists() == want[f"x_{split}"], (case["name"], split)
            assert ds.targets[:, 0].tolist() == want[f"y_{split}"], (case["name"], split)
            assert ds.ids.tolist() == [f"{split}/{i}" for i in range(len(want[f"y_{split}"]))]


def test_keras_word_index_and_notes(tmp_path):
    npz = write_npz(tmp_path / "imdb.npz", RAW)
    ds = load_imdb(npz)
    assert ds.word_index is None and any("cannot be tokenised" in n for n in ds.notes)
    assert ds.texts is None and ds.sequences.flat.dtype == np.int32
    (tmp_path / "imdb_word_index.json").write_text(json.dumps({"the": 1, "a": 2, "film": 9}))
    ds = load_imdb(npz, num_words=10)
    assert ds.word_index == {"the": 4, "a": 5}  # ids >= num_words are OOV in the data too
    assert any("Keras's imdb encoding" in n for n in ds.notes)
    other = tmp_path / "wi.json"
    other.write_text(json.dumps({"x": 1}))
    assert load_imdb(npz, word_index_path=other).word_index == {"x": 4}


def test_keras_maxlen_removes_everything(tmp_path):
    npz = write_npz(tmp_path / "imdb.npz", RAW)
    with pytest.raises(DataError, match="No review of fewer than maxlen=2 ids is left in train and test"):
        load_imdb(npz, maxlen=2)


def test_keras_numpy1_protocol2_pickle(tmp_path):
    """Arrays written by NumPy 1.x (module numpy.core) with pickle protocol 2 load too."""
    arrays = {}
    for name, value in RAW.items():
        arr = object_array(value) if name.startswith("x") else np.asarray(value, np.int64)
        buf = tmp_path / f"{name}.npy"
        with open(buf, "wb") as fh:
            npy_format.write_array_header_1_0(fh, npy_format.header_data_from_array_1_0(arr))
            if arr.dtype == object:
                fh.write(pickle.dumps(arr, protocol=2).replace(b"numpy._core.", b"numpy.core."))
            else:
                fh.write(arr.tobytes())
        arrays[name] = buf.read_bytes()
    assert b"numpy.core.multiarray" in arrays["x_train"] and b"_codecs" in arrays["x_train"]
    with zipfile.ZipFile(tmp_path / "imdb.npz", "w") as zf:
        for name, data in arrays.items():
            zf.writestr(f"{name}.npy", data)
    ref = load_imdb(write_npz(tmp_path / "ref.npz", RAW))
    got = load_imdb(tmp_path / "imdb.npz")
    assert got.sequences.to_lists() == ref.sequences.to_lists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_npz_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = object_array([[1, 2]])
    evil[0] = _Evil(marker)
    np.savez(tmp_path / "imdb.npz", x_train=evil, y_train=np.zeros(1, np.int64),
             x_test=object_array([[1]]), y_test=np.zeros(1, np.int64))
    with pytest.raises(DataError, match=r"asks to load (posix|nt)\.system.*refusing"):
        load_imdb(tmp_path / "imdb.npz")
    assert not marker.exists()


def test_keras_bad_files(tmp_path):
    np.savez(tmp_path / "imdb.npz", x_train=np.zeros((2, 3)))
    with pytest.raises(DataError, match="lacks y_train, x_test, y_test"):
        load_imdb(tmp_path / "imdb.npz")
    raw = dict(RAW, y_train=[1, 0, 5])
    with pytest.raises(DataError, match="y_train must hold one 0/1 label"):
        load_imdb(write_npz(tmp_path / "imdb.npz", raw))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="Cannot read .* as an npz archive"):
        load_imdb(tmp_path / "junk.npz")


# --- options, environment, download ------------------------------------------------------------

def test_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="'split' parameter must be 'train' or 'test'. Got 'valid'"):
        load_imdb(tmp_path, split="valid")
    with pytest.raises(ConfigError, match="'source'"):
        load_imdb(tmp_path, source="kaggle")
    with pytest.raises(ConfigError, match="'num_words' parameter must be an int >= 1 or None"):
        load_imdb(write_npz(tmp_path / "imdb.npz", RAW), num_words=0)
    with pytest.raises(DataError, match="does not exist"):
        load_imdb(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="No IMDB data given and downloading is off"):
        load_imdb(download=False)


def test_env_path(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_IMDB", str(make_folder(tmp_path)))
    assert len(load_imdb(download=False)) == 4


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True).start()
    httpd.url, httpd.root = f"http://127.0.0.1:{httpd.server_address[1]}", root
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_aclimdb(tmp_path, server, monkeypatch):
    archive = make_archive(tmp_path)
    (server.root / archive.name).write_bytes(archive.read_bytes())
    monkeypatch.setattr(imdb, "ACLIMDB_URL", f"{server.url}/{archive.name}")
    monkeypatch.setattr(imdb, "ACLIMDB_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    ds = load_imdb(None, download=True, cache_dir=tmp_path / "cache")
    assert ds.ids.tolist() == ["pos/2_7", "pos/10_9", "neg/0_3", "neg/1_1"]
    assert (tmp_path / "cache" / "aclImdb_v1.tar.gz").is_file()
    monkeypatch.setattr(imdb, "ACLIMDB_SHA256", "0" * 64)
    (tmp_path / "cache" / "aclImdb_v1.tar.gz").unlink()
    with pytest.raises(DataError, match="is corrupt"):
        load_imdb(cache_dir=tmp_path / "cache")


def test_download_keras(tmp_path, server, monkeypatch):
    npz = write_npz(server.root / "imdb.npz", RAW)
    words = json.dumps({"the": 1}).encode()
    (server.root / "imdb_word_index.json").write_bytes(words)
    monkeypatch.setattr(imdb, "KERAS_IMDB_URL", f"{server.url}/imdb.npz")
    monkeypatch.setattr(imdb, "KERAS_IMDB_SHA256", hashlib.sha256(npz.read_bytes()).hexdigest())
    monkeypatch.setattr(imdb, "KERAS_WORD_INDEX_URL", f"{server.url}/imdb_word_index.json")
    monkeypatch.setattr(imdb, "KERAS_WORD_INDEX_MD5", hashlib.md5(words).hexdigest())
    ds = load_imdb(source="keras", cache_dir=tmp_path / "cache")
    assert ds.word_index == {"the": 4} and len(ds) == 3
