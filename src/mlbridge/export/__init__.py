"""Exporters that turn a trained Keras model into files a browser can run."""
