"""cli: the ``deconflict`` command."""
