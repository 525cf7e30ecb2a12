"""The deploy CLI's one error: a refused or failed step, whose message says what to do about it."""


class DeployError(Exception):
    """A refused or failed deployment step; the message says what to do about it."""
