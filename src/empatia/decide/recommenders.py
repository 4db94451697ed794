"""Candidate items for each person, from that person's own behaviour.

Every recommender fits on one :class:`Interactions` (purchase occasions: person, item, day)
and returns, for a batch of people, a dense ``people × items`` score block. The
:class:`Hybrid` blends the individual signals — rhythm-aware buy-again, item-to-item
co-occurrence, implicit ALS — with a little recent popularity, each normalised per person.
:class:`Popularity` and :class:`Persona` are the baselines the hybrid is measured against
(``benchmarks/recsys_eval.py``) and the labelled cold-start fallback.

>>> import pandas as pd
>>> df = pd.DataFrame({"person": ["a", "a", "b"], "item": ["x", "x", "y"],
...                    "ts": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-10"])})
>>> data = Interactions.from_frame(df)
>>> BuyAgain().fit(data).top_k([0], 1)[0].tolist()
[0]
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from empatia.plugins import Registry

#: Recommenders by name: the ``empatia.recommenders`` entry points, the built-in ones included.
RECOMMENDERS: Registry[Callable[..., Recommender]] = Registry("empatia.recommenders")


@dataclass
class Interactions:
    """Purchase occasions (one per person, item and day) with integer indices.

    ``age`` is in days before ``as_of`` (the end of the history). ``category`` maps an item
    to its category when known (else empty).
    """

    persons: np.ndarray  # index -> person id
    items: np.ndarray  # index -> item id
    u: np.ndarray  # per occasion: person index
    i: np.ndarray  # per occasion: item index
    age: np.ndarray  # per occasion: days before as_of (float)
    qty: np.ndarray  # per occasion: quantity
    as_of: pd.Timestamp
    category: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        as_of: pd.Timestamp | None = None,
        items: Sequence[str] | np.ndarray | None = None,
        persons: Sequence[str] | None = None,
    ) -> Interactions:
        """From a frame with ``person``, ``item``, ``ts`` (and optional ``qty``,
        ``category``, ``name``); several rows on the same day count as one occasion."""
        df = df[["person", "item", "ts"] + [c for c in ("qty", "category", "name") if c in df]]
        ts = pd.to_datetime(df["ts"], utc=True)
        as_of = pd.Timestamp(as_of).tz_convert("UTC") if as_of is not None and pd.Timestamp(as_of).tzinfo else (
            pd.Timestamp(as_of).tz_localize("UTC") if as_of is not None else ts.max()
        )
        day = ts.dt.floor("D")
        qty = df["qty"].astype(float) if "qty" in df else pd.Series(1.0, index=df.index)
        occ = (
            pd.DataFrame({"person": df["person"].astype(str), "item": df["item"].astype(str),
                          "day": day, "qty": qty})
            .groupby(["person", "item", "day"], sort=False, observed=True)["qty"].sum()
            .reset_index()
        )
        p_index = pd.Index(persons if persons is not None else occ["person"].unique())
        i_index = pd.Index(items if items is not None else occ["item"].unique())
        u = p_index.get_indexer(occ["person"])
        i = i_index.get_indexer(occ["item"])
        keep = (u >= 0) & (i >= 0)
        age = ((as_of - occ["day"]).dt.total_seconds() / 86400.0).to_numpy()
        category: dict[str, str] = {}
        names: dict[str, str] = {}
        if "category" in df:
            category = dict(zip(df["item"].astype(str), df["category"].astype(str), strict=False))
        if "name" in df:
            names = dict(zip(df["item"].astype(str), df["name"].astype(str), strict=False))
        return cls(
            persons=np.asarray(p_index, dtype=object), items=np.asarray(i_index, dtype=object),
            u=u[keep].astype(np.int32), i=i[keep].astype(np.int32),
            age=np.maximum(age[keep], 0.0), qty=occ["qty"].to_numpy()[keep], as_of=as_of,
            category=category, names=names,
        )

    @property
    def n_persons(self) -> int:
        return len(self.persons)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def matrix(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """``persons × items``, summing ``weights`` (default 1 per occasion)."""
        w = np.ones(len(self.u), dtype=np.float32) if weights is None else weights.astype(np.float32)
        m = sp.csr_matrix((w, (self.u, self.i)), shape=(self.n_persons, self.n_items))
        m.sum_duplicates()
        return m

    def rows_of(self, persons: Sequence[str] | np.ndarray) -> np.ndarray:
        """Each of ``persons``' row here (-1: not among them)."""
        if not hasattr(self, "_rows"):  # a hash index of the persons, made once
            self._rows = pd.Index([str(p) for p in self.persons])
        return np.asarray(self._rows.get_indexer([str(p) for p in persons]), dtype=np.int64)

    def seen(self) -> sp.csr_matrix:
        m = self.matrix()
        m.data[:] = 1.0
        return m


