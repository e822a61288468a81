"""The ``/__admin`` JSON API: everything the UI does, scriptable."""
