"""``empatia train-emotion`` and ``empatia emotion …``: thin commands over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

emotion_app = typer.Typer(help="How customers feel: analyse texts, choose the analyzer, themes.")


def train_emotion(
    data: Annotated[
        Optional[Path], typer.Option(help="Folder with xed/, goemotions/, umsab_xlm-t/.")
    ] = None,  # noqa: UP045
    out: Annotated[
        Optional[Path], typer.Option(help="Where to write the models (default: the package).")
    ] = None,  # noqa: UP045
    cache: Annotated[Path, typer.Option(help="Embedding cache folder.")] = Path(
        "/tmp/empatia-emotion-cache"
    ),
    version: Annotated[
        str, typer.Option(help="Version recorded in the models (the cache key).")
    ] = "1",
    fast_only: Annotated[
        bool, typer.Option("--fast-only", help="Only re-distil the fast model.")
    ] = False,
    teacher: Annotated[
        bool,
        typer.Option(
            help="Distil the fast model from the encoder's readings of the train corpus "
            "(embeds it: ~20k texts); --no-teacher learns from the gold labels alone."
        ),
    ] = True,
) -> None:
    """Train the encoder heads on the shared data's train splits and distil the fast model.

    Example: empatia train-emotion --data ../shared/data/text --version 2

    The fast model's vocabulary is embedded word by word into ``CACHE/words`` (≈ 40k words:
    minutes on a quiet machine, kept for the next run).
    """
    import empatia.emotion
    from empatia.cli.common import console
    from empatia.emotion.datasets import default_data_dir
    from empatia.emotion.analyzers.encoder import Embedder
    from empatia.emotion.themes import save_default_anchor_vectors
    from empatia.emotion.distil import train_fast
    from empatia.emotion.training import train_heads

    data = data or default_data_dir()
    folder = out or Path(empatia.emotion.__file__).parent / "models"
    heads = folder / "encoder_heads.npz"
    if not fast_only:
        console.print(train_heads(data, heads, cache, version))
        save_default_anchor_vectors(folder / "anchors.npz", Embedder())
    console.print(
        train_fast(data, heads, folder / "fast_model.npz", cache, version, teacher=teacher)
    )


@emotion_app.command("analyze")
def analyze(
    text: Annotated[
        list[str], typer.Argument(help="Texts to analyse (use '-' to read lines from stdin).")
    ],
    analyzer: Annotated[str, typer.Option(help="encoder, fast or transformers.")] = "encoder",
    model_dir: Annotated[
        Optional[Path], typer.Option(help="Local model folder (transformers).")
    ] = None,  # noqa: UP045
) -> None:
    """Analyse texts given on the command line and print JSON (nothing is stored).

    Example: empatia emotion analyze "Dzwoniłem siedem razy i nikt nie odbiera!"
    """
    import sys

    import orjson

    from empatia.emotion.registry import get_analyzer

    texts = sys.stdin.read().splitlines() if text == ["-"] else text
    opts = {"model_dir": str(model_dir)} if model_dir else {}
    res = get_analyzer(analyzer, **opts).analyze(texts)
    sys.stdout.write(
        orjson.dumps([r.as_dict() for r in res], option=orjson.OPT_INDENT_2).decode() + "\n"
    )


@emotion_app.command("use")
def use(
    ctx: typer.Context,
    analyzer: Annotated[str, typer.Argument(help="encoder, fast, transformers or auto.")],
    model_dir: Annotated[
        Optional[Path], typer.Option(help="Local model folder (transformers).")
    ] = None,  # noqa: UP045
) -> None:
    """Choose this workspace's analyzer (texts already analysed keep their results).

    Example: empatia emotion use fast
    """
    from empatia.cli.common import console, workspace

    workspace(ctx).configure_emotion(analyzer, str(model_dir.resolve()) if model_dir else None)
    console.print(f"emotion analyzer: {analyzer}")


@emotion_app.command("redact")
def redact_cmd(
    ctx: typer.Context,
    state: Annotated[str, typer.Argument(help="on or off.")],
) -> None:
    """Redact e-mails, phones, cards and IBANs from texts before they are analysed.

    Example: empatia emotion redact on
    """
    from empatia.cli.common import console, workspace
    from empatia.errors import ValidationError

    if state not in ("on", "off"):
        raise ValidationError(f"redact takes 'on' or 'off', not {state!r}")
    workspace(ctx).configure_emotion(redact=state == "on")
    console.print(f"redaction before emotion analysis: {state}")


@emotion_app.command("reanalyze")
def reanalyze(
    ctx: typer.Context,
    analyzer: Annotated[Optional[str], typer.Option(help="Switch to this analyzer first.")] = None,  # noqa: UP045
    stale_only: Annotated[
        bool, typer.Option("--stale-only", help="Only texts analysed by another analyzer/version.")
    ] = False,
) -> None:
    """Re-analyse stored texts with the workspace's (new) analyzer version, in one command.

    Example: empatia emotion reanalyze --analyzer fast
    """
    from empatia.cli.common import console, workspace

    console.print(workspace(ctx).reanalyze(analyzer, stale_only=stale_only))


@emotion_app.command("themes-set")
def themes_set(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON {"theme": ["phrase", …]}; "__replace__": true drops the defaults.'
        ),
    ],
) -> None:
    """Set this workspace's theme anchors (added to, or replacing, the built-in ones).

    Example: empatia emotion themes-set themes.json   (themes.json: {"parking": ["no parking", "brak miejsc"]})
    """
    import orjson

    from empatia.cli.common import console, workspace
    from empatia.errors import ValidationError

    try:
        body = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise ValidationError(f"{file}: {e}") from e
    if not isinstance(body, dict):
        raise ValidationError(f'{file}: write a JSON object, {{"theme": ["phrase", …]}}')
    themes = {k: v for k, v in body.items() if not k.startswith("__")}
    workspace(ctx).set_themes(themes, replace=bool(body.get("__replace__")))
    console.print(f"{len(themes)} theme(s) set")


@emotion_app.command("discover")
def discover(
    ctx: typer.Context,
    k: Annotated[int, typer.Option(help="How many themes to find.")] = 8,
    negative_only: Annotated[
        bool, typer.Option("--negative-only", help="Only negative texts.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many (latest) texts.")] = 5000,
) -> None:
    """Discover new themes by clustering analysed texts that match no anchor; show quotes.

    Example: empatia emotion discover --k 6 --negative-only
    """
    from empatia.cli.common import console, workspace

    for t in workspace(ctx).discover_themes(k=k, negative_only=negative_only, limit=limit):
        console.print(
            f"[bold]theme {t['cluster']}[/bold] ({t['size']} texts; near {t['nearest_anchor']}): "
            + ", ".join(t["terms"])
        )
        for q in t["quotes"]:
            console.print(f"   “{q}”")


def register(app: typer.Typer) -> None:
    """Add ``train-emotion`` and the ``emotion`` command group to the root CLI."""
    app.command("train-emotion")(train_emotion)
    app.add_typer(emotion_app, name="emotion")
