"""A session: the controller and the voice menu (conversations), what the guide says on its own
account, the history, the settings, and putting a session together from its parts."""
