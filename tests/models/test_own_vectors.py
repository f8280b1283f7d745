"""Word vectors trained on your own texts with gensim: ``rnnlab vectors`` writes a loadable file,
``model.embedding.pretrained = {train = ...}`` trains (or reuses from the cache) the vectors the
run starts from, results are byte-identical across processes, fastText covers rare misspellings,
corpus files in every form, the config errors, and the one-line message without gensim."""

import gzip
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import tomli_w

import rnnlab
from helpers import ROOT, run_cli, toy_config
from rnnlab.config import OwnVectorsConfig, TextConfig, from_dict, load_config, load_vectors_config
from rnnlab.data import load_splits
from rnnlab.data.corpus import read_corpus
from rnnlab.errors import ConfigError, DataError
from rnnlab.models.own_vectors import own_vectors, token_stream
from rnnlab.train.vectors import write_vectors

pytest.importorskip("gensim", reason='gensim is not installed (pip install "rnnlab[vectors]")')

GOOD, BAD = ["good", "great", "fine", "lovely"], ["bad", "awful", "stupid", "dull"]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test trains into its own cache folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(folder))
    return folder / "vectors"


def write_data(path, n=200, seed=0, extra=None):
    """Texts of sentiment words and noise; row i also holds the word 'row{i}' (to tell rows apart)
    and ``extra[i]`` when given."""
    rng = np.random.default_rng(seed)
    noise = [f"w{i}" for i in range(30)]
    rows = []
    for i in range(n):
        pos = int(rng.random() < 0.5)
        words = list(rng.choice(noise, 8)) + list(rng.choice(GOOD if pos else BAD, 3)) + [f"row{i}"]
        words += (extra or {}).get(i, [])
        rows.append({"id": f"r{i}", "text": " ".join(words), "pos": pos})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def table(**over):
    """The table ``model.embedding.pretrained``: small and fast."""
    return {k: v for k, v in {"train": "word2vec", "dim": 8, "min_count": 1, "epochs": 2, **over}.items()
            if v is not None}


def config_file(tmp_path, pretrained=None, **over):
    data = write_data(tmp_path / "toy.csv")
    cfg = toy_config(data, tmp_path / "runs", **over)
    if pretrained is not None:
        cfg["model"]["embedding"] = {"pretrained": pretrained}
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


def read_vec(path) -> dict[str, np.ndarray]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        n, dim = map(int, f.readline().split())
        out = {}
        for line in f:
            word, *values = line.rstrip("\n").split(" ")
            out[word] = np.array(values, dtype=np.float32)
    assert len(out) == n and all(len(v) == dim for v in out.values())
    return out


def train_words(cfg_path):
    """The words of the training split (as the default tokenizer splits the toy texts) and the splits."""
    splits = load_splits(load_config(cfg_path))
    return {w for t in splits.train.texts for w in t.lower().split()}, splits


# ----------------------------------------------------------------------------------- the command
def test_cli_writes_a_loadable_file_of_training_words_only(tmp_path, capsys, cache):
    cfg = config_file(tmp_path, table())
    out = tmp_path / "out" / "vectors.vec"
    code, stdout, err = run_cli(["vectors", cfg, "--out", out], capsys)
    assert code == 0, err
    line = stdout.strip()
    assert "\n" not in line and "word2vec vectors:" in line and "dim 8" in line and f"written to {out}" in line
    assert "s in all" in line and "trained in" in line
    vectors = read_vec(out)
    words, splits = train_words(cfg)
    assert set(vectors) == words  # min_count 1: every training word, and no validation-only word
    val_only = {w for t in splits.validation.texts for w in t.lower().split()} - words
    assert val_only and not val_only & set(vectors)
    assert os.listdir(out.parent) == ["vectors.vec"]  # no temporary file left
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".vec"]
    # the file is what model.embedding.pretrained then loads
    run = rnnlab.train(load_config(cfg, [f"model.embedding.pretrained={json.dumps(str(out))}", "fit.epochs=1",
                                         "model.embedding.trainable=false"]))
    wi = run.tokenizer.word_index
    table_ = run.model.input_layer.table.weight.detach().numpy()
    np.testing.assert_array_equal(table_[wi["good"]], vectors["good"])
    assert run.config.model.embedding.dim == 8


