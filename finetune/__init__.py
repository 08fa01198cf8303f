"""Personified data construction, SFT and automatic DPO (PersLLM). Installed as ``persona_rag.finetune``."""
