"""The backends of the queue: one package each, behind `base.Store`, chosen by `factory`."""
