"""Web chat (Gradio) and HTTP API (FastAPI) over traite_qa."""
