"""Models, losses, the training loop and ONNX export (PyTorch lives here and nowhere else)."""
