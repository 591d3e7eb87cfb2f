"""Where posts come from: one package per network."""
