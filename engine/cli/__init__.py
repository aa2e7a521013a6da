"""The headless command line: ``ocr-tray ocr``, ``ocr-tray --self-test`` and friends.

It runs the same engine thread as the app, under a ``QCoreApplication``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from engine import __version__

# subcommand -> module with ``add_arguments(parser)`` and ``run(args) -> int``; desktop.main routes them here
COMMANDS = {
    "ocr": "engine.cli",
    "history": "engine.cli.history",
    "models": "engine.cli.models",
}


def add_ocr_arguments(p: argparse.ArgumentParser) -> None:
    """The OCR flags, generated from the settings table (defaults are the user's saved settings)."""
    from engine.settings import SETTINGS

    p.add_argument("paths", nargs="+", metavar="PATH", help="images, PDFs or folders")
    for s in SETTINGS:
        if not s.cli_flag:
            continue
        dest = s.key
        if s.type is bool:  # flags turn a default-on setting off
            p.add_argument(s.cli_flag, dest=dest, action="store_const", const=not s.default, default=None,
                           help=f"{s.label}: turn off" + (f" ({s.help})" if s.help else ""))
        elif s.type is int:
            bounds = f" ({s.minimum}–{s.maximum}{s.suffix})" if s.minimum is not None else ""
            p.add_argument(s.cli_flag, dest=dest, type=_bounded(s), default=None, metavar="N",
                           help=f"{s.label}{bounds}" + (f"; {s.help}" if s.help else ""))
        else:
            p.add_argument(s.cli_flag, dest=dest, default=None,
                           metavar="ID_OR_DIR" if s.key == "model/preset" else "TEXT",
                           help=s.label + ("; a preset id, Hugging Face repo id or local folder" if s.key == "model/preset" else ""))
    p.add_argument("--password", help="password for protected PDFs")
    p.add_argument("--json", action="store_true", help="print one JSON object per page")


def _bounded(setting):
    def parse(text: str) -> int:
        try:
            return setting.coerce(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = setting.type.__name__
    return parse


def resolve_ocr_settings(args: argparse.Namespace):
    """(ModelSpec, OcrOptions, check_memory) from the saved settings, overridden by the flags given."""
    from dataclasses import replace

    from engine.models.presets import ModelSpec
    from engine.settings import Settings

    saved = Settings()
    flags = vars(args)

    def pick(key):
        value = flags.get(key)
        return saved.get(key) if value is None else value

    spec = saved.model_spec()
    if flags.get("model/preset") or flags.get("model/custom_prompt") is not None:
        spec = ModelSpec.resolve(flags.get("model/preset") or spec.source, flags.get("model/custom_prompt"))
    options = replace(
        saved.ocr_options(),
        max_tokens=pick("ocr/max_tokens"),
        dpi=pick("ocr/pdf_dpi"),
        max_side=pick("ocr/max_image_side") or None,
        text_layer="auto" if pick("ocr/use_text_layer") else "off",
        password=args.password,
    )
    return spec, options, bool(pick("memory/check_fit"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_ocr_arguments(p)


def run(args: argparse.Namespace) -> int:
    return run_ocr(args)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="ocr-tray",
        description="OCR images and PDFs with a local MLX model. With no command, starts the menu-bar app.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true", help="OCR generated documents with a tiny model")
    sub = parser.add_subparsers(dest="command")
    for name, module_name in COMMANDS.items():
        module = sys.modules[__name__] if module_name == __name__ else importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip().splitlines()[0] if name != "ocr" else "OCR files and print the text"
        p = sub.add_parser(name, help=doc)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"ocr-tray {__version__}")
        return 0
    if args.self_test:
        return self_test()
    if not args.command:
        parser.print_help()
        return 2
    return args.run(args)


def run_ocr(args: argparse.Namespace, out=None, err=None) -> int:
    """OCR every path in order; stream text (or JSON lines) to ``out``. Non-zero if any input failed."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from engine.documents import expand
    from engine.engine_thread import Engine
    from engine.history import default_store
    from engine.lifecycle import Mode

    out = out or sys.stdout
    err = err or sys.stderr
    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    files, problems = expand(args.paths)
    failures = len(problems)
    for problem in problems:
        print(f"error: {problem}", file=err, flush=True)

    spec, options, check_memory = resolve_ocr_settings(args)
    resume = getattr(args, "resume_plan", None)  # `ocr-tray history resume ID`: only the missing pages
    if resume is not None:
        options = resume.options(options)
    history = getattr(args, "history_store", None) or default_store()
    engine = Engine(spec, Mode.KEEP_RESIDENT, check_memory=check_memory, history=history)
    state = {"failures": failures, "left": 0}

    def on_page_started(p):
        if not args.json:
            print(f"\n--- {p.path} · page {p.page} of {p.pages} ---", file=out, flush=True)

    def on_delta(d):
        if not args.json:
            out.write(d.text)
            out.flush()

    def on_page(r):
        if args.json:
            print(json.dumps(r.as_json(), ensure_ascii=False), file=out, flush=True)
        else:
            out.write("\n")

    def on_done(r):
        if r.status != "done":
            state["failures"] += 1
            print(f"error: {r.error or os.path.basename(r.path) + ': cancelled'}", file=err, flush=True)
        state["left"] -= 1
        if state["left"] <= 0:
            QTimer.singleShot(0, app.quit)

    def on_notice(text):
        print(f"note: {text}", file=err, flush=True)

    engine.pageStarted.connect(on_page_started)
    engine.textDelta.connect(on_delta)
    engine.pageFinished.connect(on_page)
    engine.jobFinished.connect(on_done)
    engine.jobFailed.connect(on_done)
    engine.notice.connect(on_notice)
    ids = engine.submit(files, options)
    state["left"] = len(ids)
    if ids:
        app.exec()
    engine.shutdown()
    history.close()
    return 1 if state["failures"] else 0


def self_test(out=None) -> int:
    """Build a tiny model, OCR a 2-page PDF and a PNG through the engine thread, print one line."""
    import io

    from engine.testing import samples, tiny_model
    from engine.memory import rss_bytes

    out = out or sys.stdout
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ocr-tray-selftest-") as tmp:
        os.chmod(tmp, 0o700)
        model = tiny_model.build(Path(tmp) / "model", "qwen2_vl", "tiny")
        pdf = samples.write_pdf(Path(tmp) / "two-pages.pdf", pages=2, text_pages={1})
        png = samples.write_png(Path(tmp) / "image.png")
        args = build_parser().parse_args(["ocr", str(pdf), str(png), "--model", str(model), "--max-tokens", "8", "--json"])
        from engine.history import HistoryStore

        args.history_store = HistoryStore(Path(tmp) / "history.sqlite3")  # not the user's history
        buf, errors = io.StringIO(), io.StringIO()
        code = run_ocr(args, buf, errors)
    pages = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    by_source = {s: sum(1 for p in pages if p["source"] == s) for s in ("model", "text-layer")}
    ok = code == 0 and len(pages) == 3 and by_source == {"model": 2, "text-layer": 1}
    verdict = "ok" if ok else "FAILED"
    print(
        f"self-test {verdict}: {len(pages)} pages ({by_source['model']} by the model, "
        f"{by_source['text-layer']} from the text layer) in {time.perf_counter() - t0:.1f} s; "
        f"RSS {rss_bytes() / 1e6:.0f} MB" + (f"; errors: {errors.getvalue().strip()}" if errors.getvalue() else ""),
        file=out,
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