def test_cli_gz_output_and_a_config_naming_the_file_to_be_written(tmp_path, capsys):
    cfg = config_file(tmp_path, "vectors.vec.gz")  # does not exist yet: rnnlab vectors makes it
    code, stdout, err = run_cli(["vectors", cfg, "--out", tmp_path / "vectors.vec.gz", "--set",
                                 "model.embedding.pretrained.train=fasttext", "--set",
                                 "model.embedding.pretrained.bucket=5000", "--set", "model.embedding.dim=6"], capsys)
    assert code == 0, err
    assert "fasttext vectors:" in stdout and "dim 6" in stdout
    first = (tmp_path / "vectors.vec.gz").read_bytes()
    assert gzip.decompress(first).split(b"\n")[0].endswith(b" 6")
    run = rnnlab.train(load_config(cfg, ["fit.epochs=1"]))
    assert run.config.model.embedding.dim == 6
    assert run.metrics["pretrained_vectors"]["source"] == "file"
    # gzip output is reproducible too (no time stamp): a second run writes the same bytes
    code, _, _ = run_cli(["vectors", cfg, "--out", tmp_path / "vectors.vec.gz", "--set",
                          "model.embedding.pretrained.train=fasttext", "--set",
                          "model.embedding.pretrained.bucket=5000", "--set", "model.embedding.dim=6"], capsys)
    assert code == 0 and (tmp_path / "vectors.vec.gz").read_bytes() == first


def test_cli_defaults_to_word2vec_and_refuses_folds(tmp_path, capsys):
    cfg = config_file(tmp_path)
    code, stdout, _ = run_cli(["vectors", cfg, "--out", tmp_path / "v.vec", "--set",
                               "model.embedding.pretrained.min_count=1"], capsys)
    assert code == 0 and "word2vec vectors:" in stdout and "dim 8" in stdout  # dim from model.embedding.dim
    code, _, err = run_cli(["vectors", cfg, "--out", tmp_path / "v.vec", "--set", "fit.folds=3"], capsys)
    assert code == 2 and "fit.folds = 3" in err and "data.fold" in err and "Traceback" not in err
    code, _, err = run_cli(["vectors", "--out", tmp_path / "v.vec"], capsys)
    assert code == 2 and "needs a CONFIG" in err


# ----------------------------------------------------------------------------------- the inline form
def test_inline_table_trains_the_vectors_the_run_starts_from_then_reuses_them(tmp_path, cache):
    cfg = config_file(tmp_path, table(dim=None), fit__epochs=1)
    cfg = load_config(cfg, ["model.embedding.trainable=false", "model.embedding.dim=10"])
    assert cfg.model.embedding.dim == 10 and cfg.model.embedding.pretrained.dim is None
    run = rnnlab.train(cfg)
    rec = run.metrics["pretrained_vectors"]
    assert rec["source"] == "word2vec" and rec["gensim"] and rec["reused"] is False
    assert rec["parameters"] == {"vector_size": 10, "window": 5, "min_count": 1, "epochs": 2, "sg": 0, "negative": 5,
                                 "sample": 0.001, "alpha": 0.025, "min_alpha": 0.0001, "seed": 3, "workers": 1}
    assert rec["sha256"] == hashlib.sha256(open(rec["path"], "rb").read()).hexdigest()
    assert rec["path"] == str(cache / f"{rec['cache_key']}.vec")
    assert rec["texts"] == [{"from": "training split", "texts": 160}]
    assert rec["words_found"] == rec["words_considered"] and rec["token_share"] == 1.0
    vectors = read_vec(rec["path"])
    wi = run.tokenizer.word_index
    table_ = run.model.input_layer.table.weight.detach().numpy()
    for word in ("good", "stupid", "w3"):
        np.testing.assert_array_equal(table_[wi[word]], vectors[word])
    log = (run.dir / "log.txt").read_text()
    assert "word2vec vectors:" in log and "trained in" in log
    # a second identical train reuses the cache, and says so
    again = rnnlab.train(cfg, run_dir=tmp_path / "again")
    rec2 = again.metrics["pretrained_vectors"]
    assert rec2["reused"] is True and rec2["sha256"] == rec["sha256"] and rec2["cache_key"] == rec["cache_key"]
    assert "reused from the cache" in (again.dir / "log.txt").read_text()
    np.testing.assert_array_equal(again.model.input_layer.table.weight.detach().numpy(), table_)
    # a damaged cache file is trained again, not used
    with open(rec["path"], "r+b") as f:
        f.seek(20)
        f.write(b"9")
    third = rnnlab.train(cfg, run_dir=tmp_path / "third")
    assert third.metrics["pretrained_vectors"]["reused"] is False
    assert third.metrics["pretrained_vectors"]["sha256"] == rec["sha256"]


