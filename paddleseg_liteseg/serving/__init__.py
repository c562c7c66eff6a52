"""``paddleseg serve``: a model behind HTTP, speaking PaddleX's semantic-segmentation protocol and more.

``settings`` (what a server is told), ``request_images`` (request bytes to BGR images, within
limits), ``url_inputs`` (allow-listed URL fetches), ``batching`` (concurrent requests run as one
batch), ``metrics`` (Prometheus), ``responses`` (label maps to JSON and PNG), ``app`` (the FastAPI
application that wires them) and ``page.html`` (the upload page at ``/``).
"""
