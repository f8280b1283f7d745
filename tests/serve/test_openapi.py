"""The served OpenAPI schema, and the app checked against it with schemathesis: for generated
valid and invalid requests there is no 5xx and every response conforms to the schema."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install 'rnnlab[test]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install 'rnnlab[test]')")

from helpers import toy_config, write_toy_csv  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.use.serve import Limits, create_app  # noqa: E402


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    run = rnnlab.train(toy_config(write_toy_csv(tmp / "toy.csv", n=200), tmp / "runs", fit__epochs=1))
    return create_app(run, Limits(max_texts=8, max_chars=300, max_body_bytes=20_000, explain_max_texts=3,
                                  explain_max_chars=100, explain_steps=4), api_key="")


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_every_generated_request_gets_a_documented_answer(app, mode):
    # the strategy API, not `schemathesis.pytest.from_fixture`: that one fails on pytest 9
    # (it sets the private `Function._nodeid`)
    # a schema-violating request may also be refused with 413 (more than maxItems texts)
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 413, 422]}}})
    api = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)

    @given(case=api.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate()

    check()


def test_schema_and_docs_are_served_with_the_limits(app):
    transport = httpx.ASGITransport(app=app)

    async def get(path):
        async with httpx.AsyncClient(transport=transport, base_url="http://serve.test") as client:
            return await client.get(path)

    import asyncio

    spec = asyncio.run(get("/openapi.json")).json()
    assert set(spec["paths"]) == {"/v1/predict", "/v1/explain", "/v1/model", "/v1/health", "/v1/ready"}
    texts = spec["components"]["schemas"]["PredictRequest"]["properties"]["texts"]
    assert (texts["maxItems"], texts["items"]["maxLength"]) == (8, 300)
    responses = spec["paths"]["/v1/predict"]["post"]["responses"]
    assert {"200", "413", "422"} <= set(responses) and "401" not in responses
    assert responses["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    docs = asyncio.run(get("/docs"))
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
