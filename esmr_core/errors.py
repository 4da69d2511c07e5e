"""Exceptions whose message a user can act on. The CLI prints them as one `error: ...` line (exit 2);
the app shows them in the page. Anything else escaping is a bug."""


class EsmrError(Exception):
    """Base class: the message says what went wrong and what to do."""


class AudioError(EsmrError, ValueError):
    """The input audio cannot be used (missing, empty, corrupt, silent, too short, too large, ...)."""


class CollectionError(EsmrError, ValueError):
    """A data collection (catalogue, corpus, song list) is missing, of another kind, or malformed."""


class ModelUnavailableError(EsmrError):
    """A model could not be loaded (hub unreachable, checkpoint missing); the message says how to get it."""
