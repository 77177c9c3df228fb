"""Small template filters for job pages."""

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """12.3 -> "12 s", 125 -> "2 min 5 s", 7300 -> "2 h 1 min"; "" for None."""
    if seconds is None or seconds == "":
        return ""
    total = max(0, round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
