"""The U-Net, its losses and metrics, the TensorFlow runtime, Keras callbacks, fit and evaluate."""
