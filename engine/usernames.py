"""Usernames that cannot pass for someone else's (issue 24, finding 13: "ѕ3vіc", with a Cyrillic ѕ
and і, was accepted next to "s3vic"). A username is shown on every published artwork, so a
look-alike is an impersonation. Sign-up (engine.accounts) refuses, after Django's NFKC
normalisation (UsernameField):

- a name that mixes scripts, as Unicode's UTS #39 "highly restrictive" level has it: the letters
  of one script, or Latin with the Han, Hiragana, Katakana, Bopomofo or Hangul of one CJK
  language; digits and punctuation (Common, Inherited) go with any. "ѕ3vіc" is Cyrillic and Latin.
- a name whose skeleton is that of an existing user: UTS #39's skeleton (each character replaced
  by the prototype of its confusable class: Cyrillic "ѕ" by "s", "0" by "O", "1" and "I" by "l",
  "m" by "rn"), case-folded, so "s3vic", "S3VIC", "s3vlc" and an all-Cyrillic "ѕ3ѵіс" are one name.
  Skeletons are kept in engine.models.UsernameSkeleton (one row per user, indexed; kept in step
  with every save of a username by keep_skeleton, a post_save receiver), so the check is one query.

Why confusable-homoglyphs (pinned): it ships Unicode's confusables and scripts tables as data
(django-registration's username validator uses it for the mixed-script check); Python has no
skeleton of its own, and copying the tables into the repository would be 1 MB of data to keep up
to date by hand. Its mixed-script test alone (`is_dangerous`) refuses Japanese names that mix Han
and Katakana ("名前.テスト") and misses whole-script look-alikes, so the two rules above are built
here on its tables. What the Unicode tables cannot know (a name in one script like "rnike"
against "mike") the skeleton catches where they list it ("m" is "rn"); nothing is perfect here.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Scripts that may share a name with each other (UTS #39, "highly restrictive"): any one script
# alone, or one of these combinations' subsets.
CJK_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
             frozenset({"LATIN", "HAN", "HANGUL"}))
ANY_SCRIPT = frozenset({"COMMON", "INHERITED"})

MIXED_SCRIPTS = ("This username mixes letters of different alphabets ({scripts}), so it could pass for another "
                 "name. Please use the letters of one alphabet.")
LOOK_ALIKE = "This username looks too much like one that is taken. Please choose another."


def scripts(name: str) -> set[str]:
    """The scripts of the name's letters (Common and Inherited characters left out)."""
    from confusable_homoglyphs import categories  # its tables load on import

    return {categories.alias(ch) for ch in name} - ANY_SCRIPT


def mixes_scripts(name: str) -> bool:
    found = scripts(name)
    return len(found) > 1 and not any(found <= mix for mix in CJK_MIXES)


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype: the member of its confusable class that the others
    are listed against (the package lists each pair both ways, so the prototype is the member
    with the most look-alikes; a tie goes to the ASCII one, then the shorter, then the smaller)."""
    from confusable_homoglyphs import confusables  # its table loads on import

    links: dict[str, set[str]] = {}
    for char, glyphs in confusables.confusables_data.items():
        for glyph in glyphs:
            links.setdefault(char, set()).add(glyph["c"])
            links.setdefault(glyph["c"], set()).add(char)
    prototypes: dict[str, str] = {}
    for start in links:
        if start in prototypes:
            continue
        group, todo = {start}, [start]
        while todo:
            for other in links[todo.pop()] - group:
                group.add(other)
                todo.append(other)
        prototype = min(group, key=lambda s: (-len(links[s]), not s.isascii(), len(s), s))
        prototypes.update(dict.fromkeys(group, prototype))
    return prototypes


def _skeleton(text: str) -> str:
    prototypes = _prototypes()
    text = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(ch, ch) for ch in text)).casefold()


def skeletons(name: str) -> tuple[str, str]:
    """UTS #39's skeleton of a username case-folded after it is made ("PayPaI" is "paypal") and
    before ("Ivan" is "ivan", which the skeleton alone would make "lvan"): two names that share
    either look alike (see the module notes)."""
    text = unicodedata.normalize("NFKC", name)
    return _skeleton(text), _skeleton(text.casefold())


def look_alike_taken(name: str, *, exclude_user=None) -> bool:
    """Whether another user's name looks like `name`: one query."""
    from django.db.models import Q

    from engine.models import UsernameSkeleton

    skeleton, folded = skeletons(name)
    others = UsernameSkeleton.objects.filter(Q(skeleton=skeleton) | Q(folded=folded))
    if exclude_user is not None and exclude_user.pk is not None:
        others = others.exclude(user=exclude_user)
    return others.exists()


def problem(name: str, *, exclude_user=None) -> str:
    """Why `name` may not be a new username ("" if it may)."""
    if mixes_scripts(name):
        return MIXED_SCRIPTS.format(scripts=", ".join(sorted(s.title() for s in scripts(name))))
    if look_alike_taken(name, exclude_user=exclude_user):
        return LOOK_ALIKE
    return ""


def keep_skeleton(sender, instance, created: bool = False, update_fields=None, raw: bool = False, **kwargs) -> None:
    """post_save of the user model: the user's skeletons follow their username (a log-in saves
    only last_login, and is skipped)."""
    from engine.models import UsernameSkeleton

    if raw or (update_fields is not None and instance.USERNAME_FIELD not in update_fields):
        return
    skeleton, folded = skeletons(instance.get_username())
    UsernameSkeleton.objects.update_or_create(user=instance, defaults={"skeleton": skeleton, "folded": folded})
