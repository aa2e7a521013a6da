"""Bad input, one test per kind: each ends in a one-line message naming the file and what is wrong
(or, where the file can be read after all, in its text), the engine stays up, and the next
document in the queue still runs.

The cases go end to end through one shared engine on the tiny model. The expensive ones
(a 1,000-page PDF, a 200 MB image) are also measured at the document level in a
subprocess, where peak memory can be read cleanly.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import documents
from engine.documents import display_name, expand
from engine.jobs import ErrorKind, JobStatus, OcrOptions, PageSource
from engine.lifecycle import State

from . import bad_files
from .conftest import TOKENS, one_line, wait_until

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPTS = OcrOptions(max_tokens=TOKENS, max_side=256)

# peak RSS of the subprocess itself: VmHWM belongs to the process image (ru_maxrss is inherited
# across fork+exec on Linux, so a child of a big pytest process would start "at" its parent's peak)
PEAK_KB = """
def peak_kb():
    import resource, sys
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
"""


def fails(recorder, tmp_path, bad, problem: str, kind: str = ErrorKind.DOCUMENT, options: OcrOptions = OPTS):
    """``bad`` fails with a one-line message holding ``problem``; the document queued after it is read."""
    follower = bad_files.text_pdf(tmp_path / f"after-{len(os.listdir(tmp_path))}.pdf")
    results = recorder.run([bad, follower], options)
    result = results[os.fspath(bad)]
    assert (result.status, result.error_kind) == (JobStatus.FAILED, kind), result
    one_line(result.error, display_name(os.fspath(bad)))
    assert problem in result.error, result.error
    assert results[os.fspath(follower)].status == JobStatus.DONE
    assert recorder.engine.status.state in (State.READY, State.BUSY)  # still up, model still loaded
    return result


def works(recorder, bad, pages: int = 1, sources=None, options: OcrOptions = OPTS):
    result = recorder.run([bad], options)[os.fspath(bad)]
    assert result.status == JobStatus.DONE, result.error
    assert (result.page_count, len(result.pages)) == (pages, pages)
    if sources is not None:
        assert [p.source for p in result.pages] == sources
    return result


# --------------------------------------------------------------- empty, truncated
def test_empty_file(recorder, tmp_path):
    fails(recorder, tmp_path, bad_files.empty(tmp_path / "empty.png"), "the file is empty")


def test_truncated_png(recorder, tmp_path):
    bad = bad_files.truncated(tmp_path / "cut.png", lambda p: bad_files.png(p, (256, 256)))
    fails(recorder, tmp_path, bad, "the image data is damaged or cut short")


def test_truncated_jpeg(recorder, tmp_path):
    bad = bad_files.truncated(tmp_path / "cut.jpg", bad_files.jpeg)
    fails(recorder, tmp_path, bad, "the image data is damaged or cut short")


def test_truncated_pdf_beyond_repair(recorder, tmp_path):
    bad = bad_files.truncated(tmp_path / "cut.pdf", lambda p: bad_files.text_pdf(p, 3), keep=0.1)
    fails(recorder, tmp_path, bad, "not a readable PDF")


def test_truncated_pdf_that_mupdf_repairs_is_read(recorder, tmp_path):
    """Cut in the middle of its image streams: MuPDF rebuilds the page tree and every page is read."""
    bad = bad_files.truncated(tmp_path / "cut-scan.pdf", lambda p: bad_files.scan_pdf(p, 3), keep=0.5)
    works(recorder, bad, pages=3, sources=[PageSource.MODEL] * 3)


# ------------------------------------------------------------------- passwords
def test_password_protected_pdf_asks_for_the_password(recorder, tmp_path):
    bad = bad_files.encrypted_pdf(tmp_path / "locked.pdf")
    result = fails(recorder, tmp_path, bad, "this PDF is protected by a password", kind=ErrorKind.PASSWORD)
    assert result.needs_password


def test_password_protected_pdf_wrong_then_right_password(recorder, tmp_path):
    bad = bad_files.encrypted_pdf(tmp_path / "locked.pdf", password="right")
    wrong = OcrOptions(max_tokens=TOKENS, password="wrong")
    fails(recorder, tmp_path, bad, "wrong password for this PDF", kind=ErrorKind.PASSWORD, options=wrong)
    right = OcrOptions(max_tokens=TOKENS, password="right")
    result = works(recorder, bad, options=right, sources=[PageSource.TEXT_LAYER])
    assert "Protected page" in result.pages[0].text


def test_password_on_the_command_line(tiny_model_dir, tmp_path):
    right = bad_files.encrypted_pdf(tmp_path / "right.pdf", password="s3cret")
    other = bad_files.encrypted_pdf(tmp_path / "other.pdf", password="different")
    run = subprocess.run(
        [sys.executable, "-m", "desktop.main", "ocr", str(right), str(other), "--password", "s3cret",
         "--model", str(tiny_model_dir), "--max-tokens", "2", "--json"],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen", OCR_TRAY_DATA_DIR=str(tmp_path / "data")),
    )
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["path"], r["source"]) for r in rows] == [(str(right), PageSource.TEXT_LAYER)]
    assert "error: other.pdf: wrong password for this PDF" in run.stderr.splitlines()
    assert run.returncode == 1


# ------------------------------------------------------------------------ PDFs
def test_pdf_with_zero_pages(recorder, tmp_path):
    fails(recorder, tmp_path, bad_files.zero_page_pdf(tmp_path / "nothing.pdf"), "the PDF has no pages")


def test_pdf_with_a_broken_xref_just_works(recorder, tmp_path):
    bad = bad_files.broken_xref_pdf(tmp_path / "xref.pdf", pages=2)
    result = works(recorder, bad, pages=2, sources=[PageSource.TEXT_LAYER, PageSource.TEXT_LAYER])
    assert "Page 2" in result.pages[1].text


def test_pdf_with_a_five_metre_page_is_rendered_within_limits(recorder, tmp_path):
    import pymupdf

    path = tmp_path / "poster.pdf"
    doc = pymupdf.open()
    doc.new_page(width=14_000, height=14_000).draw_rect(pymupdf.Rect(100, 100, 13_000, 13_000), fill=(0, 0, 0))
    doc.save(path)
    doc.close()
    works(recorder, path, sources=[PageSource.MODEL])
    [page] = list(documents.open_document(path, max_side=256, max_pixels=256 * 256).pages())
    assert max(page.image.size) <= 256


def test_thousand_page_pdf_is_read_page_by_page(recorder, tmp_path):
    """Queued at once, pages arrive one by one from the first, and it cancels cleanly."""
    pdf = bad_files.scan_pdf(tmp_path / "thousand.pdf", pages=1000)
    [job] = recorder.engine.submit([pdf], OPTS)
    wait_until(lambda: len(recorder.of("pageFinished")) >= 3, 60, "three pages of the 1,000")
    first = recorder.of("pageFinished")[0]
    assert (first.page, first.pages) == (1, 1000)
    recorder.engine.cancel(job)
    [result] = recorder.wait_results(1)
    assert result.status == JobStatus.CANCELLED and result.page_count == 1000
    assert 3 <= len(result.pages) < 1000
    assert [p.page for p in result.pages] == list(range(1, len(result.pages) + 1))


def test_thousand_page_pdf_memory_does_not_grow_with_pages(tmp_path):
    pdf = bad_files.scan_pdf(tmp_path / "thousand.pdf", pages=1000)
    script = PEAK_KB + textwrap.dedent("""
        import sys, time
        from engine.documents import open_document
        doc = open_document(sys.argv[1], max_side=256, max_pixels=256 * 256)
        pages = doc.pages()
        next(pages)
        base = peak_kb()
        t0 = time.monotonic()
        n = 1 + sum(1 for _ in pages)
        print(n, peak_kb() - base, time.monotonic() - t0)
    """)
    run = subprocess.run([sys.executable, "-c", script, str(pdf)], capture_output=True, text=True, timeout=180,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    count, growth_kb, seconds = run.stdout.split()
    assert int(count) == 1000
    assert int(growth_kb) < 64 * 1024, f"peak RSS grew {int(growth_kb) // 1024} MB over 1,000 pages"
    print(f"1,000 pages rendered in {float(seconds):.1f} s; peak RSS grew {int(growth_kb) / 1024:.1f} MB")


# ------------------------------------------------------------- names and types
def test_png_named_pdf_is_read_by_its_content(recorder, tmp_path):
    works(recorder, bad_files.png(tmp_path / "actually-a-png.pdf"), sources=["model"])


def test_pdf_named_png_is_read_by_its_content(recorder, tmp_path):
    pdf = bad_files.text_pdf(tmp_path / "actually-a-pdf.png", pages=2)
    works(recorder, pdf, pages=2, sources=[PageSource.TEXT_LAYER, PageSource.TEXT_LAYER])


def test_text_file_named_png(recorder, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("just some words, not a picture\n" * 20)
    fails(recorder, tmp_path, bad, "not an image or PDF that can be read")


def test_zip_archive(recorder, tmp_path):
    import zipfile

    bad = tmp_path / "letter.docx"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    fails(recorder, tmp_path, bad, "not an image or PDF that can be read")


# ---------------------------------------------------------------------- images
def test_decompression_bomb(recorder, tmp_path):
    bad = bad_files.png_with_header(tmp_path / "bomb.png", 40_000, 40_000)  # 1.6 gigapixels in 300 bytes
    assert bad.stat().st_size < 1000
    fails(recorder, tmp_path, bad, "too large to decode safely")


def test_zero_by_zero_image(recorder, tmp_path):
    zero = bad_files.png_with_header(tmp_path / "zero.png", 0, 0)
    fails(recorder, tmp_path, zero, "not an image or PDF that can be read")


def test_one_by_one_image_is_padded_and_read(recorder, tmp_path):
    works(recorder, bad_files.png(tmp_path / "dot.png", (1, 1)), sources=[PageSource.MODEL])


def test_eight_by_twenty_thousand_strip_is_read(recorder, tmp_path):
    works(recorder, bad_files.png(tmp_path / "strip.png", (8, 20_000)), sources=[PageSource.MODEL])


@pytest.mark.parametrize("kind", ["sixteen_bit_png", "cmyk_jpeg", "palette_alpha_png", "animated_gif"])
def test_unusual_pixel_formats_are_read(recorder, tmp_path, kind):
    suffix = {"sixteen_bit_png": ".png", "cmyk_jpeg": ".jpg", "palette_alpha_png": ".png", "animated_gif": ".gif"}[kind]
    works(recorder, getattr(bad_files, kind)(tmp_path / f"{kind}{suffix}"), sources=["model"])


def test_heic_without_its_plugin_says_so(recorder, tmp_path):
    bad = bad_files.heic(tmp_path / "photo.heic")
    if documents._heif_plugin():
        result = recorder.run([bad], OPTS)[str(bad)]
        assert "not supported" not in (result.error or "")  # with the plugin, HEIC is a normal image
        pytest.skip("pillow-heif is installed here: HEIC is supported, so the 'unsupported' message cannot show")
    fails(recorder, tmp_path, bad, "HEIC/AVIF images are not supported without the pillow-heif plugin")


def test_two_hundred_megabyte_image(recorder, tmp_path):
    """A 201 MB BMP (8192×8192): decoded once, scaled down, read; the next document still runs."""
    big = bad_files.big_bmp(tmp_path / "huge.bmp")
    assert big.stat().st_size > 200_000_000
    try:
        works(recorder, big, sources=[PageSource.MODEL])
    finally:
        big.unlink()


def test_two_hundred_megabyte_image_peak_memory(tmp_path):
    big = bad_files.big_bmp(tmp_path / "huge.bmp")
    script = PEAK_KB + textwrap.dedent("""
        import sys
        from engine.documents import open_document
        import PIL.Image, pymupdf  # imported before the baseline
        base = peak_kb()
        doc = open_document(sys.argv[1], max_side=1600, max_pixels=1600 * 1600)
        [page] = list(doc.pages())
        doc.close()
        print(page.image.size[0], page.image.size[1], peak_kb() - base)
    """)
    try:
        run = subprocess.run([sys.executable, "-c", script, str(big)], capture_output=True, text=True, timeout=180,
                             cwd=ROOT)
    finally:
        big.unlink()
    assert run.returncode == 0, run.stderr
    w, h, growth_kb = map(int, run.stdout.split())
    assert (w, h) == (1600, 1600)
    # the decoded picture is 201 MB; allow it and the scaled copies, not a multiple of the file
    assert growth_kb < 700 * 1024, f"peak RSS grew {growth_kb // 1024} MB for a 201 MB image"
    print(f"201 MB BMP: peak RSS +{growth_kb / 1024:.0f} MB")


# ------------------------------------------------------- folders, links, access
def test_folder_of_five_hundred_files(recorder, tmp_path):
    """Expanded in order, all queued at once, read one after another; the rest cancel cleanly."""
    folder = tmp_path / "box"
    folder.mkdir()
    first = bad_files.text_pdf(folder / "doc-000.pdf")
    for i in range(1, 490):
        shutil.copyfile(first, folder / f"doc-{i:03d}.pdf")
    for i in range(10):
        (folder / f"readme-{i}.txt").write_text("not a document")
    files, problems = expand([folder])
    assert len(files) == 490 and files == sorted(files)
    assert len(problems) == 10 and all(str(p).endswith("not an image or PDF; skipped") for p in problems)
    ids = recorder.engine.submit(files, OPTS)
    assert len(ids) == 490
    wait_until(lambda: len(recorder.results()) >= 25, 60, "the first 25 documents")
    recorder.engine.cancel_all()
    results = recorder.wait_results(490, 60)
    assert len(results) == 490 and sorted(r.job_id for r in results) == ids  # every one answered once
    done = [r.job_id for r in results if r.status == JobStatus.DONE]
    assert len(done) >= 25 and {r.status for r in results} <= {JobStatus.DONE, JobStatus.CANCELLED}
    assert done == ids[: len(done)]  # the done ones are the first ones, in order
    started = [i.path for i in recorder.of("jobStarted")]
    assert started == files[: len(started)]  # FIFO


def test_folder_with_no_documents(tmp_path):
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    files, problems = expand([folder])
    assert files == [] and any(str(p) == "empty-folder: the folder holds no images or PDFs" for p in problems)


def test_symlink_loop_file(recorder, tmp_path):
    a, b = tmp_path / "loop-a.png", tmp_path / "loop-b.png"
    os.symlink(b, a)
    os.symlink(a, b)
    fails(recorder, tmp_path, a, "a symbolic link loop")
    files, problems = expand([a])
    assert files == [] and [str(p) for p in problems] == ["loop-a.png: a broken link or a symbolic link loop"]


def test_symlink_loop_folder_is_walked_once(tmp_path):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    bad_files.png(top / "sub" / "a.png")
    os.symlink(top, top / "sub" / "back-to-top")
    files, problems = expand([top])
    assert files == [str(top / "sub" / "a.png")]
    assert any("a symbolic link loop; not followed" in str(p) for p in problems)


def test_unreadable_file_in_process(recorder, tmp_path, monkeypatch):
    """Root reads any file, so EACCES is simulated where the engine opens files (every thread sees it)."""
    secret = bad_files.png(tmp_path / "secret.png")
    real_open, real_os_open = builtins.open, os.open

    def refuse(path):
        try:
            return os.fspath(path) == str(secret)
        except TypeError:
            return False

    def fake_open(file, *args, **kwargs):
        if refuse(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def fake_os_open(path, *args, **kwargs):
        if refuse(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    fails(recorder, tmp_path, secret, "permission denied: the file cannot be read")


@pytest.mark.linux_only
def test_unreadable_file_as_an_unprivileged_user(tmp_path):
    """The same, for real: chmod 000 and read as 'nobody' (setpriv), in a subprocess."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to switch to an unprivileged user; "
                    f"euid={os.geteuid()}, setpriv={setpriv}")
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no 'nobody' user to run as")
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="ocr-tray-unprivileged-"))  # pytest's own folders are root-only
    try:
        os.chmod(shared, 0o755)
        secret = bad_files.png(shared / "secret.png")
        readable = bad_files.png(shared / "open.png")
        os.chmod(secret, 0o000)
        os.chmod(readable, 0o644)
        script = textwrap.dedent("""
            import sys
            sys.path.insert(0, sys.argv[1])
            from engine.documents import DocumentError, open_document
            for path in sys.argv[2:]:
                try:
                    doc = open_document(path)
                    print(path, "ok", len(list(doc.pages())))
                    doc.close()
                except DocumentError as e:
                    print(path, "error", e)
        """)
        run = subprocess.run(
            [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
             sys.executable, "-c", script, ROOT, str(secret), str(readable)],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME="/tmp"), cwd="/",
        )
        if run.returncode != 0 and "Permission denied" in run.stderr and "python" in run.stderr.lower():
            pytest.skip(f"the unprivileged user cannot run this Python: {run.stderr.strip()[:200]}")
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert lines == [f"{secret} error secret.png: permission denied: the file cannot be read", f"{readable} ok 1"]
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_special_file_fifo_does_not_hang(recorder, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    result = recorder.run([fifo], OPTS, timeout_s=30)[str(fifo)]  # a hang fails the wait
    assert result.status == JobStatus.FAILED
    one_line(result.error, "pipe.png")
    assert "not a regular file" in result.error


# ------------------------------------------------------- changes while queued
def _hold_first_job(recorder, tmp_path):
    """A document that keeps the engine busy until told, so the next one waits in the queue."""
    blocker = bad_files.scan_pdf(tmp_path / "blocker.pdf", pages=40)
    return blocker


def test_file_deleted_between_queueing_and_processing(recorder, tmp_path):
    blocker = _hold_first_job(recorder, tmp_path)
    victim = bad_files.png(tmp_path / "victim.png")
    first, second = recorder.engine.submit([blocker, victim], OPTS)
    wait_until(lambda: recorder.of("pageFinished"), 60, "the first page of the blocker")
    victim.unlink()
    recorder.engine.cancel(first)
    recorder.wait_results(2)
    result = recorder.result(second)
    assert result.status == JobStatus.FAILED
    one_line(result.error, "victim.png")
    assert "no longer exists" in result.error


def test_file_changed_between_queueing_and_processing(recorder, tmp_path):
    blocker = _hold_first_job(recorder, tmp_path)
    victim = bad_files.png(tmp_path / "changing.png")
    swapped = bad_files.png(tmp_path / "other.png")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    first, second, third = recorder.engine.submit([blocker, victim, swapped], OPTS)
    wait_until(lambda: recorder.of("pageFinished"), 60, "the first page of the blocker")
    os.replace(garbage, victim)  # now damaged
    bad_files.text_pdf(swapped)  # now a different, good document: read as it is now
    recorder.engine.cancel(first)
    recorder.wait_results(3)
    assert recorder.result(second).status == JobStatus.FAILED
    one_line(recorder.result(second).error, "changing.png")
    now = recorder.result(third)
    assert now.status == JobStatus.DONE and [p.source for p in now.pages] == [PageSource.TEXT_LAYER]


# ------------------------------------------------------------- paths and drops
@pytest.mark.parametrize("name", [b"caf\xe9 \xff.png", b"with spaces  in it.png", "scan 📄 2024 ✓.png".encode()])
def test_odd_path_names(recorder, tmp_path, name):
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/" + name)
    bad_files.png(path)  # Pillow takes the str form (surrogate-escaped bytes)
    result = recorder.run([path], OPTS)[path]
    assert result.status == JobStatus.DONE and result.path == path
    assert os.path.exists(result.pages[0].path)


def test_odd_path_name_in_a_message_is_one_readable_line(recorder, tmp_path):
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/broken \xff.png")
    with open(path, "wb") as f:
        f.write(b"")
    result = recorder.run([path], OPTS)[path]
    assert result.status == JobStatus.FAILED
    one_line(result.error, display_name(path))
    result.error.encode("utf-8")  # printable anywhere


def test_same_file_twice_while_queued_is_deduped(recorder, tmp_path):
    png = bad_files.png(tmp_path / "twice.png")
    alias = tmp_path / "alias.png"
    os.symlink(png, alias)
    relative = os.path.relpath(png)
    ids = recorder.engine.submit([png, png, alias, relative], OPTS)
    assert len(ids) == 1
    assert [n for n in recorder.notices() if "already in the queue" in n] == [
        "twice.png: already in the queue", "alias.png: already in the queue", "twice.png: already in the queue"]
    recorder.wait_results(1)
    assert recorder.results()[0].status == JobStatus.DONE
    # once finished, the same file may be read again
    assert len(recorder.engine.submit([png], OPTS)) == 1
    recorder.wait_results(2)


def test_non_file_urls_dropped_are_named_and_files_still_go(qapp, tmp_path):
    from PySide6.QtCore import QMimeData, QUrl

    from desktop.views.drop_zone import DropZone

    zone = DropZone()
    dropped, rejected = [], []
    zone.pathsDropped.connect(dropped.append)
    zone.rejected.connect(rejected.append)
    png = bad_files.png(tmp_path / "local.png")
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/scan.png"), QUrl.fromLocalFile(str(png)), QUrl("ftp://host/x.pdf")])
    zone.take(mime)
    assert dropped == [[str(png)]]
    assert len(rejected) == 1 and "\n" not in rejected[0]
    assert rejected[0].startswith("https://example.com/scan.png, ftp://host/x.pdf: ") and "file" in rejected[0]
    text_only = QMimeData()
    text_only.setText("some dragged words")
    zone.take(text_only)
    assert rejected[-1].startswith("dropped text: ") and len(dropped) == 1
    zone.deleteLater()


# --------------------------------------------- files other readers open, one bad page, no interpreter
def test_pdf_without_its_header_line_is_read(recorder, tmp_path):
    """Starts ``%âãÏÓ`` then ``1 0 obj``: Acrobat, Poppler and MuPDF read it; it used to be "not an image or PDF"."""
    bad = bad_files.headerless_pdf(tmp_path / "no-header.pdf")
    result = works(recorder, bad, sources=[PageSource.TEXT_LAYER])
    assert "lost its header line" in result.pages[0].text


def test_pdf_whose_only_encrypted_part_is_its_attachment_is_read(recorder, tmp_path):
    """/EFF encryption (pages, streams and strings in the clear) asks for no password; it used to."""
    bad = bad_files.attachment_encrypted_pdf(tmp_path / "with-attachment.pdf")
    result = works(recorder, bad, sources=[PageSource.TEXT_LAYER])
    assert "not encrypted" in result.pages[0].text and not result.needs_password


@pytest.mark.parametrize("damage", bad_files.FUZZED_PAGE_TREES)
def test_pdf_with_a_damaged_page_tree_is_read(recorder, tmp_path, damage):
    """The page tree a fuzzer leaves (Poppler reads one page of each); it used to be "the PDF has no pages"."""
    result = works(recorder, bad_files.fuzzed_page_tree_pdf(tmp_path / f"{damage}.pdf", damage), sources=["text-layer"])
    assert f"damage: {damage}" in result.pages[0].text


def test_pdf_page_tree_cycle_costs_one_page(tmp_path):
    """Page 2 is a loop in the page tree: it is reported in one line, and page 3 is still read
    (the pages after a bad page used to be lost). The engine turns such a page into a failed page."""
    path = bad_files.page_tree_cycle_pdf(tmp_path / "cycle.pdf")
    doc = documents.open_document(path)
    try:
        pages = list(doc.pages())
    finally:
        doc.close()
    assert [p.source for p in pages] == [PageSource.TEXT_LAYER, PageSource.FAILED, PageSource.TEXT_LAYER]
    one_line(pages[1].error, "cycle.pdf")
    assert pages[1].error == "cycle.pdf: page 2 cannot be read (cycle in page tree)"


def test_tiff_with_a_damaged_page_costs_one_page(tmp_path):
    path = bad_files.tiff_with_damaged_page(tmp_path / "scan.tiff", pages=3, damaged=2)
    doc = documents.open_document(path)
    try:
        pages = list(doc.pages())
    finally:
        doc.close()
    assert [p.source for p in pages] == [PageSource.MODEL, PageSource.FAILED, PageSource.MODEL]
    one_line(pages[1].error, "scan.tiff")
    assert "page 2" in pages[1].error and "damaged" in pages[1].error


def test_postscript_named_png_is_never_handed_to_ghostscript(recorder, tmp_path, monkeypatch):
    """Types are sniffed by content: Pillow used to open PostScript as EPS and run Ghostscript on it."""
    from PIL import EpsImagePlugin

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "ghostscript-was-called"
    (bin_dir / "gs").write_text(f"#!/bin/sh\necho \"$@\" >> '{called}'\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # Pillow looks Ghostscript up again
    bad = bad_files.postscript(tmp_path / "holiday-photo.png")
    fails(recorder, tmp_path, bad, "not an image or PDF that can be read")
    assert not called.exists(), f"Ghostscript was run: {called.read_text()}"


def test_mupdf_messages_never_quote_the_document_nor_land_on_the_next_file(recorder, tmp_path, caplog):
    """MuPDF's warnings quote content-stream tokens ("unknown keyword: 'TOPSECRETPAYROLL'"): only a count
    and fixed wording are logged. A PDF refused after MuPDF complained used to have its warnings
    logged under the name of the next file."""
    import logging

    caplog.set_level(logging.DEBUG)
    secret = bad_files.unknown_keyword_pdf(tmp_path / "payroll.pdf", "TOPSECRETPAYROLL")
    refused = bad_files.truncated(tmp_path / "cut.pdf", lambda p: bad_files.text_pdf(p, 3), keep=0.1)
    clean = bad_files.text_pdf(tmp_path / "clean.pdf")
    results = recorder.run([secret, refused, clean], OPTS)
    statuses = [results[os.fspath(p)].status for p in (secret, refused, clean)]
    assert statuses == [JobStatus.DONE, JobStatus.FAILED, JobStatus.DONE]
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "TOPSECRETPAYROLL" in m]
    assert "payroll.pdf page 1: MuPDF: 2 messages: errors in a page's drawing instructions ×2" in messages
    assert any(m.startswith("cut.pdf (opening): MuPDF: ") for m in messages)
    assert not [m for m in messages if "clean.pdf" in m and "MuPDF" in m]