def test_the_cache_key_follows_every_parameter_and_the_texts(tmp_path):
    texts = ["good great fine w1 w2", "bad awful dull w2 w3"] * 20
    own, text = OwnVectorsConfig(**table()), TextConfig()

    def key(texts=texts, own=own, dim=8, text=text, seed=1):
        return own_vectors(texts, own, dim=dim, text=text, seed=seed, sources=[]).record["cache_key"]

    base = key()
    assert key() == base
    others = [key(seed=2), key(dim=9), key(own=OwnVectorsConfig(**table(window=3))),
              key(own=OwnVectorsConfig(**table(train="fasttext", bucket=100))), key(texts=texts + ["w9"]),
              key(text=TextConfig(lower=False, filters=""), texts=[t.upper() for t in texts])]
    assert len({base, *others}) == len(others) + 1


def test_too_few_words_is_a_data_error():
    with pytest.raises(DataError, match="No word occurs min_count = 5 times in the 3 tokens"):
        own_vectors(["a b", "c"], OwnVectorsConfig(train="word2vec"), dim=4, text=TextConfig(), seed=0, sources=[])


def test_dim_is_one_value_for_the_table_and_the_embedding(tmp_path):
    base = toy_config(tmp_path / "x.csv", tmp_path)
    base["model"]["embedding"] = {"pretrained": table(dim=12)}
    cfg = from_dict(base)
    assert cfg.model.embedding.dim == 12 and cfg.model.embedding.pretrained.dim is None
    assert cfg.replace({"model.embedding.dim": 16}).model.embedding.dim == 16  # a sweep over the dim
    base["model"]["embedding"] = {"pretrained": table(dim=None)}
    assert from_dict(base).model.embedding.dim == 100  # gensim's default
    base["model"]["embedding"] = {"pretrained": table(dim=12), "dim": 13}
    with pytest.raises(ConfigError, match="'model.embedding.dim' parameter must be 12 to match "
                                          "model.embedding.pretrained.dim. Got 13 instead"):
        from_dict(base)


# ----------------------------------------------------------------------------------- reproducible
SCRIPT = textwrap.dedent("""
    import sys
    from rnnlab.config import OwnVectorsConfig, TextConfig
    from rnnlab.models.own_vectors import own_vectors
    texts = open(sys.argv[1], encoding="utf-8").read().split("\\n")
    for model in ("word2vec", "fasttext"):
        own = OwnVectorsConfig(train=model, min_count=2, bucket=3000 if model == "fasttext" else None)
        v = own_vectors(texts, own, dim=16, text=TextConfig(), seed=7, sources=[])
        print(model, v.record["sha256"], v.record["words"])
""")


def test_byte_identical_across_processes_with_different_hash_seeds(tmp_path):
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(200)] + GOOD + BAD + ["stupidd", "idiiot"]
    texts = [" ".join(rng.choice(vocab, 15)) for _ in range(300)]
    (tmp_path / "texts.txt").write_text("\n".join(texts), encoding="utf-8")
    (tmp_path / "go.py").write_text(SCRIPT)
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "RNNLAB_CACHE_DIR": str(tmp_path / f"cache{hash_seed}"),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, str(tmp_path / "go.py"), str(tmp_path / "texts.txt")], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append(done.stdout)
    assert outs[0] == outs[1] and outs[0].count("\n") == 2
    for model in ("word2vec", "fasttext"):
        files = [sorted((tmp_path / f"cache{s}" / "vectors").glob("*.vec")) for s in "12"]
        assert [f.name for f in files[0]] == [f.name for f in files[1]]
        assert [f.read_bytes() for f in files[0]] == [f.read_bytes() for f in files[1]]


# ----------------------------------------------------------------------------------- fastText
def test_fasttext_gives_rare_misspellings_a_vector_from_their_ngrams(tmp_path):
    extra = {0: ["stupidd"], 1: ["stupiddd"], 2: ["stuuupid"]}  # once each: below min_count
    data = write_data(tmp_path / "toy.csv", extra=extra)
    base = toy_config(data, tmp_path / "runs", fit__epochs=1)
    ft = {**table(train="fasttext", min_count=3, bucket=20000, epochs=5, dim=16)}
    base["model"]["embedding"] = {"pretrained": ft, "trainable": False}
    base["data"]["validation_split"] = 0.05
    cfg = from_dict(base)
    splits = load_splits(cfg)
    seen = {w for t in splits.train.texts for w in t.split()}
    misspelt = [w for words in extra.values() for w in words]
    rare = [w for w in misspelt if w in seen]
    assert rare  # at least one misspelling is in the training split
    run = rnnlab.train(cfg)
    rec = run.metrics["pretrained_vectors"]
    assert rec["source"] == "fasttext" and rec["parameters"]["bucket"] == 20000
    assert rec["words_from_ngrams"] >= len(rare) and rec["from_ngrams"] >= rec["words_from_ngrams"]
    assert rec["words_found"] == rec["words_considered"]  # every vocabulary word has a vector
    vectors = read_vec(rec["path"])
    wi = run.tokenizer.word_index
    table_ = run.model.input_layer.table.weight.detach().numpy()
    for word in rare:
        np.testing.assert_array_equal(table_[wi[word]], vectors[word])
    # its nearest neighbour is the word it misspells
    words = [w for w in vectors if w not in misspelt]
    unit = {w: v / np.linalg.norm(v) for w, v in vectors.items()}
    nearest = max(words, key=lambda w: float(unit[w] @ unit[rare[0]]))
    assert nearest == "stupid"
    assert "from character n-grams only" in (run.dir / "log.txt").read_text()
    # word2vec drops the same words
    w2v = rnnlab.train(cfg.replace({"model.embedding.pretrained": {**ft, "train": "word2vec", "bucket": None}}))
    rec2 = w2v.metrics["pretrained_vectors"]
    assert rec2["words_found"] < rec2["words_considered"] and "words_from_ngrams" not in rec2
    assert not set(rare) & set(read_vec(rec2["path"]))


