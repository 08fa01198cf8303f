"""``persona-rag serve``: the personas over HTTP (OpenAI-compatible chat, native API, web page).

Build the app with :func:`persona_rag.server.app.create_app`.
"""
