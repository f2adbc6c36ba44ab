"""The one exception type for bad user input: entry scripts print it as one line."""


class UserError(Exception):
    """A problem the user can fix (a path, a flag, a file); printed without a traceback."""
