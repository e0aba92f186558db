"""The demo's moderation data: user comments in English, German, French and Spanish, the two classifier versions'
scores of them, and the annotators' labels of some.

Everything is synthetic and kept mild: the groups attacked in the "hate" examples are fictional (Zorbians,
Quellish), phone numbers and addresses are reserved or obviously made up, links end in `.example`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from random import Random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.demo.clock import Clock

N_ITEMS, N_LABELLED = 2000, 300
ANNOTATORS = ("annotator", "annotator2")


@dataclass(frozen=True)
class Template:
    text: str
    kind: str  # benign | borderline | toxic
    label: str  # what a careful annotator decides: toxic | not_toxic
    categories: tuple[str, ...] = ()  # toxic: the true categories; otherwise what a classifier would suspect
    note: str = ""  # what an annotator might write down


def _benign(*texts: str) -> list[Template]:
    return [Template(t, "benign", "not_toxic") for t in texts]


def _toxic(category: str, *texts: str) -> list[Template]:
    return [Template(t, "toxic", "toxic", (category,)) for t in texts]


def _edge(text: str, label: str, category: str, note: str) -> Template:
    return Template(text, "borderline", label, (category,), note)


OK, BAD = "not_toxic", "toxic"

TEMPLATES: dict[str, list[Template]] = {
    "en": [
        *_benign(
            "Great {product}, the battery lasts all day.",
            "Does anyone know if the {product} works with older chargers?",
            "Thanks {user}, that fixed it!",
            "Delivery took two weeks but the {product} is fine.",
            "The new update broke my settings again, anyone else?",
            "Lovely weather in {city} today.",
            "Can someone recommend a good book about gardening?",
            "I disagree, the second season was much better.",
            "Five stars, would buy again.",
            "The instructions were confusing but support helped.",
            "Is the shop in {city} open on Sundays?",
            "Congrats on the new job, {user}!",
            "Not bad for the price, a bit noisy though.",
            "Who's watching the match tonight?",
            "Returned the {product}, refund arrived in three days.",
            "Does this recipe work without eggs?",
        ),
        _edge("I'm going to kill this boss tonight, wish me luck", OK, "violence", "gaming slang"),
        _edge(
            "This {product} is garbage and whoever designed it should be ashamed.",
            OK,
            "harassment",
            "harsh, but about the product",
        ),
        _edge(
            "He called me an idiot in chat, is that even allowed?",
            OK,
            "harassment",
            "reports an insult, does not make one",
        ),
        _edge("Wow, great job breaking it again. Genius.", OK, "harassment", "sarcasm about a product"),
        _edge("I cut myself shaving again this morning lol, three plasters", OK, "self_harm", "not self-harm"),
        _edge("That referee deserves a slap for that call.", BAD, "violence", "hyperbole, but aimed at a person"),
        _edge("lol you're such a noob, {user}, uninstall the game", BAD, "harassment", "mild, but targets a person"),
        _edge("Nobody asked for your opinion, {user}. Go away.", BAD, "harassment", "targets a person"),
        _edge("Typical Zorbian driver, no idea how to indicate.", BAD, "hate", "stereotype about a group"),
        _edge("You look hot in your profile pic 😉", BAD, "sexual", "unsolicited comment on looks"),
        _edge("Check out my channel for more tips, link in my bio!", BAD, "spam", "self-promotion"),
        _edge(
            "My email is {name}@example.com if anyone wants the spare parts",
            BAD,
            "personal_data",
            "own contact details in public",
        ),
        _edge(
            "Some days I feel like hurting myself, not sure who to talk to.",
            BAD,
            "self_harm",
            "needs the support route",
        ),
        _edge("Honestly people who park like this should lose their licence.", OK, "harassment", "opinion, no target"),
        *_toxic(
            "harassment",
            "You're a complete idiot, {user}, stop posting.",
            "What a pathetic loser you are.",
            "Nobody likes you here, {user}. Log off for good.",
        ),
        *_toxic(
            "hate",
            "Zorbians are worthless and should leave this forum.",
            "All Quellish people are liars, never trust them.",
        ),
        *_toxic("sexual", "Hey cutie, send me some spicy pics 😏", "Want to see something naughty? DM me."),
        *_toxic(
            "violence",
            "Post that again and I'll come round and break your nose.",
            "Someone should beat {user} up for that take.",
        ),
        *_toxic("self_harm", "I don't see the point anymore, I keep thinking about hurting myself."),
        *_toxic(
            "spam",
            "CHEAP FOLLOWERS!!! 10,000 followers for $5 at followers-cheap.example",
            "Earn €500 a day from home, click bit.example/x{nnn}",
            "Best replica watches, visit watches.example",
        ),
        *_toxic(
            "personal_data",
            "{name} lives at {n} Example Street, call him on 07700 900{nnn}",
            "Here is her email: {name}.{nnn}@example.com, go tell her what you think",
        ),
    ],
    "de": [
        *_benign(
            "Super Lieferung, alles funktioniert einwandfrei.",
            "Weiß jemand, wann das nächste Update kommt?",
            "Danke für den Tipp, {user}, hat geholfen!",
            "Der Kundenservice war freundlich und schnell.",
            "Kann man das auch in {city} abholen?",
            "Das Spiel gestern war richtig spannend.",
            "Preis-Leistung passt, nur etwas laut.",
            "Gibt es das auch in Blau?",
        ),
        _edge("Heute Abend mach ich den Endgegner platt!", OK, "violence", "gaming slang"),
        _edge("Dieses Gerät ist absoluter Müll.", OK, "harassment", "harsh, but about the product"),
        _edge("Halt doch einfach mal die Klappe, {user}.", BAD, "harassment", "targets a person"),
        _edge("Typisch Zorbier, keine Ahnung vom Autofahren.", BAD, "hate", "stereotype about a group"),
        _edge("Meine Nummer steht im Profil, schreib mir einfach.", OK, "personal_data", "own contact details"),
        *_toxic("harassment", "Du bist so ein Idiot, {user}.", "Was für ein erbärmlicher Verlierer."),
        *_toxic("hate", "Alle Quellaner sind Lügner."),
        *_toxic("sexual", "Schick mir heiße Fotos, Süße 😏"),
        *_toxic("violence", "Wenn du das nochmal postest, hau ich dir eine rein."),
        *_toxic("self_harm", "Ich will mir manchmal einfach wehtun, ich weiß nicht weiter."),
        *_toxic("spam", "BILLIGE FOLLOWER!!! Jetzt auf follower-billig.example"),
        *_toxic("personal_data", "{name} wohnt in der Beispielstraße {n}, Handy 0170 0000{nnn}"),
    ],
    "fr": [
        *_benign(
            "Livraison rapide, l'appareil fonctionne parfaitement.",
            "Quelqu'un sait quand sort la mise à jour ?",
            "Merci pour l'astuce, {user}, ça marche !",
            "Le service client a été très sympa.",
            "Très bon match hier soir.",
            "Est-ce qu'on peut le retirer en magasin à {city} ?",
            "Bon rapport qualité-prix, un peu bruyant.",
        ),
        _edge("Ce soir je vais massacrer ce boss !", OK, "violence", "gaming slang"),
        _edge("Ce produit est une vraie poubelle.", OK, "harassment", "harsh, but about the product"),
        _edge("Tais-toi un peu, {user}.", BAD, "harassment", "targets a person"),
        _edge("Typique des Zorbiens, aucune idée de comment conduire.", BAD, "hate", "stereotype about a group"),
        *_toxic("harassment", "T'es vraiment un abruti, {user}."),
        *_toxic("hate", "Les Quelliens sont tous des menteurs."),
        *_toxic("sexual", "Envoie-moi des photos coquines 😏"),
        *_toxic("violence", "Reposte ça et je te casse la figure."),
        *_toxic("self_harm", "J'ai parfois envie de me faire du mal, je ne sais plus quoi faire."),
        *_toxic("spam", "FOLLOWERS PAS CHERS !!! sur followers-pascher.example"),
        *_toxic("personal_data", "{name} habite au {n} rue de l'Exemple, tél 06 00 00 0{nnn}"),
    ],
    "es": [
        *_benign(
            "Envío rápido, el aparato funciona perfecto.",
            "¿Alguien sabe cuándo sale la actualización?",
            "Gracias por el consejo, {user}, me sirvió.",
            "La atención al cliente fue muy amable.",
            "Qué partidazo el de anoche.",
            "¿Se puede recoger en la tienda de {city}?",
            "Buena relación calidad-precio, algo ruidoso.",
        ),
        _edge("¡Esta noche me cargo al jefe final!", OK, "violence", "gaming slang"),
        _edge("Este producto es una basura.", OK, "harassment", "harsh, but about the product"),
        _edge("Cállate ya, {user}.", BAD, "harassment", "targets a person"),
        _edge("Típico de los zorbianos, no saben conducir.", BAD, "hate", "stereotype about a group"),
        *_toxic("harassment", "Eres un idiota, {user}."),
        *_toxic("hate", "Todos los quellianos son unos mentirosos."),
        *_toxic("sexual", "Mándame fotos picantes, guapa 😏"),
        *_toxic("violence", "Vuelve a publicar eso y te parto la cara."),
        *_toxic("self_harm", "A veces tengo ganas de hacerme daño, no sé qué hacer."),
        *_toxic("spam", "¡¡¡SEGUIDORES BARATOS!!! en seguidores-baratos.example"),
        *_toxic("personal_data", "{name} vive en la calle Ejemplo {n}, móvil 600 000 {nnn}"),
    ],
}

SLOTS = {
    "product": ("headset", "blender", "router", "e-reader", "kettle", "smartwatch", "tablet", "vacuum"),
    "user": ("@mika_88", "@tomtom", "@ana.r", "@pixelfox", "@jul_s", "@kai", "@nora_k", "@bertie"),
    "city": ("Lyon", "Leeds", "Graz", "Bilbao", "Utrecht", "Turin", "Gdansk", "Porto"),
    "name": ("alex", "sam", "robin", "kim", "jo", "charlie"),
}
SUFFIXES = {"en": ("", "", "", "!", " lol", " :)"), "de": ("", "", "!", " :)"), "fr": ("", "", " !", " :)")}
SUFFIXES["es"] = ("", "", " :)", " jaja")
# Shares of languages and of kinds: most comments are harmless, a good part sits on the fence.
LANGUAGES = (("en", 0.55), ("de", 0.18), ("fr", 0.14), ("es", 0.13))
KINDS = (("benign", 0.50), ("borderline", 0.30), ("toxic", 0.20))
SOURCES = (("forum", 0.4), ("chat", 0.35), ("reviews", 0.25))
SEGMENTS = (("new", 0.3), ("returning", 0.55), ("business", 0.15))


def choose(rng: Random, shares: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([value for value, _ in shares], weights=[share for _, share in shares])[0]


@dataclass(frozen=True)
class Comment:
    text: str
    template: Template
    meta: dict[str, str]


def comment(rng: Random) -> Comment:
    language, kind = choose(rng, LANGUAGES), choose(rng, KINDS)
    template = rng.choice([t for t in TEMPLATES[language] if t.kind == kind])
    text = template.text.format(
        product=rng.choice(SLOTS["product"]),
        user=rng.choice(SLOTS["user"]),
        city=rng.choice(SLOTS["city"]),
        name=rng.choice(SLOTS["name"]),
        n=rng.randrange(1, 99),
        nnn=f"{rng.randrange(1000):03d}",
    )
    suffix = rng.choice(SUFFIXES[language])
    if suffix and text[-1] not in "!?" and template.categories != ("spam",):
        text = text.removesuffix(".") + suffix
    meta = {"language": language, "source": choose(rng, SOURCES), "user_segment": choose(rng, SEGMENTS)}
    return Comment(text, template, meta)


# --- scores and labels ------------------------------------------------------------------------------------------


def _scores(c: Comment, rng: Random) -> dict[str, float]:
    """modclf-v2 is sharp on clear cases and unsure on the fence; modclf-v1 is noisier and over-flags harmless
    comments that are not in English or come from reviews (a slice the fairness report should find)."""
    t = c.template
    toxic = t.label == "toxic"
    if t.kind == "borderline":
        v2 = rng.gauss(0.53 if toxic else 0.47, 0.07)
        v1 = rng.gauss(0.52 if toxic else 0.48, 0.13)
    elif toxic:
        v2, v1 = rng.gauss(0.9, 0.06), rng.gauss(0.8, 0.13)
    else:
        bias = (0.18 if c.meta["language"] != "en" else 0) + (0.08 if c.meta["source"] == "reviews" else 0)
        v2, v1 = rng.gauss(0.09, 0.07), rng.gauss(0.14 + bias, 0.13)
    return {"modclf-v1": _clip(v1), "modclf-v2": _clip(v2)}


def _clip(score: float) -> float:
    return round(min(0.995, max(0.005, score)), 3)


def moderation_rows(seed: int, clock: Clock) -> tuple[list[dict], list[dict]]:
    rng = Random(f"{seed}:moderation")
    rows: list[dict[str, Any]] = []
    items: list[tuple[str, Comment, datetime, float]] = []
    for i in range(N_ITEMS):
        c, at, item_id = comment(rng), clock.arrival(), f"demo{seed}-mod-{i + 1:04d}"
        scores = _scores(c, rng)
        for model, score in scores.items():
            categories = list(c.template.categories) if score >= 0.5 else []
            if categories and model == "modclf-v1" and rng.random() < 0.2:
                categories = [rng.choice(("harassment", "hate", "violence", "spam"))]  # v1 mixes categories up
            rows.append(
                {
                    "item_id": item_id,
                    "text": c.text,
                    "model": model,
                    "score": score,
                    "predicted_label": "toxic" if score >= 0.5 else "not_toxic",
                    "categories": categories,
                    "meta": c.meta,
                    "created_at": at.isoformat(),
                }
            )
        items.append((item_id, c, at, scores["modclf-v2"]))
    return rows, _labels(items, clock, Random(f"{seed}:labels"))


def _labels(items: list[tuple[str, Comment, datetime, float]], clock: Clock, rng: Random) -> list[dict]:
    """Two thirds of the labelled items come from where the classifier is least sure, like the borderline queue."""
    unsure = sorted(items, key=lambda item: (abs(item[3] - 0.5), item[0]))
    chosen = rng.sample(unsure[:500], N_LABELLED * 2 // 3)
    taken = {item[0] for item in chosen}
    rest = [item for item in items if item[0] not in taken]
    chosen += rng.sample(rest, N_LABELLED - len(chosen))
    labels = []
    for item_id, c, at, _ in sorted(chosen, key=lambda item: item[0]):
        annotators = [a for a, chance in zip(ANNOTATORS, (0.8, 0.75), strict=True) if rng.random() < chance]
        for annotator in annotators or [rng.choice(ANNOTATORS)]:
            t = c.template
            error = (0.15 if annotator == "annotator" else 0.2) if t.kind == "borderline" else 0.02
            label = t.label if rng.random() >= error else ("not_toxic" if t.label == "toxic" else "toxic")
            note = t.note if t.note and rng.random() < 0.35 else ""
            labels.append(
                {
                    "item_id": item_id,
                    "text": c.text,
                    "annotator": annotator,
                    "label": label,
                    "categories": list(t.categories) if label == "toxic" else [],
                    "note": note,
                    "created_at": clock.judged(at).isoformat(),
                }
            )
    return labels
