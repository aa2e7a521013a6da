"""``ocr-tray history``: list, search, show, resume and delete documents in the history

    ocr-tray history [--search TEXT] [--json]      newest first; interrupted ones say how to resume
    ocr-tray history show ID [--json | --format F] a document's text (one JSON object per page; converted)
    ocr-tray history resume ID [OCR FLAGS]         OCR only the pages still missing, into the same record
    ocr-tray history delete ID
    ocr-tray history clear --yes

``--json`` prints JSON Lines: one object per document (list) or per page (show).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from engine.history import HistoryError, HistoryStore, default_store
from engine.human import ranges
from engine.jobs import DocumentStatus, PageSource

from . import ocr

HELP = "list, search, show, resume and delete documents read before"
STATUS_WORDS = {DocumentStatus.RUNNING: "reading now"}  # the others read as their own value


def add_arguments(p: argparse.ArgumentParser, saved: Mapping[str, Any]) -> None:
    p.add_argument("--search", metavar="TEXT", help="only documents whose name or text holds TEXT")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per document")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="at most N documents")
    sub = p.add_subparsers(dest="action", metavar="[ACTION]")
    show = sub.add_parser("show", help="print a document's text")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", dest="show_json", help="one JSON object per page")
    show.add_argument("--format", choices=ocr.FORMATS, default=None, dest="show_format",
                      help="each page converted from the model's answer, as `ocr-tray ocr --format` writes it "
                           "(default: the text as it was read)")
    resume = sub.add_parser(
        "resume", help="OCR the pages still missing from an interrupted document",
        description="OCR only the pages still missing. Any `ocr-tray ocr` flag may follow the ID "
                    "(--model, --max-tokens, --password, --json, ...).",
    )
    resume.add_argument("id", type=int)
    resume.add_argument("ocr_flags", nargs=argparse.REMAINDER, metavar="OCR FLAGS")
    delete = sub.add_parser("delete", help="delete one document")
    delete.add_argument("id", type=int)
    clear = sub.add_parser("clear", help="delete every document")
    clear.add_argument("--yes", action="store_true", help="really delete everything")


def run(args: argparse.Namespace, out=None, err=None, store: HistoryStore | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    own = store is None
    store = store or default_store()
    try:
        action = getattr(args, "action", None)
        if action == "show":
            return _show(store, args.id, args.show_json, out, getattr(args, "show_format", None))
        if action == "resume":
            return _resume(store, args, out, err)
        if action == "delete":
            if not store.delete(args.id):
                print(f"error: document {args.id} is not in the history, or is being read right now", file=err)
                return 1
            print(f"deleted document {args.id}", file=out)
            return 0
        if action == "clear":
            if not args.yes:
                print("error: this deletes the whole history; add --yes to go on", file=err)
                return 2
            print(f"deleted {store.clear()} document(s)", file=out)
            return 0
        return _list(store, args.search, args.json, args.limit, out)
    except HistoryError as e:
        print(f"error: {e}", file=err)
        return 1
    except BrokenPipeError:
        raise  # the reader went away (`| head`), not a problem of the history
    except Exception as e:  # sqlite3 errors, a full or read-only disk: one line, not a traceback
        print(f"error: the history cannot be read ({' '.join(str(e).split()) or type(e).__name__})", file=err)
        return 1
    finally:
        if store.recovered:
            print(f"note: {store.recovered}", file=err)
        if own:
            store.close()


def _list(store: HistoryStore, search: str | None, as_json: bool, limit: int | None, out) -> int:
    docs = store.documents(search=search, limit=limit)
    if as_json:
        for doc in docs:
            print(json.dumps(doc.as_json(), ensure_ascii=False), file=out)
        return 0
    if not docs:
        print("no documents match" if search else "the history is empty", file=out)
        return 0
    for doc in docs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(doc.started))
        done = f"{len(doc.pages_done)}/{doc.pages} pages"
        line = f"{doc.id:>5}  {STATUS_WORDS.get(doc.status, doc.status.value):<12} {done:>13}  {when}  {doc.name}"
        print(line, file=out)
        if doc.snippet:
            print(f"       “{doc.snippet}”", file=out)
        if doc.error:
            print(f"       {doc.error}", file=out)
        if doc.resumable:
            print(f"       resume: ocr-tray history resume {doc.id}", file=out)
    return 0


def _show(store: HistoryStore, record: int, as_json: bool, out, fmt: str | None = None) -> int:
    doc = store.document(record)
    if fmt is not None:  # converted, as ocr-tray ocr --format writes each page (each page keeps its format)
        from .output import Output

        output = Output(out, fmt=fmt)
        for page in store.pages(record):
            output.page_done(page)
        return 0
    for page in store.pages(record):
        if as_json:
            print(json.dumps(page.as_json(), ensure_ascii=False), file=out)
        else:
            label = " (text layer)" if page.source is PageSource.TEXT_LAYER else ""
            print(f"\n--- {doc.path} · page {page.page} of {page.pages}{label} ---", file=out)
            print(page.text, file=out)
    if not as_json and doc.missing:
        print(f"\n({len(doc.missing)} page(s) not done: {ranges(doc.missing)})", file=out)
    return 0


def _resume(store: HistoryStore, args: argparse.Namespace, out, err) -> int:
    """OCR only the missing pages, into the same record, with the model and options the document was read
    with; flags given after the ID override them."""
    from dataclasses import replace

    from engine.settings import SETTINGS, Settings, UnknownModel, apply_overrides, options_from, spec_from

    plan = store.resume_plan(args.id)
    saved = Settings()
    parser = argparse.ArgumentParser(prog=f"ocr-tray history resume {args.id}")
    ocr.add_setting_flags(parser, saved.values())
    parser.add_argument("--password", metavar="PW")
    parser.add_argument("--json", action="store_true")
    flags = parser.parse_args(args.ocr_flags)
    given = ocr.overrides(flags)
    if plan.model_source and "model/preset" not in given:
        given["model/preset"] = plan.model_source  # the model the other pages were read with
    try:
        values = apply_overrides(saved.values(), given)
    except UnknownModel as e:
        print(f"error: {e}", file=err)
        return 2
    chosen = options_from(values, password=flags.password)
    options = plan.options(chosen)  # the document's own reading options…
    explicit = {s.option: getattr(chosen, s.option) for s in SETTINGS if s.option and s.key in given}
    options = replace(options, **explicit)  # …unless a flag says otherwise
    spec = spec_from(values)
    print(f"resuming document {plan.history_id}: page(s) {ranges(plan.pages)} with {spec.label}", file=err, flush=True)
    return ocr.ocr_paths([plan.path], spec, options, check_memory=bool(values["memory/check_fit"]),
                         as_json=flags.json, history=store, out=out, err=err)
