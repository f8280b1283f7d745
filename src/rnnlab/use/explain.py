"""Why a trained run scores a text as it does: one attribution per token and label
(``rnnlab explain``, ``POST /v1/explain``, the report's explanations section).

**RNN runs: Integrated Gradients** (Captum's ``IntegratedGradients``; the ``explain`` extra:
``pip install 'rnnlab[explain]'``). The attributed input is the input layer's output: the
embedding vectors, or the one-hot vectors of a one-hot model (so for those it is Integrated
Gradients on the one-hot input). What is explained is the network's own output as
``Run.predict(..., raw=True)`` returns it (a probability for sigmoid / softmax outputs), for the
text padded exactly as ``Run.predict`` pads it (its own width with length bucketing,
``text.maxlen`` without), so the explained output equals ``Run.predict``'s raw output; a run
calibrated by ``rnnlab calibrate`` serves calibrated probabilities, but the attributions are of
the raw output (``rnnlab explain`` says so in a ``note:`` line).

- **Baseline**: the padding input at every position: what the input layer makes of the padding
  id 0 (the embedding table's row 0, or the one-hot vector of index 0 that a one-hot model
  sees for padding), i.e. "the text with every token replaced by padding". Padding positions
  are equal in the text and the baseline, so they get no attribution.
- **Mask**: with ``mask_zero`` the padding mask comes from the text's ids on every step of the
  path, so the baseline keeps the text's length. (Captum's ``LayerIntegratedGradients`` would
  run the baseline's ids through the model for its convergence delta, and their mask hides
  every token: another starting point than its path's. Attributing the input layer's output
  with :meth:`~rnnlab.models.RnnClassifier.forward_from_inputs` keeps both the same.)
- **Completeness**: per label the attributions sum to ``output(text) - output(baseline)``, up
  to Captum's convergence delta (``delta``), which shrinks as ``n_steps`` grows.
- **Tokens** are the words the model sees: lower-cased and filtered by the run's tokenizer and
  truncated to ``text.maxlen`` as in training. A word outside the vocabulary shows as the
  run's OOV token (``text.oov_token``, e.g. ``<OOV>``; ``<oov>`` for an imported vocabulary)
  when the run has one, and is absent when it has none (the model never sees it); an imported
  vocabulary's start index shows as ``<start>``.

RNN backward passes run in eval mode on the CPU (no dropout; cuDNN's training-mode restriction
does not apply).

**Linear baselines** (``tfidf_lr``, ``nbsvm``) explain with their own coefficients: the
"tokens" are the word and character n-grams of the text (``kinds``: ``word`` / ``char``), each
with its contribution ``tf-idf value x coefficient`` (x the NB ratio for ``nbsvm``) to the
label's score (the logit before the sigmoid / softmax). They sum exactly to
``score - intercept``: the baseline is the empty text. No Captum is needed.

Ensembles are not explained: explain one of their members.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from rich.text import Text

from .._io import atomic_path, write_text
from ..data import source_for
from ..engine.batching import inference_batches, padded
from ..errors import RnnlabError, RunError, param_error
from ..runs import Run
from .predict import iter_chunks

DEFAULT_STEPS = 50
# rows (texts x labels x steps) per forward pass of the attribution
PASS_ROWS = 2048


@dataclass
class Explanation:
    """Attributions of one text.

    Attributes:
        text: the text.
        tokens: what is attributed: the tokens the model sees (RNN), or the n-grams of the text
            (linear baselines).
        attributions: label -> one attribution per token.
        outputs: label -> the model's output (``Run.predict``'s) for the text.
        explains: ``"output"`` (RNN: the attributions explain the output) or ``"score"``
            (linear baselines: the logit before the sigmoid / softmax).
        value: label -> the explained quantity for the text.
        baseline: label -> the explained quantity at the baseline (padding; the empty text).
        delta: label -> ``sum(attributions) - (value - baseline)`` (Captum's convergence delta).
        kinds: per token ``"token"`` (RNN) or ``"word"`` / ``"char"`` (an n-gram of a baseline).
        id: the row's id when read from a file; default None.
    """

    text: str
    tokens: list[str]
    attributions: dict[str, list[float]]
    outputs: dict[str, float]
    explains: str
    value: dict[str, float]
    baseline: dict[str, float]
    delta: dict[str, float]
    kinds: list[str] = field(default_factory=list)
    id: str | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.attributions)

    def top(self, label: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` tokens that push ``label`` up most (largest attribution first)."""
        values = self.attributions[label]
        order = sorted(range(len(values)), key=lambda i: -values[i])[:k]
        return [(self.tokens[i], values[i]) for i in order]

    def to_dict(self) -> dict:
        """JSON-ready (one line of ``explanations.jsonl``, one item of ``/v1/explain``)."""
        out = {"id": self.id} if self.id is not None else {}
        return {**out, "text": self.text, "tokens": self.tokens, "kinds": self.kinds, "explains": self.explains,
                "outputs": _rounded(self.outputs), "value": _rounded(self.value),
                "baseline": _rounded(self.baseline), "delta": _rounded(self.delta),
                "attributions": {k: [_round(v) for v in vs] for k, vs in self.attributions.items()}}


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: _round(v) for k, v in d.items()}