# ----------------------------------------------------------------------------------- corpus files
def test_corpus_forms(tmp_path):
    (tmp_path / "unsup.txt").write_bytes(b"first text\r\n\r\nsecond  text\n  \n")
    (tmp_path / "unsup.txt.gz").write_bytes(gzip.compress("one\ntwo\n".encode()))
    pd.DataFrame({"id": [1, 2, 3], "text": ["a b", None, "c"], "other": ["x", "y", "z"]}).to_csv(
        tmp_path / "test.csv", index=False)
    pd.DataFrame({"comment_text": ["p q", "r"]}).to_csv(tmp_path / "test.csv.gz", index=False, compression="gzip")
    folder = tmp_path / "unsup"
    folder.mkdir()
    for name, text in (("1_0.txt", "review one"), ("0_0.txt", "review zero"), ("skip.md", "no")):
        (folder / name).write_text(text)
    assert read_corpus(tmp_path / "unsup.txt", "text") == ["first text", "second  text"]
    assert read_corpus(tmp_path / "unsup.txt.gz", "text") == ["one", "two"]
    assert read_corpus(tmp_path / "test.csv", "text") == ["a b", "c"]
    assert read_corpus(tmp_path / "test.csv", "other") == ["x", "y", "z"]
    assert read_corpus(tmp_path / "test.csv.gz", "comment_text") == ["p q", "r"]
    assert read_corpus(folder, "text") == ["review zero", "review one"]
    with pytest.raises(DataError, match="has no column 'texts'.*Did you mean 'text'"):
        read_corpus(tmp_path / "test.csv", "texts")
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(DataError, match="has no text"):
        read_corpus(tmp_path / "blank.txt", "text")


def test_corpus_words_join_the_training_texts_and_paths_are_from_the_config_folder(tmp_path):
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "unsup.txt").write_text("zebra quagga good\nzebra okapi\n" * 3)
    pd.DataFrame({"text": ["narwhal good", "narwhal bad"], "body": ["axolotl", "axolotl"]}).to_csv(
        sub / "test.csv", index=False)
    cfg = config_file(sub, table(corpus=["unsup.txt", "test.csv"]))
    loaded = load_config(cfg)
    assert loaded.model.embedding.pretrained.corpus == [str(sub / "unsup.txt"), str(sub / "test.csv")]
    result = write_vectors(cfg, tmp_path / "v.vec")
    words = set(read_vec(tmp_path / "v.vec"))
    assert {"zebra", "quagga", "okapi", "narwhal"} <= words and "axolotl" not in words
    assert result.vectors.record["texts"] == [{"from": "training split", "texts": 160},
                                              {"from": str(sub / "unsup.txt"), "texts": 6},
                                              {"from": str(sub / "test.csv"), "texts": 2}]
    write_vectors(cfg, tmp_path / "b.vec", ["model.embedding.pretrained.corpus_column=body"])
    assert "axolotl" in set(read_vec(tmp_path / "b.vec"))


def test_the_stream_is_the_models_tokenization(tmp_path):
    text = TextConfig(filters='*!"', lower=False)
    stream = token_stream(["F*ck YOU!", "f*ck"], text)
    assert stream.words == ["ck", "F", "YOU", "f"] and stream.counts.tolist() == [2, 1, 1, 1]  # by count
    default = token_stream(["F*ck YOU!", "f*ck"], TextConfig())  # Keras's filters split 'f*ck' into 'f', 'ck'
    assert default.words == ["f", "ck", "you"] and default.tokens == 5


