"""Posts that are hard to lay out: emoji, right-to-left, long words and URLs, broken images."""

from __future__ import annotations

from typing import Any

from moderation.post import Author, Entity, Kind, Media, Post

IMAGES = "https://pbs.twimg.com"


def entities(text: str, *spans: str, **urls: str) -> tuple[Entity, ...]:
    """Hashtags, mentions and URLs found in `text`, counted in code points."""
    found = []
    for span in spans:
        start = text.index(span)
        kind = "hashtag" if span.startswith("#") else "mention"
        found.append(Entity(kind, start, start + len(span), span))
    for short, long in urls.items():
        start = text.index(short)
        found.append(Entity("url", start, start + len(short), short, long,
                            long.removeprefix("https://")[:40] + "…"))
    return tuple(sorted(found, key=lambda e: e.start))


def author(handle: str, name: str, avatar: str | None = "ok") -> Author:
    """An author whose avatar loads ("ok"), is broken ("broken"), or is missing (None)."""
    url = None if avatar is None else f"{IMAGES}/profile_images/1/{avatar}_normal.jpg"
    return Author(id=f"u-{handle}", handle=handle, name=name, avatar_url=url)


def post(n: int, text: str, who: Author, *, tags: tuple[str, ...] = ("#uemedef14",),
         **fields: Any) -> Post:
    """A post with its hashtags as entities unless `entities` is given."""
    fields.setdefault("entities", entities(text, *(t for t in tags if t in text)))
    return Post(id=f"x:{n}", network="x", author=who, text=text,
                created_at="2014-08-27T09:00:00.000Z", **fields)


def photo(name: str, alt: str = "") -> Media:
    """A photo on the fake image host; a name containing "broken" fails to load."""
    return Media("photo", f"{IMAGES}/media/{name}.jpg", alt_text=alt, width=1200, height=800)


LONG_URL = "https://www.example.org/programme/universite-d-ete/2014/ateliers/" + "x" * 120


def hard_posts() -> list[Post]:
    """Twelve posts, oldest first; the newest six are the hardest to lay out."""
    long_text = ("Table ronde sur la compétitivité : " + "les entreprises de taille "
                 "intermédiaire exportent davantage quand elles sont accompagnées. " * 3)
    long_text = long_text[:262] + " #uemedef14"
    return [
        post(1, "Bonjour à toutes et à tous ! #uemedef14", author("orga", "Équipe orga")),
        post(2, "Le café est servi sous le chapiteau ☕ #uemedef14", author("cafe", "Café", None)),
        post(3, "Photo de la salle plénière #uemedef14", author("photo", "Photographe"),
             media=(photo("salle", "La salle plénière vue du fond"),)),
        post(4, "Citation du jour #Paroles2CEO", author("quote", "Citations"),
             tags=("#Paroles2CEO",), kind=Kind.QUOTE,
             referenced=post(40, "Oser, c'est déjà réussir un peu. #uemedef14",
                             author("ceo", "Une dirigeante"))),
        post(5, "Avatar cassé, texte intact #uemedef14", author("casse", "Avatar Cassé",
                                                                 "broken")),
        post(6, "Jean-Baptiste-Emmanuel de La Rochefoucauld a un nom très long 🏳️‍🌈 #uemedef14",
             author("jbe_rochefoucauld_montmorency_officiel",
                    "Jean-Baptiste-Emmanuel de La Rochefoucauld-Montmorency 🏳️‍🌈")),
        post(7, long_text, author("longtext", "Texte long"),
             media=(photo("broken-plenary", "une image qui ne charge pas"),)),
        post(8, "Programme complet ici : https://t.co/prog #uemedef14", author("prog", "Programme"),
             entities=entities("Programme complet ici : https://t.co/prog #uemedef14",
                               "#uemedef14", **{"https://t.co/prog": LONG_URL}),
             media=(photo("broken-programme", "le programme"),)),
        post(9, "Anticonstitutionnellement" * 4 + "Intergouvernementalisation #uemedef14",
             author("mots", "Mots longs")),
        post(10, "שלום from Jouy-en-Josas! מחר בבוקר at 9:00 נפגשים 👋 #uemedef14",
             author("noa", "נועה Noa", None), lang="he"),
        post(11, "صباح الخير من حرم HEC قرب باريس 🇲🇦🇫🇷 سعيد بالمشاركة #uemedef14",
             author("karim", "Karim Saadi كريم سعدي"), lang="ar"),
        post(12, "🎉🎉🎉 Bravo à toute l'équipe 👏🏽👩🏾‍💻🧑‍🤝‍🧑 #uemedef14 #Paroles2CEO",
             author("emoji", "Émoji 😀"), tags=("#uemedef14", "#Paroles2CEO"),
             media=(photo("equipe", "L'équipe sur scène"),)),
    ]


def announcement(n: int, text: str) -> Post:
    """A moderators' announcement, for the wall's featured place."""
    return Post(id=f"hashwall:{n}", network="hashwall", author=author("orga", "Organisation"),
                text=text, created_at="2014-08-27T09:05:00.000Z", kind=Kind.ANNOUNCEMENT)


def network_posts() -> list[Post]:
    """One post from each network with handles in that network's form, long handles and
    names, a long quoted post, an unbroken word and a long URL: the layout's worst cases."""
    words = "Anticonstitutionnellement" * 6
    quote = ("Une entreprise qui ne prend pas de risque prend le plus grand de tous : celui de "
             "disparaître. " * 4).strip()
    long_text = ("La compétitivité passe par la formation, l'export et l'investissement dans "
                 "les territoires ; les entreprises de taille intermédiaire le montrent. " * 4)
    return [
        post(101, "Ouverture de la plénière #uemedef14", author("ada", "Ada")),
        Post(id="mastodon:https://mastodon.social/users/chloe/statuses/1", network="mastodon",
             author=author("chloe_lefebvre_journaliste@mastodon.social",
                           "Chloé Lefebvre, journaliste économique indépendante"),
             text=f"{long_text}#uemedef14", created_at="2014-08-27T09:01:00.000Z"),
        Post(id="bluesky:at://did:plc:abc/app.bsky.feed.post/3k", network="bluesky",
             author=author("tres.long.nom.de.compte.officiel.bsky.social", "Compte officiel"),
             text=f"{words} #uemedef14", created_at="2014-08-27T09:02:00.000Z"),
        Post(id="onsite:7", network="onsite", author=Author(id="onsite-7", handle="",
                                                            name="Marie, rang 12"),
             text="Quelle place pour les PME dans la transition ? " + LONG_URL,
             created_at="2014-08-27T09:03:00.000Z"),
        post(102, "À méditer #Paroles2CEO", author("citations_du_jour_officielles_2014",
                                                    "Citations du jour"),
             tags=("#Paroles2CEO",), kind=Kind.QUOTE,
             referenced=post(103, quote, author("ceo", "Une dirigeante"))),
        post(104, "La salle est comble #uemedef14", author("photo", "Photographe"),
             media=(photo("salle", "La salle plénière vue du fond"),)),
    ]
