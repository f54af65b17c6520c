"""Export of trained models: ONNX graphs with gee-crop metadata and a model card."""