# ----------------------------------------------------------------------------------- errors
def error_of(base, pretrained):
    base = dict(base)
    base["model"] = {**base["model"], "embedding": {"pretrained": pretrained}}
    with pytest.raises(ConfigError) as exc:
        from_dict(base)
    return str(exc.value)


def test_config_errors(tmp_path):
    base = toy_config(tmp_path / "x.csv", tmp_path)
    key = "model.embedding.pretrained"
    assert error_of(base, {"dim": 8}) == (
        f"The '{key}.train' parameter must be one of 'word2vec', 'fasttext'. Got None instead. The table form trains "
        f"vectors: e.g. {key} = {{train = \"fasttext\"}}.")
    assert error_of(base, {"train": "glove"}) == (
        f"The '{key}.train' parameter must be one of 'word2vec', 'fasttext'. Got 'glove' instead.")
    assert error_of(base, {"train": "word2vec", "min_cont": 2}) == (
        f"Unknown config key '{key}.min_cont'. Did you mean '{key}.min_count'?")
    assert error_of(base, {"train": "word2vec", "min_count": 0}) == (
        f"The '{key}.min_count' parameter must be an int >= 1. Got 0 instead.")
    assert error_of(base, {"train": "word2vec", "alpha": -1}) == (
        f"The '{key}.alpha' parameter must be a float > 0. Got -1 instead.")
    assert error_of(base, {"train": "word2vec", "corpus": 3}) == (
        f"The '{key}.corpus' parameter must be a list. Got 3 instead.")
    assert error_of(base, {"train": "word2vec", "min_n": 2}) == (
        f"{key}.min_n is a fastText setting (character n-grams), but {key}.train = 'word2vec'; set train = "
        "'fasttext' or remove min_n.")
    assert error_of(base, {"train": "fasttext", "min_n": 5, "max_n": 4}) == (
        f"The '{key}.max_n' parameter must be an int >= min_n (5). Got 4 instead.")
    assert error_of(base, 3) == f"The '{key}' parameter must be a string or a table. Got 3 instead."
    base["model"]["input"] = "onehot"
    assert error_of(base, {"train": "word2vec"}).startswith("model.embedding.pretrained needs model.input = "
                                                            "'embedding'")


def test_a_missing_corpus_file_stops_before_any_run_folder(tmp_path, capsys):
    cfg = config_file(tmp_path, table(corpus=["nope.txt"]))
    code, out, err = run_cli(["train", cfg], capsys)
    assert code == 2 and "Traceback" not in out + err and len(err.strip().splitlines()) == 1
    assert f"'model.embedding.pretrained.corpus.0' parameter must be an existing file or folder. Got " \
           f"'{tmp_path / 'nope.txt'}'" in err
    assert not (tmp_path / "runs").exists()


def test_token_ids_without_texts_are_refused(tmp_path, monkeypatch):
    from rnnlab.data import Splits
    from rnnlab.train import vectors as tv

    cfg = from_dict({**toy_config(tmp_path / "x.csv", tmp_path), "model": {"embedding": {"pretrained": table()},
                                                                          "layers": [{"type": "Dense"}]}})

    class NoTexts:
        texts = None

    with pytest.raises(ConfigError, match="holds token ids"):
        tv.vectors_for(cfg, Splits(NoTexts(), NoTexts()))


def test_without_gensim_one_line_names_the_install_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gensim", None)  # `import gensim` now raises ImportError
    cfg = config_file(tmp_path, table())
    with pytest.raises(ConfigError) as exc:
        write_vectors(cfg, tmp_path / "v.vec")
    assert 'pip install "rnnlab[vectors]"' in str(exc.value) and "\n" not in str(exc.value)
    for args in (["train", cfg], ["train", cfg, "--set", "fit.folds=2"], ["vectors", cfg, "--out", tmp_path / "v.vec"]):
        code, out, err = run_cli(args, capsys)
        assert code == 2 and "Traceback" not in out + err and len(err.strip().splitlines()) == 1
        assert 'pip install "rnnlab[vectors]"' in err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "v.vec").exists()


def test_vectors_config_sets_a_file_form_aside(tmp_path):
    cfg = config_file(tmp_path, str(tmp_path / "missing.vec"))
    with pytest.raises(ConfigError, match="existing word-vector file"):
        load_config(cfg)
    own = load_vectors_config(cfg, ["model.embedding.pretrained.train=fasttext"]).model.embedding.pretrained
    assert own.train == "fasttext" and own.corpus == []
    assert load_vectors_config(cfg).model.embedding.pretrained.train == "word2vec"
