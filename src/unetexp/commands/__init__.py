"""The command-line entry points: the training app and every `unetexp COMMAND`."""
