"""The bundled demo stream."""
