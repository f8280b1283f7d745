"""The JSON shapes of the API (pydantic models): requests, responses and errors. They make the
OpenAPI document at ``/openapi.json`` (and ``/docs``)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from .limits import Limits


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. too_many_texts.")
    message: str = Field(description="What is wrong: names the limit and the value received.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class LabelPrediction(BaseModel):
    """Binary and multi-label runs."""

    probabilities: dict[str, float] = Field(description="Model output per label.")
    labels: list[str] = Field(description="The labels whose probability is >= their threshold.")


class ClassPrediction(BaseModel):
    """Multi-class runs."""

    probabilities: dict[str, float] = Field(description="Model output per class.")
    label: str = Field(description="The class with the highest probability.")


class PredictResponse(BaseModel):
    model: str = Field(description="The run's name (its folder name).")
    labels: list[str]
    predictions: list[LabelPrediction] | list[ClassPrediction] = Field(description="One per text, in order.")


class TrainingMetrics(BaseModel):
    val_auc: float | None = Field(description="Mean ROC AUC over the labels on the validation split.")
    val_accuracy: float | None
    val_majority_accuracy: float | None = Field(description="Accuracy of always predicting the majority class.")


class LimitsInfo(BaseModel):
    max_texts: int
    max_chars: int
    max_body_bytes: int
    batch_wait_ms: float
    max_batch: int
    body_timeout_s: float
    explain_max_texts: int
    explain_max_chars: int
    explain_steps: int


class CalibrationInfo(BaseModel):
    method: str = Field(description="temperature or platt (`rnnlab calibrate`).")
    labels: dict[str, dict[str, float]] | None = Field(
        None, description="Per label {temperature: T} (p' = sigmoid(logit(p) / T)) or {a, b} "
                          "(p' = sigmoid(a·logit(p) + b)); null for a softmax run.")
    softmax_temperature: float | None = Field(
        None, description="Multi-class runs: one T for the whole vector (p' = softmax(log p / T)); else null.")


class ModelInfo(BaseModel):
    model: str
    task: str = Field(description="binary, multilabel or multiclass.")
    labels: list[str]
    config_sha256: str = Field(description="sha256 of the run's config.toml.")
    vocab_size: int = Field(description="Tokenizer vocabulary size (0 for the linear baselines and ensembles).")
    metrics: TrainingMetrics
    created_at: str | None = Field(description="When training started (run.json).")
    trained_with_rnnlab: str | None = Field(description="The rnnlab version that trained the run.")
    rnnlab_version: str = Field(description="The rnnlab version serving it.")
    thresholds: dict[str, float] | None = Field(description="Decision threshold per label (null for multi-class).")
    calibration: CalibrationInfo | None = Field(
        description="The calibration applied to every probability served (the run's calibration.json), or null "
                    "when the network's own outputs are served.")
    limits: LimitsInfo


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str = Field(description="ready, or warming_up (then the answer is 503).")


class Explanation(BaseModel):
    tokens: list[str] = Field(description="What is attributed: the tokens the model sees (RNN runs; an unknown word "
                                          "is the OOV token, or absent without one), or the text's word and "
                                          "character n-grams (linear baselines).")
    kinds: list[str] = Field(description="Per token: token (RNN), word or char (an n-gram of a linear baseline).")
    explains: str = Field(description="output: the attributions explain the model output (RNN, Integrated "
                                      "Gradients); score: the logit before the sigmoid/softmax (linear baselines).")
    outputs: dict[str, float] = Field(description="Model output per explained label (as /v1/predict).")
    value: dict[str, float] = Field(description="The explained quantity per label for the text.")
    baseline: dict[str, float] = Field(description="The explained quantity at the baseline (every token replaced "
                                                   "by padding; the empty text for linear baselines).")
    delta: dict[str, float] = Field(description="sum(attributions) - (value - baseline): Captum's convergence "
                                                "delta (0 for linear baselines).")
    attributions: dict[str, list[float]] = Field(description="Per label, one attribution per token: > 0 pushes "
                                                             "the label up.")


class ExplainResponse(BaseModel):
    model: str
    labels: list[str] = Field(description="The explained labels.")
    explanations: list[Explanation] = Field(description="One per text, in order.")


def request_model(limits: Limits) -> type[BaseModel]:
    """The request body, with the limits in its schema (so /docs shows them)."""
    text = Annotated[StrictStr, Field(max_length=limits.max_chars)]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: Annotated[list[text], Field(max_length=limits.max_texts,
                                           description="Texts to score; an empty text is valid.")]

    return PredictRequest


def explain_request_model(limits: Limits, labels: list[str]) -> type[BaseModel]:
    """The ``/v1/explain`` request body, with its (smaller) limits and the run's ``labels`` in
    its schema."""
    text = Annotated[StrictStr, Field(max_length=limits.explain_max_chars)]
    label = Literal[tuple(labels)]  # type: ignore[valid-type]

    class ExplainRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: Annotated[list[text], Field(max_length=limits.explain_max_texts,
                                           description="Texts to explain; an empty text is valid.")]
        labels: list[label] | None = Field(None, description="Labels to explain (default: every label).")

    return ExplainRequest
