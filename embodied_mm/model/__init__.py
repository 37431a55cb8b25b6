"""The PaLM-E model: LLM backends, observation features, encoders, the model, its decoder.

Importing this package imports nothing heavy; torch and transformers load with the submodules.
"""