def _captum():
    """captum.attr, or a one-line error naming the extra."""
    try:
        import captum.attr
    except ModuleNotFoundError:
        raise RnnlabError("Explaining an RNN run needs Captum: pip install 'rnnlab[explain]'.") from None
    return captum.attr


def check_labels(run: Run, labels: Sequence[str] | None) -> list[str]:
    """The labels to explain: ``labels`` checked against the run's, or all of them."""
    if not labels:
        return run.labels
    for label in labels:
        if label not in run.labels:
            raise param_error("--label", f"one of the run's labels ({', '.join(run.labels)})", label)
    return list(dict.fromkeys(labels))


def explain_texts(run: Run, texts: Sequence[str], labels: Sequence[str] | None = None, *,
                  n_steps: int = DEFAULT_STEPS, batch_size: int = 8) -> list[Explanation]:
    """Per-token attributions of every text for every label (see the module docstring).

    Args:
        run: a trained RNN or linear-baseline run.
        texts: the texts.
        labels: the labels to explain; default None = all.
        n_steps: Integrated Gradients steps (RNN runs); default 50. More steps make the
            attributions sum closer to ``output - baseline`` (a smaller ``delta``).
        batch_size: texts attributed together (RNN runs); default 8.

    Returns:
        One :class:`Explanation` per text, in order.

    Raises:
        RunError: an ensemble run.
        ConfigError: an unknown label, or ``n_steps`` / ``batch_size`` below 1.
        RnnlabError: an RNN run without Captum installed.
    """
    if isinstance(texts, str):
        raise TypeError("explain_texts() takes a list of texts, not one string: use explain_texts(run, [text]).")
    for name, value in (("n_steps", n_steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise param_error(name, "an int >= 1", value)
    if run.is_ensemble:
        raise RunError(f"'{run.dir}' is an ensemble; explanations are per model: explain one of its members.")
    labels = check_labels(run, labels)
    texts = list(texts)
    if run.is_baseline:
        return [_explain_linear(run, text, labels) for text in texts]
    return _explain_rnn(run, texts, labels, n_steps, batch_size)


# ------------------------------------------------------------------------------------- RNN
def output_columns(run: Run, n_outputs: int) -> dict[str, int]:
    """label -> the model output column holding it (a binary run's 2-unit softmax: column 1)."""
    if run.schema.task == "binary" and n_outputs == 2:
        return {run.labels[0]: 1}
    if n_outputs != len(run.labels):
        raise RunError(f"'{run.dir}': the model has {n_outputs} output(s) for {len(run.labels)} label(s); "
                       f"it cannot be explained per label.")
    return {label: j for j, label in enumerate(run.labels)}


def token_names(tokenizer) -> dict[int, str]:
    """token id -> the word the model sees (see the module docstring for OOV and start)."""
    limit = tokenizer.num_words
    names = {i: w for w, i in tokenizer.word_index.items() if limit is None or i < limit}
    oov = tokenizer.oov_index
    if oov is not None:
        names[oov] = tokenizer.oov_token or "<oov>"
    if tokenizer.start_index is not None:
        names[tokenizer.start_index] = "<start>"
    return names


def _explain_rnn(run: Run, texts: list[str], labels: list[str], n_steps: int, batch_size: int) -> list[Explanation]:
    attr_api = _captum()
    model = run.model
    model.eval()
    cfg = run.config
    threads = cfg.fit.threads
    if isinstance(threads, int) and not isinstance(threads, bool) and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    seqs = run.encode(texts)
    names = token_names(run.tokenizer)
    columns = output_columns(run, model.infos[-1].output_shape[-1])
    targets = [columns[label] for label in labels]
    ig = attr_api.IntegratedGradients(lambda x, ids: model.forward_from_inputs(x, ids))
    found: list[Explanation | None] = [None] * len(texts)
    for index, w in inference_batches(seqs.lengths, batch_size, cfg.fit.bucketing, cfg.text.maxlen):
        ids = padded(seqs, index, cfg.text.maxlen if w is None else w, cfg.text.padding)
        with torch.no_grad():
            x = model.input_layer(ids)
            base = model.input_layer(torch.zeros_like(ids))
            outputs = model(ids).float()
            base_out = model.forward_from_inputs(base, ids).float()
        k = len(labels)
        rows = len(index) * k
        attributions, delta = ig.attribute(
            x.repeat_interleave(k, 0), baselines=base.repeat_interleave(k, 0), target=targets * len(index),
            additional_forward_args=(ids.repeat_interleave(k, 0),), n_steps=n_steps,
            internal_batch_size=rows * max(1, min(n_steps, PASS_ROWS // rows)), return_convergence_delta=True)
        per_token = attributions.detach().float().sum(-1).numpy()
        delta = delta.detach().float().numpy()
        width = ids.shape[1]
        for b, row in enumerate(index.tolist()):
            n = int(seqs.lengths[row])
            start = width - n if cfg.text.padding == "pre" else 0
            token_ids = ids[b, start:start + n].tolist()
            found[row] = Explanation(
                text=texts[row], tokens=[names.get(t, f"<{t}>") for t in token_ids],
                attributions={label: per_token[b * k + j, start:start + n].astype(float).tolist()
                              for j, label in enumerate(labels)},
                outputs={label: float(outputs[b, columns[label]]) for label in labels}, explains="output",
                value={label: float(outputs[b, columns[label]]) for label in labels},
                baseline={label: float(base_out[b, columns[label]]) for label in labels},
                delta={label: float(delta[b * k + j]) for j, label in enumerate(labels)},
                kinds=["token"] * n)
    return found  # type: ignore[return-value]


# ------------------------------------------------------------------------------------- linear
def _feature_names(baseline) -> tuple[list[str], list[str]]:
    """(n-gram, kind) of every feature column of a linear baseline (word block, then char)."""
    names, kinds = [], []
    for block, vectorizer in baseline.vectorizers.items():
        vocab = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        names += vocab
        kinds += [block] * len(vocab)
    return names, kinds


def _linear_weights(baseline) -> np.ndarray:
    return baseline.coef_ if baseline.r_ is None else baseline.coef_ * baseline.r_


def _explain_linear(run: Run, text: str, labels: list[str]) -> Explanation:
    baseline = run.model
    names, kinds = _feature_names(baseline)
    X = baseline.transform([text])
    cols, vals = X.indices, X.data.astype(np.float64)
    order = np.argsort(cols)
    cols, vals = cols[order], vals[order]
    weights = _linear_weights(baseline)
    probs = baseline.predict([text])[0]
    index = {label: j for j, label in enumerate(run.labels)}
    attributions, value, base = {}, {}, {}
    for label in labels:
        j = index[label]
        contrib = vals * weights[j, cols]
        attributions[label] = contrib.tolist()
        base[label] = float(baseline.intercept_[j])
        value[label] = float(contrib.sum() + baseline.intercept_[j])
    return Explanation(text=text, tokens=[names[c] for c in cols.tolist()], attributions=attributions,
                       outputs={label: float(probs[index[label]]) for label in labels}, explains="score",
                       value=value, baseline=base, delta={label: 0.0 for label in labels},
                       kinds=[kinds[c] for c in cols.tolist()])


def top_features(run: Run, label: str, k: int = 10) -> list[tuple[str, str, float]]:
    """A linear baseline's ``k`` n-grams with the largest weight for ``label`` (coefficient, x
    the NB ratio for nbsvm): (n-gram, 'word' or 'char', weight)."""
    baseline = run.model
    names, kinds = _feature_names(baseline)
    row = _linear_weights(baseline)[run.labels.index(label)]
    order = np.argsort(-row, kind="stable")[:k]
    return [(names[i], kinds[i], float(row[i])) for i in order.tolist()]


# ------------------------------------------------------------------------------------- summaries
def token_summary(explanations: Sequence[Explanation], label: str, k: int = 10, min_count: int = 1
                  ) -> list[dict]:
    """The tokens that push ``label`` up most across ``explanations``: per token its summed
    attribution, its mean and how many times it occurred, ranked by the sum.

    Args:
        explanations: explanations that include ``label``.
        label: the label.
        k: how many tokens; default 10.
        min_count: leave out tokens seen fewer times; default 1.
    """
    total: dict[str, float] = {}
    count: dict[str, int] = {}
    for e in explanations:
        for token, a in zip(e.tokens, e.attributions[label]):
            total[token] = total.get(token, 0.0) + a
            count[token] = count.get(token, 0) + 1
    ranked = sorted((t for t in total if count[t] >= min_count), key=lambda t: -total[t])[:k]
    return [{"token": t, "sum": total[t], "mean": total[t] / count[t], "count": count[t]} for t in ranked]


# ------------------------------------------------------------------------------------- files
def iter_explanations(run: Run, source: str | Path, labels: Sequence[str] | None = None, *,
                      text_column: str | None = None, id_column: str | None = None, fmt: str = "auto",
                      n_steps: int = DEFAULT_STEPS, chunk_rows: int = 256) -> Iterator[Explanation]:
    """Explanations of every row of ``source``, read chunk by chunk with ``rnnlab predict``'s
    readers (:func:`rnnlab.use.predict.iter_chunks`), so a large file is never held whole."""
    labels = check_labels(run, labels)
    text_column = text_column or source_for(run.config.data.dataset).default_text_column(run.config.data)
    for ids, texts in iter_chunks(source, text_column, id_column, fmt, chunk_rows):
        for row_id, e in zip(ids, explain_texts(run, texts, labels, n_steps=n_steps), strict=True):
            e.id = row_id
            yield e


def explain_file(run: Run, source: str | Path, out: str | Path, labels: Sequence[str] | None = None, *,
                 text_column: str | None = None, id_column: str | None = None, fmt: str = "auto",
                 n_steps: int = DEFAULT_STEPS, chunk_rows: int = 256, html_out: str | Path | None = None,
                 html_rows: int = 200) -> dict:
    """Explain every row of ``source`` into the JSON-lines file ``out`` (one
    :meth:`Explanation.to_dict` per line), streamed and written atomically.

    Args:
        run: the trained run.
        source: CSV / TSV / JSONL (plain or compressed), parquet, or "-" (one text per line on stdin).
        out: the JSON-lines file.
        labels: default None = every label.
        text_column: default None = the run's text column.
        id_column: default None = 'id' when present, else row numbers from 1.
        fmt: 'auto' (default), 'csv', 'tsv', 'jsonl' or 'parquet'.
        n_steps: Integrated Gradients steps; default 50.
        chunk_rows: rows read and explained at a time; default 256.
        html_out: also write the HTML view of the first ``html_rows`` rows here; default None.
        html_rows: rows in the HTML view; default 200.

    Returns:
        {'rows', 'path'}.
    """
    rows, shown = 0, []
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for e in iter_explanations(run, source, labels, text_column=text_column, id_column=id_column, fmt=fmt,
                                   n_steps=n_steps, chunk_rows=chunk_rows):
            fh.write(json.dumps(e.to_dict(), ensure_ascii=False) + "\n")
            rows += 1
            if html_out is not None and len(shown) < html_rows:
                shown.append(e)
        fh.flush()
    if html_out is not None:
        write_html(shown, html_out, f"rnnlab explain: {run.name}")
    return {"rows": rows, "path": str(out)}


# ------------------------------------------------------------------------------------- views
def _scale(values: Sequence[float]) -> float:
    return max((abs(v) for v in values if math.isfinite(v)), default=0.0) or 1.0


def to_text(e: Explanation, label: str, colour: bool = False):
    """The text's tokens with their attributions for ``label``: a rich ``Text`` coloured by
    attribution (red pushes the label up, blue down) when ``colour``, else plain
    ``token(+0.123)`` words."""
    values = e.attributions[label]
    if not colour:
        return " ".join(f"{t}({v:+.3g})" for t, v in zip(e.tokens, values))
    scale, out = _scale(values), Text()
    for i, (token, v) in enumerate(zip(e.tokens, values)):
        strength = min(abs(v) / scale, 1.0)
        level = int(255 - 175 * strength)
        bg = f"rgb(255,{level},{level})" if v > 0 else f"rgb({level},{level},255)"
        out.append(token, style=f"black on {bg}")
        if i < len(e.tokens) - 1:
            out.append(" ")
    return out


def tokens_html(e: Explanation, label: str) -> str:
    """The tokens as HTML spans coloured by their attribution for ``label`` (red up, blue down),
    the value in each span's title."""
    values = e.attributions[label]
    scale, spans = _scale(values), []
    for token, v in zip(e.tokens, values):
        alpha = min(abs(v) / scale, 1.0) * 0.85
        rgb = "214,40,40" if v > 0 else "28,100,220"
        spans.append(f'<span class="tok" style="background:rgba({rgb},{alpha:.2f})" '
                     f'title="{html.escape(f"{v:+.4g}", quote=True)}">{html.escape(token)}</span>')
    return " ".join(spans)


EXPLAIN_CSS = (".tok{padding:1px 3px;border-radius:3px;line-height:1.9;font-family:ui-monospace,monospace;"
               "font-size:13px} .expl{margin:.6em 0 1.2em} .expl .head{color:#555;font-size:13px}")


def explanation_html(e: Explanation, labels: Sequence[str] | None = None) -> str:
    """One explained text as an HTML fragment: per label its output and the coloured tokens."""
    parts = []
    for label in labels or e.labels:
        head = (f"{html.escape(label)}: output {e.outputs[label]:.3f}"
                + (f" (baseline {e.baseline[label]:.3f}, delta {e.delta[label]:.2g})" if e.explains == "output"
                   else f" (score {e.value[label]:+.3f}, intercept {e.baseline[label]:+.3f})"))
        parts.append(f'<div class="head">{head}</div><div>{tokens_html(e, label)}</div>')
    name = f"<b>{html.escape(e.id)}</b> " if e.id is not None else ""
    return f'<div class="expl">{name}{"".join(parts)}</div>'


def render_html(explanations: Sequence[Explanation], title: str) -> str:
    """A self-contained HTML page of explained texts (inline CSS, no script)."""
    body = "\n".join(explanation_html(e) for e in explanations) or "<p>No rows.</p>"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:1100px;"
            f"margin:2em auto;padding:0 1em}} {EXPLAIN_CSS}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            "<p>Red tokens push the label up, blue ones down; hover a token for its attribution.</p>\n"
            f"{body}\n</body>\n</html>\n")


def write_html(explanations: Sequence[Explanation], out: str | Path, title: str) -> Path:
    """Write :func:`render_html` atomically to ``out``."""
    write_text(out, render_html(explanations, title))
    return Path(out)