class Recommender(Protocol):
    name: str

    def fit(self, data: Interactions) -> Recommender: ...

    def scores(self, users: np.ndarray) -> np.ndarray: ...


class _Base:
    name = "base"
    data: Interactions

    def top_k(self, users: Sequence[int] | np.ndarray, k: int = 10, *, exclude_seen: bool = False,
              batch: int = 2048) -> np.ndarray:
        """Item indices of the ``k`` best items per person (rows follow ``users``)."""
        users = np.asarray(users, dtype=np.int64)
        seen = self.data.seen() if exclude_seen else None
        out = np.empty((len(users), k), dtype=np.int64)
        for start in range(0, len(users), batch):
            chunk = users[start : start + batch]
            s = self.scores(chunk).astype(np.float32, copy=True)
            if seen is not None:
                rows = seen[chunk]
                s[rows.nonzero()] = -np.inf
            out[start : start + len(chunk)] = topk_rows(s, k)
        return out

    def scores(self, users: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


def topk_rows(s: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest values of each row, best first (ties: lower index)."""
    k = min(k, s.shape[1])
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


def batches(n: int, size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, size):
        yield np.arange(start, min(n, start + size))


class Popularity(_Base):
    """Items bought by the most people, optionally only in the last ``window_days``."""

    name = "popularity"

    def __init__(self, window_days: float | None = None) -> None:
        self.window_days = window_days

    def fit(self, data: Interactions) -> Popularity:
        self.data = data
        keep = np.ones(len(data.u), bool) if self.window_days is None else data.age <= self.window_days
        pairs = np.unique(np.stack([data.u[keep], data.i[keep]]), axis=1)
        self.pop = np.bincount(pairs[1], minlength=data.n_items).astype(np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.pop, (len(users), len(self.pop)))

    def rebase(self, data: Interactions) -> Popularity:
        """See :meth:`Hybrid.rebase`: what everyone bought stays."""
        out = copy.copy(self)
        out.data = data
        return out


class BuyAgain(_Base):
    """A person's own items, scored by recency-weighted frequency and personal rhythm.

    ``tau`` (days) is the half-life-like decay of old occasions (``None``: plain counts).
    ``rhythm`` weighs how due the item is given the person's own interval for it: an item
    bought every ~14 days, last bought 17 days ago, is due.
    """

    name = "buy_again"

    def __init__(self, tau: float | None = None, rhythm: float = 0.0, horizon: float = 30.0) -> None:
        self.tau, self.rhythm, self.horizon = tau, rhythm, horizon

    def fit(self, data: Interactions) -> BuyAgain:
        self.data = data
        w = np.ones(len(data.age)) if self.tau is None else np.exp(-data.age / self.tau)
        self.freq = data.matrix(w)
        count = data.matrix()
        last = _agg_min(data, data.age)  # days since last occasion
        first = _agg_max(data, data.age)
        self.count, self.last, self.first = count, last, first
        interval = first.copy()
        n = count.data
        interval.data = np.where(n > 1, (first.data - last.data) / np.maximum(n - 1, 1), np.inf)
        self.interval = interval
        if self.rhythm:
            due = np.where(np.isfinite(interval.data),
                           1.0 - np.exp(-(last.data + self.horizon) / np.maximum(interval.data, 1.0)),
                           0.0)
            m = self.freq.copy()
            m.data = m.data * (1.0 + self.rhythm * due)
            self.matrix_ = m
        else:
            self.matrix_ = self.freq
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.matrix_[users].toarray()

    def rebase(self, data: Interactions) -> BuyAgain:
        """See :meth:`Hybrid.rebase`: all of it is the person's own."""
        return BuyAgain(self.tau, self.rhythm, self.horizon).fit(data)


def _agg_min(data: Interactions, v: np.ndarray) -> sp.csr_matrix:
    order = np.lexsort((v, data.i, data.u))
    u, i, vv = data.u[order], data.i[order], v[order]
    first = np.ones(len(u), bool)
    first[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    return sp.csr_matrix((vv[first], (u[first], i[first])), shape=(data.n_persons, data.n_items))


def _agg_max(data: Interactions, v: np.ndarray) -> sp.csr_matrix:
    m = _agg_min(data, -v)
    m.data = -m.data
    return m


class CoOccurrence(_Base):
    """Item-to-item: people who bought what this person bought also bought …, weighted by how
    recent the person's own purchases are; ``neighbours`` kept per item.

    ``method="cosine"``: cosine on who-bought-what. ``method="ease"``: the item-to-item
    weights of a ridge regression of each item on all the others (EASE, Steck 2019, penalty
    ``l2``) — co-purchase corrected for items that are simply bought with everything, which
    suggests items new to a person better; it needs an items × items inverse, so above
    ``max_items`` items it falls back to cosine. Negative weights are dropped (a reason text
    never says "people who buy X also buy it" of a weight against)."""

    name = "cooccurrence"

    def __init__(self, neighbours: int = 100, tau: float | None = 90.0, method: str = "cosine",
                 l2: float = 300.0, max_items: int = 6000) -> None:
        if method not in ("cosine", "ease"):
            raise ValueError(f"unknown co-occurrence method {method!r}")
        self.neighbours, self.tau, self.method = neighbours, tau, method
        self.l2, self.max_items = l2, max_items

    def fit(self, data: Interactions) -> CoOccurrence:
        self.data = data
        x = data.seen()
        self.method_ = "ease" if self.method == "ease" and 0 < data.n_items <= self.max_items else "cosine"
        if self.method_ == "ease":
            self.sim = _ease(x, self.l2, self.neighbours)
        else:
            norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel()) + 1e-9
            sim = (x.T @ x).tocsr().astype(np.float32)
            sim.setdiag(0)
            sim.eliminate_zeros()
            sim = sp.diags(1 / norms) @ sim @ sp.diags(1 / norms)
            self.sim = _keep_top(sp.csr_matrix(sim), self.neighbours)
        w = np.ones(len(data.age)) if self.tau is None else np.exp(-data.age / self.tau)
        self.history = data.matrix(w)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return (self.history[users] @ self.sim).toarray()

    def rebase(self, data: Interactions) -> CoOccurrence:
        """See :meth:`Hybrid.rebase`: the item-to-item weights stay, the histories are the
        people's own."""
        out = copy.copy(self)
        out.data = data
        w = np.ones(len(data.age)) if self.tau is None else np.exp(-data.age / self.tau)
        out.history = data.matrix(w)
        return out

    def because(self, user: int, item: int, k: int = 2) -> list[int]:
        """The person's own items that most explain ``item`` (for the reason text)."""
        h = self.history[user]
        contrib = h.multiply(self.sim[:, item].T).tocsr()
        if contrib.nnz == 0:
            return []
        idx = contrib.indices[np.argsort(-contrib.data)[:k]]
        return idx.tolist()


def _ease(x: sp.csr_matrix, l2: float, k: int) -> sp.csr_matrix:
    """EASE item-to-item weights ``B = -P / diag(P)``, ``P = (XᵀX + l2·I)⁻¹``, zero diagonal,
    negatives dropped, the ``k`` largest kept per item (row: from, column: to)."""
    from threadpoolctl import threadpool_limits

    n = x.shape[1]
    g = (x.T @ x).toarray().astype(np.float64)
    g[np.diag_indices(n)] += l2
    with threadpool_limits(1, "blas"):  # LU then inverse (getri): a third faster than numpy's solve
        p = scipy.linalg.inv(g, overwrite_a=True, check_finite=False)
    b = (-p / np.diag(p)[None, :]).astype(np.float32)
    b[np.diag_indices(n)] = 0.0
    np.maximum(b, 0.0, out=b)
    kk = min(k, n)
    if kk < n:
        cut = np.argpartition(-b, kk - 1, axis=1)[:, kk:]
        np.put_along_axis(b, cut, 0.0, axis=1)
    m = sp.csr_matrix(b)
    m.eliminate_zeros()
    return m


def _keep_top(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        if hi == lo:
            continue
        d, c = m.data[lo:hi], m.indices[lo:hi]
        if hi - lo > k:
            top = np.argpartition(-d, k - 1)[:k]
            d, c = d[top], c[top]
        rows.append(np.full(len(c), r))
        cols.append(c)
        vals.append(d)
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=m.shape, dtype=np.float32)


class ALS(_Base):
    """Implicit-feedback matrix factorisation (``implicit``'s ALS on BM25-weighted counts)."""

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15,
                 bm25_b: float = 0.8, bm25_k1: float = 100.0, alpha: float = 1.0,
                 seed: int = 0) -> None:
        self.params = dict(factors=factors, regularization=regularization, iterations=iterations,
                           alpha=alpha, random_state=seed)
        self.bm25_b, self.bm25_k1 = bm25_b, bm25_k1

    def fit(self, data: Interactions) -> ALS:
        from threadpoolctl import threadpool_limits

        self.data = data
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from implicit.cpu.als import AlternatingLeastSquares
            from implicit.nearest_neighbours import bm25_weight

            x = data.matrix()
            weighted = bm25_weight(x, K1=self.bm25_k1, B=self.bm25_b).tocsr().astype(np.float32)
            model = AlternatingLeastSquares(**self.params, calculate_training_loss=False)
            model.fit(weighted, show_progress=False)
        self.model_ = model
        # BM25's statistics of the training rows, to weigh a new person's row the same way
        self.idf = np.log(float(x.shape[0])) - np.log1p(np.bincount(x.tocoo().col, minlength=x.shape[1]))
        self.avg_length = float(np.ravel(x.sum(axis=1)).mean())
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T

    def rebase(self, data: Interactions) -> ALS:
        """See :meth:`Hybrid.rebase`: the item factors stay; a person the model was fitted on
        keeps their factors, anyone else's are solved from their own occasions (the ALS user
        step on the fitted items, their row weighted as BM25 weighed the training rows)."""
        from threadpoolctl import threadpool_limits

        rows = self.data.rows_of(data.persons)
        factors = np.zeros((data.n_persons, self.item_factors.shape[1]), dtype=np.float32)
        known = rows >= 0
        factors[known] = self.user_factors[rows[known]]
        new = np.flatnonzero(~known)
        if len(new):
            x = data.matrix()[new].tocoo()
            length = (1.0 - self.bm25_b) + self.bm25_b * np.ravel(x.tocsr().sum(axis=1)) / self.avg_length
            x.data = (x.data * (self.bm25_k1 + 1.0) / (self.bm25_k1 * length[x.row] + x.data)
                      * self.idf[x.col])  # fmt: skip
            with threadpool_limits(1, "blas"):
                factors[new] = self.model_.recalculate_user(new, x.tocsr().astype(np.float32))
        out = copy.copy(self)
        out.data, out.user_factors = data, factors
        return out


class Neighbours(_Base):
    """People like you, lately: the ``k`` people whose purchase histories are most like the
    person's (cosine on who bought what), and what those people bought recently (each
    occasion weighted by ``exp(-age / tau)``), each neighbour counted by similarity to the
    power ``power``.

    It suggests items new to a person better than item-to-item co-occurrence alone: it is
    personal and current at once (what customers like them have started buying this month).
    Neighbours come from a pool of people who bought within ``pool_days`` (at most
    ``max_pool`` of them, the most recent first) — older buyers add nothing once their
    purchases have decayed — so scoring costs ``people × pool``, not ``people²``.
    """

    name = "neighbours"

    def __init__(self, k: int = 200, tau: float = 15.0, power: float = 2.0,
                 pool_days: float = 60.0, max_pool: int = 5000, batch: int = 256) -> None:
        self.k, self.tau, self.power = k, tau, power
        self.pool_days, self.max_pool, self.batch = pool_days, max_pool, batch

    def fit(self, data: Interactions) -> Neighbours:
        self.data = data
        x = data.seen()
        norms = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
        self.x = (sp.diags(1 / np.maximum(norms, 1e-9)) @ x).astype(np.float32).tocsr()
        last = np.full(data.n_persons, np.inf)
        np.minimum.at(last, data.u, data.age)
        pool = np.flatnonzero(last <= self.pool_days)
        if len(pool) > self.max_pool:
            pool = np.sort(pool[np.argsort(last[pool], kind="stable")[: self.max_pool]])
        self.pool = pool
        self.own = np.arange(data.n_persons)  # each person's row among those fitted on
        self.pool_t = self.x[pool].T.tocsr()  # items × pool
        recent = data.matrix(np.exp(-data.age / self.tau))
        self.recent = recent[pool].tocsr()  # pool × items
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        out = np.zeros((len(users), self.data.n_items), dtype=np.float32)
        if len(self.pool) == 0:
            return out
        for start in range(0, len(users), self.batch):
            chunk = users[start : start + self.batch]
            sim = (self.x[chunk] @ self.pool_t).toarray()
            fitted = self.own[chunk]
            pos = np.searchsorted(self.pool, fitted)
            own = (pos < len(self.pool)) & (fitted >= 0)
            own[own] = self.pool[pos[own]] == fitted[own]
            sim[np.flatnonzero(own), pos[own]] = 0.0  # not one's own neighbour
            k = min(self.k, sim.shape[1])
            if k < sim.shape[1]:
                cut = np.argpartition(-sim, k - 1, axis=1)[:, k:]
                np.put_along_axis(sim, cut, 0.0, axis=1)
            np.power(sim, self.power, out=sim)
            out[start : start + len(chunk)] = (sp.csr_matrix(sim) @ self.recent).toarray()
        return out

    def rebase(self, data: Interactions) -> Neighbours:
        """See :meth:`Hybrid.rebase`: the pool stays; the histories are the people's own."""
        out = copy.copy(self)
        out.data = data
        x = data.seen()
        norms = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
        out.x = (sp.diags(1 / np.maximum(norms, 1e-9)) @ x).astype(np.float32).tocsr()
        out.own = self.data.rows_of(data.persons)
        return out


class Persona(_Base):
    """The persona baseline: k-means segments on RFM and category shares; each segment's
    most-bought items for everyone in it. ``k=None`` picks 5–10 by silhouette."""

    name = "persona"

    def __init__(self, k: int | None = None, seed: int = 0) -> None:
        self.k, self.seed = k, seed

    def features(self, data: Interactions) -> np.ndarray:
        count = np.bincount(data.u, minlength=data.n_persons).astype(float)
        recency = np.full(data.n_persons, np.inf)
        np.minimum.at(recency, data.u, data.age)
        money = np.bincount(data.u, weights=data.qty, minlength=data.n_persons)
        cats = pd.Index(sorted({data.category.get(str(it), "other") for it in data.items}))
        item_cat = cats.get_indexer([data.category.get(str(it), "other") for it in data.items])
        share = sp.csr_matrix((np.ones(len(data.u)), (data.u, item_cat[data.i])),
                              shape=(data.n_persons, len(cats))).toarray()
        share = share / np.maximum(share.sum(1, keepdims=True), 1)
        rfm = np.column_stack([recency, np.log1p(count), np.log1p(np.maximum(money, 0))])
        rfm = (rfm - rfm.mean(0)) / (rfm.std(0) + 1e-9)
        return np.column_stack([rfm, share * 2.0])

    def fit(self, data: Interactions) -> Persona:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        self.data = data
        x = self.features(data)
        candidates = [self.k] if self.k else list(range(5, 11))
        best: tuple[float, Any] = (-2.0, None)
        rng = np.random.default_rng(self.seed)
        sample = rng.choice(len(x), size=min(len(x), 3000), replace=False)
        for k in candidates:
            km = KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit(x)
            score = silhouette_score(x[sample], km.labels_[sample]) if len(candidates) > 1 else 0.0
            if score > best[0]:
                best = (score, km)
        self.kmeans = best[1]
        self.segment = self.kmeans.labels_
        self.k_ = int(self.kmeans.n_clusters)
        seen = data.seen()
        onehot = sp.csr_matrix((np.ones(data.n_persons), (self.segment, np.arange(data.n_persons))),
                               shape=(self.k_, data.n_persons))
        self.segment_pop = np.asarray((onehot @ seen).todense(), dtype=np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.segment_pop[self.segment[users]]


class CategoryAffinity(_Base):
    """The person's own category shares (recency-weighted) × each item's popularity within
    its category: "buys mostly coffee and dairy → the coffee and dairy most people buy"."""

    name = "affinity"

    def __init__(self, tau: float | None = 180.0) -> None:
        self.tau = tau

    def fit(self, data: Interactions) -> CategoryAffinity:
        self.data = data
        cats = pd.Index(sorted({data.category.get(str(it), "other") for it in data.items}))
        self.item_cat = cats.get_indexer([data.category.get(str(it), "other") for it in data.items])
        self.n_cats = len(cats)
        self.share = self._shares(data)
        pairs = np.unique(np.stack([data.u, data.i]), axis=1)
        pop = np.bincount(pairs[1], minlength=data.n_items).astype(np.float32)
        top = np.zeros(len(cats), dtype=np.float32)
        np.maximum.at(top, self.item_cat, pop)
        self.pop_in_cat = (pop / np.maximum(top[self.item_cat], 1)).astype(np.float32)
        return self

    def _shares(self, data: Interactions) -> sp.csr_matrix:
        """Each person's (recency-weighted) share of each category."""
        w = np.ones(len(data.age)) if self.tau is None else np.exp(-data.age / self.tau)
        share = sp.csr_matrix((w, (data.u, self.item_cat[data.i])),
                              shape=(data.n_persons, self.n_cats)).tocsr()
        totals = np.asarray(share.sum(axis=1)).ravel()
        return (sp.diags(1 / np.maximum(totals, 1e-9)) @ share).astype(np.float32).tocsr()

    def rebase(self, data: Interactions) -> CategoryAffinity:
        """See :meth:`Hybrid.rebase`: the items' popularity in their category stays."""
        out = copy.copy(self)
        out.data, out.share = data, self._shares(data)
        return out

    def scores(self, users: np.ndarray) -> np.ndarray:
        s = self.share[users].toarray()[:, self.item_cat]
        s *= self.pop_in_cat[None, :]
        return s


def _rownorm(s: np.ndarray) -> np.ndarray:
    s = np.maximum(s, 0.0)
    top = s.max(axis=1, keepdims=True)
    return np.divide(s, top, out=np.zeros_like(s, dtype=np.float32), where=top > 0)


class Hybrid(_Base):
    """Empatia's individual model: rhythm-aware buy-again + co-occurrence + ALS + the person's
    own category affinity + a little recent popularity (+ people like the person, lately, when
    ``weights`` names ``neighbours``), each normalised to [0, 1] per person, blended with
    ``weights`` (tuned on a validation split of the training period, see
    ``benchmarks/recsys_eval.py``). ``neighbours`` is off unless named: at 0.5 it lifted items
    new to a person on the retail validation windows (+1%, +12% NDCG@10) but not on the blind
    Sep–Nov 2011 test (−4%), see ``benchmarks/results/recsys.md``."""

    name = "hybrid"

    def __init__(self, weights: dict[str, float] | None = None, *, buy_again: BuyAgain | None = None,
                 cooccurrence: CoOccurrence | None = None, als: ALS | None = None,
                 trending: Popularity | None = None, affinity: CategoryAffinity | None = None,
                 neighbours: Neighbours | None = None) -> None:
        self.weights = weights or {"buy_again": 1.0, "cooccurrence": 0.3, "als": 0.3, "trending": 0.05}
        self.parts: dict[str, Any] = {
            "buy_again": buy_again or BuyAgain(tau=120.0, rhythm=0.5),
            "cooccurrence": cooccurrence or CoOccurrence(),
            "als": als or ALS(),
            "trending": trending or Popularity(window_days=30.0),
            "affinity": affinity or CategoryAffinity(),
            "neighbours": neighbours or Neighbours(),
        }

    def fit(self, data: Interactions) -> Hybrid:
        self.data = data
        for name, part in self.parts.items():
            if self.weights.get(name, 0.0) or name in ("buy_again", "trending"):
                part.fit(data)
        return self

    def rebase(self, data: Interactions) -> Hybrid:
        """This model for the people of ``data`` — a batch of them, with the same items —
        as if it had been fitted with them: what is a person's own (their buy-again rhythm,
        history, category shares, ALS factors when the fit had not seen them) is computed from
        their occasions in ``data``; what was learnt from everyone (item-to-item weights, item
        factors, popularity) stays. So a model fitted on a sample of people scores anyone,
        where that person's rows are."""
        out = copy.copy(self)
        out.data = data
        out.parts = {n: p.rebase(data) if hasattr(p, "data") else p for n, p in self.parts.items()}
        return out

    def components(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Each signal's normalised score block (what the explanation quotes)."""
        return {
            name: _rownorm(part.scores(users))
            for name, part in self.parts.items()
            if self.weights.get(name, 0.0) and hasattr(part, "data")
        }

    def scores(self, users: np.ndarray) -> np.ndarray:
        total: np.ndarray | None = None
        for name, block in self.components(users).items():
            contrib = self.weights[name] * block
            total = contrib if total is None else total + contrib
        if total is None:
            return np.zeros((len(users), self.data.n_items), dtype=np.float32)
        return total
