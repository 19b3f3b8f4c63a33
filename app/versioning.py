"""Optimistic concurrency: listings and matches carry their version as an ETag ("3"), and a write must name the
version it was based on (If-Match), so that two clients cannot silently overwrite each other's changes."""

from app.errors import PreconditionFailed, PreconditionRequired


def check_if_match(what: str, version: int, if_match: int | None) -> None:
    """Called once the caller is known to be allowed to write: 428 without If-Match, 412 when it is not current."""
    if if_match is None:
        raise PreconditionRequired(
            f'Changing a {what} needs If-Match: read it first and send its ETag, e.g. If-Match: "1".',
            errors=[{"field": "If-Match", "message": f"required: the ETag of the {what} as you last read it"}],
        )
    if if_match != version:
        raise PreconditionFailed(
            f"The {what} changed since you read it: it is at version {version}, not {if_match}. "
            "Read it again, then retry with its new ETag.",
            errors=[{"field": "If-Match", "message": f'not current; the ETag now is "{version}"'}],
        )
