"""Serve a trained run over HTTP: ``create_app(run_or_path, limits, api_key)`` → a FastAPI app
(``rnnlab serve RUN`` runs it with uvicorn). Needs the ``serve`` extra:
``pip install 'rnnlab[serve]'``.

- :mod:`.app`: the endpoints and the model's answers;
- :mod:`.schemas`: request and response shapes (the OpenAPI document);
- :mod:`.limits`: request limits, the API key and the middleware that enforces them;
- :mod:`.batcher`: micro-batching of concurrent requests;
- :mod:`.server`: uvicorn with request-header deadlines, JSON answers to malformed requests and
  an access log without query strings;
- :mod:`.workers`: several worker processes on one port (``rnnlab serve --workers N``).
"""

from .app import create_app
from .batcher import MicroBatcher
from .limits import API_KEY_ENV, Limits
from .server import run_server, server_config
from .workers import serve_workers

__all__ = ["API_KEY_ENV", "Limits", "MicroBatcher", "create_app", "run_server", "serve_workers", "server_config"]
