"""Backends that answer "what are this user's interests?": chat, batch (OpenAI Batch API and
``vllm run-batch`` JSONL) and kg-summary (no LLM)."""
