"""The JSON shapes of the API (pydantic models): requests, responses and errors. They make the
OpenAPI document at ``/openapi.json`` (and ``/docs``)."""

from typing import Annotated

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
    limits: LimitsInfo


class Health(BaseModel):
    status: str


def request_model(limits: Limits) -> type[BaseModel]:
    """The request body, with the limits in its schema (so /docs shows them)."""
    text = Annotated[StrictStr, Field(max_length=limits.max_chars)]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: Annotated[list[text], Field(max_length=limits.max_texts,
                                           description="Texts to score; an empty text is valid.")]

    return PredictRequest
