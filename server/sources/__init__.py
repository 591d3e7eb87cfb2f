"""Where posts come from: the streaming base, the registry, and one package per network."""
