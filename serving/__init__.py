"""onnxruntime predictors, the model registry, live state and the BentoML service.

This package must never import torch or ``training``: a serving image carries neither.
"""
