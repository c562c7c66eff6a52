"""``paddleseg serve``: a model behind HTTP, speaking PaddleX's semantic-segmentation protocol and more.

``settings`` (what a server is told), ``request_images`` (request bytes to BGR images, within
limits), ``url_inputs`` (allow-listed URL fetches), ``batching`` (concurrent requests run as one
batch), ``model_service`` (the model, loaded in the background), ``metrics`` (Prometheus),
``paddlex_protocol`` (PaddleX's request and envelopes), ``responses`` (every answer in the envelope;
label maps as PNG), ``routes`` (the endpoints), ``request_log`` (logId, body limit, metrics and
log line of each request), ``app`` (the FastAPI application that wires them) and ``page.html``
(the upload page at ``/``).
"""
