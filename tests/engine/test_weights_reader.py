"""engine.weights_reader: the Linux safetensors reader gives what mx.load gives, refuses
damaged files in one line, hands odd files to mlx-vlm's own loader, and is the one
mlx-vlm really calls while it is installed."""

import json
import struct

import pytest

from engine import weights_reader

mx = pytest.importorskip("mlx.core")


def _write(path, tensors: dict, header_extra: dict | None = None, truncate: int = 0):
    """A safetensors file by hand (so odd headers can be written too)."""
    header, blobs, offset = dict(header_extra or {}), [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    body = struct.pack("<Q", len(raw)) + raw + b"".join(blobs)
    path.write_bytes(body[: len(body) - truncate] if truncate else body)
    return path


def _same(a: dict, b: dict):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        assert mx.array_equal(a[k], b[k]).item(), k


@pytest.mark.linux_only
def test_every_dtype_and_shape_matches_mx_load(tmp_path):
    values = {
        "f32": mx.random.normal((3, 5)),
        "bf16": mx.random.normal((7,)).astype(mx.bfloat16),
        "f16": mx.random.normal((2, 2, 2)).astype(mx.float16),
        "i8": mx.array([-3, 0, 5], dtype=mx.int8),
        "u16": mx.array([1, 65535], dtype=mx.uint16),
        "i64": mx.array([[1 << 40]], dtype=mx.int64),
        "flag": mx.array([True, False, True]),
        "scalar": mx.array(2.5),
        "empty": mx.zeros((0, 4)),
        # bigger than one read step, and not a multiple of it
        "big": mx.arange(weights_reader.STEP_BYTES // 2 + 123, dtype=mx.float32),
        # big enough to be split between the caller and the helper thread, and odd-sized
        "bigger": mx.arange(weights_reader.SPLIT_BYTES // 4 + 1_000_003, dtype=mx.int32),
    }
    path = tmp_path / "w.safetensors"
    mx.save_safetensors(str(path), values, metadata={"format": "mlx"})
    ours = weights_reader.load(str(path))
    _same(ours, mx.load(str(path)))
    _same(ours, values)


@pytest.mark.linux_only
def test_no_reader_thread_outlives_a_load(tmp_path):
    import threading

    path = tmp_path / "w.safetensors"
    mx.save_safetensors(str(path), {"w": mx.ones((weights_reader.SPLIT_BYTES // 2,))})
    weights_reader.load(str(path))
    assert [t.name for t in threading.enumerate() if t.name == "ocr-tray-weights-reader"] == []


@pytest.mark.linux_only
def test_a_file_cut_while_it_is_read_fails_in_one_line_and_frees_the_helper(tmp_path):
    """Another program shortens the file after the header was checked: the helper's half of a
    split read meets the end, and the caller gets one line naming the file."""
    import os
    import threading

    n = weights_reader.SPLIT_BYTES * 2
    path = tmp_path / "cut.safetensors"
    path.write_bytes(b"\x01" * n)
    stepped = weights_reader.StepFile(str(path))
    os.truncate(path, n - 1000)  # inside the second half, which the helper reads
    with pytest.raises(ValueError, match="cut.safetensors is truncated"):
        stepped.readinto(bytearray(n))
    stepped.close()
    assert [t.name for t in threading.enumerate() if t.name == "ocr-tray-weights-reader"] == []


@pytest.mark.linux_only
def test_the_tiny_model_reads_byte_for_byte(tiny_model_dir):
    for weights in tiny_model_dir.glob("*.safetensors"):
        _same(weights_reader.load(str(weights)), mx.load(str(weights)))


@pytest.mark.linux_only
def test_a_truncated_file_is_refused_naming_it(tmp_path):
    data = struct.pack("<4f", 1, 2, 3, 4)
    path = _write(tmp_path / "cut.safetensors", {"w": ("F32", [4], data)}, truncate=6)
    with pytest.raises(ValueError, match="cut.safetensors is truncated"):
        weights_reader.load(str(path))


@pytest.mark.linux_only
@pytest.mark.parametrize("case", ["unknown dtype", "bad header json", "header too big", "not an object"])
def test_odd_files_go_to_the_original_loader(tmp_path, case):
    path = tmp_path / "odd.safetensors"
    if case == "unknown dtype":
        _write(path, {"w": ("F8_E8M0", [4], b"\x01\x02\x03\x04")})
    elif case == "bad header json":
        path.write_bytes(struct.pack("<Q", 9) + b"{garbage!")
    elif case == "header too big":
        path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    else:
        path.write_bytes(struct.pack("<Q", 2) + b"[]")
    with pytest.raises(weights_reader.NotPlain):
        weights_reader.load(str(path))


@pytest.mark.linux_only
def test_installed_swaps_mlx_vlms_reader_and_puts_it_back(tmp_path, monkeypatch):
    import mlx_vlm.utils as vlm_utils

    calls = []
    original = vlm_utils._load_safetensors

    def fake_original(path):
        calls.append(path)
        return {"from": "original"}

    monkeypatch.setattr(vlm_utils, "_load_safetensors", fake_original)
    monkeypatch.setattr(weights_reader, "wanted", lambda: True)
    plain = tmp_path / "plain.safetensors"
    mx.save_safetensors(str(plain), {"w": mx.ones((2,))})
    odd = _write(tmp_path / "odd.safetensors", {"w": ("F8_E8M0", [1], b"\x01")})
    with weights_reader.installed():
        assert vlm_utils._load_safetensors is not fake_original
        assert mx.array_equal(vlm_utils._load_safetensors(str(plain))["w"], mx.ones((2,))).item()
        assert calls == []  # a plain file never reaches mlx-vlm's reader
        assert vlm_utils._load_safetensors(str(odd)) == {"from": "original"}
        assert calls == [str(odd)]
    assert vlm_utils._load_safetensors is fake_original
    monkeypatch.setattr(vlm_utils, "_load_safetensors", original)


def test_off_linux_it_changes_nothing(monkeypatch):
    import mlx_vlm.utils as vlm_utils

    monkeypatch.setattr(weights_reader, "wanted", lambda: False)
    before = vlm_utils._load_safetensors
    with weights_reader.installed():
        assert vlm_utils._load_safetensors is before


@pytest.mark.linux_only
@pytest.mark.slow
def test_mlx_vlm_load_reads_every_weight_through_it(tiny_model_dir, monkeypatch):
    """Guards the hook against an mlx-vlm upgrade: load() must call the name we replace."""
    from mlx_vlm import load

    monkeypatch.setattr(weights_reader, "wanted", lambda: True)
    read = []
    real = weights_reader.load
    monkeypatch.setattr(weights_reader, "load", lambda p: read.append(p) or real(p))
    with weights_reader.installed():
        model, _ = load(str(tiny_model_dir), trust_remote_code=False)
    assert sorted(read) == sorted(str(p) for p in tiny_model_dir.glob("*.safetensors"))
    from mlx.utils import tree_flatten

    expected = {}
    for p in tiny_model_dir.glob("*.safetensors"):
        expected.update(mx.load(str(p)))
    params = dict(tree_flatten(model.parameters()))
    # the loaded model holds the file's values (sanitize may rename keys; compare by value sets)
    assert len(params) >= 1
    file_sums = sorted(round(float(v.astype(mx.float32).sum().item()), 3) for v in expected.values())
    model_sums = sorted(round(float(v.astype(mx.float32).sum().item()), 3) for v in params.values())
    assert file_sums == model_sums


@pytest.mark.linux_only
def test_each_step_is_faulted_in_before_its_read(tmp_path, monkeypatch):
    """Every byte of a big tensor is populated (MADV_POPULATE_WRITE) before the read that fills it, in
    ranges of at most one step; and a kernel that refuses the call still gets the same arrays. (The steps
    in Python, as where engine._stepread was not built; the C steps are the same calls.)"""
    monkeypatch.setitem(weights_reader._state, "native", None)
    values = {"big": mx.arange(weights_reader.SPLIT_BYTES // 4 + 333_333, dtype=mx.float32)}
    path = tmp_path / "w.safetensors"
    mx.save_safetensors(str(path), values)
    calls, reads = [], []
    real_populate, real_preadv = weights_reader._populate, weights_reader.os.preadv

    def populate(address, n):
        calls.append((address, n))
        real_populate(address, n)

    def preadv(fd, buffers, offset):
        reads.append(len(buffers[0]))
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(weights_reader, "_populate", populate)
    monkeypatch.setattr(weights_reader.os, "preadv", preadv)
    _same(weights_reader.load(str(path)), values)
    nbytes = values["big"].nbytes
    assert sum(n for _, n in calls) == nbytes
    assert max(n for _, n in calls) <= weights_reader.STEP_BYTES
    spans = sorted(calls)
    for (a, n), (b, _) in zip(spans, spans[1:]):
        assert a + n <= b  # no range populated twice
    assert spans[-1][0] + spans[-1][1] - spans[0][0] == nbytes  # one contiguous buffer, covered end to end
    assert len(calls) == sum(1 for r in reads if r > 4096)  # one populate a step of the tensor (not the header's reads)

    monkeypatch.setattr(weights_reader, "_populate", real_populate)
    monkeypatch.setitem(weights_reader._state, "off", True)  # a kernel without MADV_POPULATE_WRITE
    _same(weights_reader.load(str(path)), values)


def _native_or_skip():
    native = weights_reader._native()
    if native is None:
        import shutil

        # setup.py builds it wherever Linux has a C compiler: with one, a missing module is a defect
        assert shutil.which("cc") is None and shutil.which("gcc") is None, "engine._stepread was not built"
        pytest.skip("engine._stepread is not built: no C compiler on this machine (the reader steps in Python)")
    return native


@pytest.mark.linux_only
@pytest.mark.parametrize("steps", ["C", "Python"])
def test_both_step_loops_give_mx_loads_arrays_and_refuse_a_cut_file(tmp_path, monkeypatch, steps):
    if steps == "C":
        _native_or_skip()
    else:
        monkeypatch.setitem(weights_reader._state, "native", None)
    values = {
        "small": mx.arange(17, dtype=mx.int16),
        "big": mx.arange(weights_reader.STEP_BYTES // 4 + 12_345, dtype=mx.float32),
        "split": mx.arange(weights_reader.SPLIT_BYTES // 2 + 777, dtype=mx.bfloat16),
    }
    path = tmp_path / "w.safetensors"
    mx.save_safetensors(str(path), values)
    _same(weights_reader.load(str(path)), values)
    monkeypatch.setitem(weights_reader._state, "off", True)  # a kernel without MADV_POPULATE_WRITE
    _same(weights_reader.load(str(path)), values)
    data = struct.pack("<4f", 1, 2, 3, 4)
    cut = _write(tmp_path / "cut.safetensors", {"w": ("F32", [4], data)}, truncate=6)
    with pytest.raises(ValueError, match="cut.safetensors is truncated"):
        weights_reader.load(str(cut))


@pytest.mark.linux_only
@pytest.mark.parametrize("steps", ["C", "Python"])
def test_the_c_steps_need_no_gil_while_another_thread_holds_it(tmp_path, monkeypatch, steps):
    """The reason engine._stepread exists: while another thread holds the GIL in a long C call (as PyMuPDF
    does opening and rasterising the first page beside the load), the C steps read the whole range; the
    Python steps stop after their first system call until the GIL comes back (the control)."""
    import ctypes
    import os
    import threading

    if steps == "C":
        _native_or_skip()
    else:
        monkeypatch.setitem(weights_reader._state, "native", None)
    n = 128 * weights_reader.STEP_BYTES  # tens of milliseconds to read: it is under way when the hold starts
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x07" * n)
    holds_gil = ctypes.PyDLL(None).usleep  # a PyDLL call keeps the GIL for its whole length
    holds_gil.argtypes = [ctypes.c_uint]

    def attempt() -> bool:
        buffer = bytearray(n)
        fd = os.open(path, os.O_RDONLY)
        entering = threading.Event()
        results: list = []

        def read() -> None:
            entering.set()
            results.append(weights_reader._fill(fd, memoryview(buffer), 0, str(path)))

        reader = threading.Thread(target=read)
        try:
            reader.start()
            assert entering.wait(10)
            # this thread gets the GIL once the reader lets it go (in its first system call, or for the whole
            # range), then keeps it for 1 s; the last byte is looked at before and after, with the GIL held
            unread_at_start = buffer[-1] == 0
            holds_gil(1_000_000)
            read_meanwhile = unread_at_start and buffer[-1] == 7
            reader.join(10)
        finally:
            os.close(fd)
        assert results == [n]
        return read_meanwhile

    if steps == "C":
        # a reader descheduled for 5 ms between the event and the C call loses the GIL to this thread before
        # it lets go of it: a busy machine may need a second try
        assert any(attempt() for _ in range(3))
    else:
        assert not attempt()
