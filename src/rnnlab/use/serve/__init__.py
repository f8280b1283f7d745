"""Serve a trained run over HTTP: ``create_app(run_or_path, limits, api_key)`` → a FastAPI app
(``rnnlab serve RUN`` runs it with uvicorn). Needs the ``serve`` extra:
``pip install 'rnnlab[serve]'``.

- :mod:`.app`: the endpoints and the model's answers;
- :mod:`.schemas`: request and response shapes (the OpenAPI document);
- :mod:`.limits`: request limits, the API key and the middleware that enforces them;
- :mod:`.batcher`: micro-batching of concurrent requests.
"""

from .app import create_app
from .batcher import MicroBatcher
from .limits import API_KEY_ENV, Limits

__all__ = ["API_KEY_ENV", "Limits", "MicroBatcher", "create_app"]
