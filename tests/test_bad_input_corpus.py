"""One corpus of bad input, run through every command it applies to.

Every case builds its input in a fresh temporary folder (the "user's
folder", also the working directory), runs a command's ``main(argv)`` in
process and checks the contract every command promises:

* exit status 2;
* exactly one non-empty line on stderr, ``<prog>: error: ...``, that names
  the problem (the file, the flag or the value);
* no traceback;
* no file that was in the folder before is modified or deleted (path ->
  sha256 and mtime, before and after), and no new file is left behind.

Unusual but valid images (CMYK, 16-bit, animated GIF, palette with
transparency, 1x1, paths with spaces and non-ASCII characters) are the other
half of the corpus: they must be classified (exit 0), not refused.

We run as root, so ``chmod 000`` does not make a file unreadable; unreadable
files are simulated three ways: a FIFO named ``.jpg`` (opening it would block
forever), a folder named ``.jpg``, and ``open`` raising PermissionError
(monkeypatched). A read-only folder is a read-only tmpfs mount where mounting
works (root in a container), and a path below a regular file everywhere.

A handful of cases also run as real subprocesses, one with ``--debug`` to
show that the traceback is then printed.
"""

import hashlib
import os
import socket
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest
from PIL import Image

from conftest import IDX_NAMES, free_port, make_striped_items
from fashion_mnist_vis.commands import classify
from fashion_mnist_vis.commands import compare
from fashion_mnist_vis.commands import evaluate
from fashion_mnist_vis.commands import serve
from fashion_mnist_vis.commands import tensorboard_visualise
from fashion_mnist_vis.commands import train
from fashion_mnist_vis.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]

COMMANDS = {
    "classify": (classify.main, "classify.py"),
    "train": (train.main, "train.py"),
    "evaluate": (evaluate.main, "evaluate.py"),
    "compare": (compare.main, "compare.py"),
    "tensorboard_visualise": (tensorboard_visualise.main, "tensorboard_visualise.py"),
    "serve": (serve.main, serve.PROG),
}

# ----------------------------------------------------------------- building blocks


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid-looking PNG claiming width x height 8-bit greyscale pixels, in a few hundred bytes.

    The IDAT holds the first rows, zlib-compressed; decoding it all would
    need width * height bytes (400 MB for 20000 x 20000).
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(bytes(width + 1) * 16, 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows)
            + _png_chunk(b"IEND", b""))


def _photo(size=(64, 64)) -> Image.Image:
    """A light-background photo of a dark rectangle (something to classify)."""
    image = Image.new("RGB", size, (235, 235, 235))
    image.paste((40, 40, 40), (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    return image


def _encoded(fmt: str, **options) -> bytes:
    import io

    buffer = io.BytesIO()
    _photo().save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A tiny (28, 28, 1) -> 10 softmax CNN with a GAP layer, saved as .keras (random weights)."""
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    keras.utils.set_random_seed(3)
    inputs = keras.Input((28, 28, 1))
    hidden = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden), name="tiny")
    return save_model_atomic(model, tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="session")
def odd_models(tmp_path_factory, tiny_model_file) -> Dict[str, Path]:
    """Model files that must be refused: wrong input shape, a Lambda layer, truncated .keras/.h5."""
    import keras

    folder = tmp_path_factory.mktemp("odd_models")
    flat = keras.Sequential([keras.Input((10,)), keras.layers.Dense(10, activation="softmax")])
    flat.save(folder / "flat.keras")
    with_code = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2.0),
                                  keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    with_code.save(folder / "lambda.keras")
    from fashion_mnist_vis.models.model_io import load_model

    load_model(tiny_model_file).save(folder / "good.h5")
    for suffix in (".keras", ".h5"):
        data = (tiny_model_file if suffix == ".keras" else folder / "good.h5").read_bytes()
        (folder / f"truncated{suffix}").write_bytes(data[: len(data) // 2])
    return {path.name: path for path in folder.iterdir()}


@dataclass(frozen=True)
class Setup:
    """What a case builder gets: the user's folder and the shared model files."""

    root: Path
    model: Path
    odd: Dict[str, Path]

    def put(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def copy_model(self, name: str = "model.keras") -> Path:
        return self.put(name, self.model.read_bytes())

    def idx_folder(self, name: str = "data", **damage) -> Path:
        """A folder with the four IDX files (60 train / 20 test items), optionally damaged."""
        folder = self.root / name
        folder.mkdir()
        x_train, y_train = make_striped_items(60, seed=1)
        x_test, y_test = make_striped_items(20, seed=2)
        arrays = {"train_images": x_train, "train_labels": y_train, "test_images": x_test, "test_labels": y_test}
        if "count_mismatch" in damage:
            arrays["test_labels"] = y_test[:-3]
        for key, array in arrays.items():
            write_idx(folder / IDX_NAMES[key], array)
        target = folder / IDX_NAMES["test_images"]
        if "truncate" in damage:
            data = __import__("gzip").decompress(target.read_bytes())
            target.write_bytes(data[: len(data) - 100])  # plain (ungzipped) and 100 bytes short
        if "bad_magic" in damage:
            data = bytearray(__import__("gzip").decompress(target.read_bytes()))
            data[:4] = b"\x12\x34\x08\x03"
            target.write_bytes(bytes(data))
        if "missing" in damage:
            target.unlink()
        return folder


# ----------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    command: str
    name: str
    build: Callable[[Setup], List[str]]  # makes the input, returns argv
    expect: Tuple[str, ...]  # each must appear in the error line (case-insensitive)


def _image_inputs() -> Dict[str, Tuple[Callable[[Setup], Path], Tuple[str, ...]]]:
    """Image files (and folders) classify must refuse: builder -> (path, expected words)."""
    jpeg, png = _encoded("JPEG", quality=90), _encoded("PNG")
    return {
        "empty": (lambda s: s.put("empty.jpg", b""), ("empty.jpg", "empty")),
        "text_named_jpg": (lambda s: s.put("notes.jpg", b"just some text\n" * 20), ("notes.jpg", "not an image")),
        "truncated_jpeg": (lambda s: s.put("cut.jpg", jpeg[: len(jpeg) // 2]), ("cut.jpg", "truncated")),
        "truncated_png": (lambda s: s.put("cut.png", png[: len(png) // 2]), ("cut.png", "truncated")),
        "bomb_20000x20000": (lambda s: s.put("bomb.png", bomb_png()), ("bomb.png", "20000x20000", "megapixel")),
        "folder_without_images": (lambda s: s.put("empty_folder/readme.txt", b"x").parent,
                                  ("empty_folder", "no image files")),
        "fifo_named_jpg": (lambda s: _fifo(s.root / "pipe.jpg"), ("pipe.jpg", "not a regular file")),
        "folder_named_jpg": (lambda s: _folder_with_image(s.root / "album.jpg"), ("inner.png",)),
        "missing_with_spaces_and_non_ascii": (lambda s: s.root / "my phötos" / "vestido rojo ñ.jpg",
                                              ("vestido rojo ñ.jpg", "no such file")),
        "text_with_spaces_and_non_ascii": (lambda s: s.put("my phötos/résumé 1.jpg", b"%PDF-1.4 not a jpeg"),
                                           ("résumé 1.jpg", "not an image")),
    }


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _folder_with_image(path: Path) -> Path:
    """A folder named like an image; as an argument it means 'the images in it', so put a bad one in."""
    path.mkdir()
    (path / "inner.png").write_bytes(b"not a png")
    return path


def _model_inputs() -> Dict[str, Tuple[Callable[[Setup], Path], Tuple[str, ...]]]:
    """Model files every model-loading command must refuse."""
    def odd(name):
        return lambda s: s.put(f"user_{name}", s.odd[name].read_bytes())

    def bad_zip(s):
        path = s.root / "archive.keras"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "not a model")
        return path

    return {
        "missing_model": (lambda s: s.root / "nothing here.keras", ("nothing here.keras", "does not exist")),
        "empty_keras": (lambda s: s.put("empty.keras", b""), ("empty.keras", "empty")),
        "empty_h5": (lambda s: s.put("empty.h5", b""), ("empty.h5", "empty")),
        "text_keras": (lambda s: s.put("text.keras", b"hello\n"), ("text.keras", "not a keras model")),
        "truncated_keras": (odd("truncated.keras"), ("user_truncated.keras",)),
        "truncated_h5": (odd("truncated.h5"), ("user_truncated.h5",)),
        "zip_not_a_model": (bad_zip, ("archive.keras",)),
        "wrong_input_shape": (odd("flat.keras"), ("user_flat.keras", "does not take images")),
        "lambda_layer": (odd("lambda.keras"), ("user_lambda.keras", "lambda")),
        "wrong_suffix": (lambda s: s.put("model.txt", b"x"), ("model.txt", "not a keras model")),
        "fifo_model": (lambda s: _fifo(s.root / "pipe.keras"), ("pipe.keras", "not a regular file")),
    }


def _data_inputs() -> Dict[str, Tuple[Callable[[Setup], List[str]], Tuple[str, ...]]]:
    """Dataset problems, as data flags (with --data-dir, or a damaged cache and no mirror)."""
    def data_dir(**damage):
        return lambda s: ["--data-dir", str(s.idx_folder(**damage))]

    return {
        "idx_missing": (data_dir(missing=True), ("t10k-images-idx3-ubyte.gz", "not found")),
        "idx_truncated": (data_dir(truncate=True), ("t10k-images-idx3-ubyte.gz", "truncated")),
        "idx_bad_magic": (data_dir(bad_magic=True), ("t10k-images-idx3-ubyte.gz", "magic")),
        "idx_count_mismatch": (data_dir(count_mismatch=True), ("t10k-labels-idx1-ubyte.gz", "do not belong")),
        "idx_not_a_folder": (lambda s: ["--data-dir", str(s.put("data.zip", b"PK"))], ("data.zip", "not a folder")),
        "cache_wrong_checksum": (lambda s: [], ("md5", "--dataset synthetic")),
    }


def _readonly_folder(setup: Setup) -> Path:
    """A folder the process cannot write: a read-only tmpfs if mounting works, else a path under a file."""
    folder = setup.root / "read-only"
    folder.mkdir()
    if READONLY_MOUNTS is not None:
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                                capture_output=True)
        if result.returncode == 0:
            READONLY_MOUNTS.append(folder)
            return folder
    return setup.put("read-only-file", b"I am a file").joinpath("sub")


READONLY_MOUNTS: List[Path] = [] if os.name == "posix" and os.geteuid() == 0 else None


def _port_in_use(setup: Setup) -> List[str]:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    OPEN_SOCKETS.append(busy)
    return ["--port", str(busy.getsockname()[1]), "--directory", str(setup.root)]


OPEN_SOCKETS: List[socket.socket] = []

SYNTHETIC = ["--dataset", "synthetic", "--train-size", "200", "--test-size", "20"]


def build_corpus() -> List[Case]:
    cases: List[Case] = []
    for name, (make, words) in _image_inputs().items():
        cases.append(Case("classify", name, lambda s, make=make: [str(make(s)), "--saved-model", str(s.copy_model())],
                          words))
    model_commands = {
        "classify": lambda s, model: [str(s.put("shirt.png", _encoded("PNG"))), "--saved-model", str(model)],
        "evaluate": lambda s, model: ["--saved-model", str(model), "--dataset", "synthetic", "--test-size", "20"],
        "tensorboard_visualise": lambda s, model: ["--saved-model", str(model), "--dataset", "synthetic",
                                                   "--test-size", "20", "--output", str(s.root / "export")],
    }
    for command, argv in model_commands.items():
        for name, (make, words) in _model_inputs().items():
            cases.append(Case(command, name, lambda s, make=make, argv=argv: argv(s, make(s)), words))
    data_commands = {
        "train": lambda s: ["--epochs", "1", "--output", str(s.root / "out.keras")],
        "evaluate": lambda s: ["--saved-model", str(s.copy_model())],
        "compare": lambda s: ["--models", "dense", "--epochs", "1", "--output-dir", str(s.root / "cmp")],
        "tensorboard_visualise": lambda s: ["--saved-model", str(s.copy_model()), "--output", str(s.root / "export")],
    }
    for command, argv in data_commands.items():
        for name, (flags, words) in _data_inputs().items():
            cases.append(Case(command, name, lambda s, flags=flags, argv=argv: argv(s) + flags(s), words))
    flag_cases = [
        ("train", "negative_epochs", lambda s: ["--epochs", "-3"], ("--epochs", "-3")),
        ("train", "batch_size_0", lambda s: ["--batch-size", "0"], ("--batch-size", "0")),
        ("train", "val_split_1.5", lambda s: ["--val-split", "1.5"], ("--val-split", "1.5")),
        ("train", "unknown_model", lambda s: ["--model", "vgg99"], ("--model", "vgg99")),
        ("train", "unwritable_output", lambda s: SYNTHETIC + ["--output", str(_readonly_folder(s) / "m.keras")],
         ("m.keras", "not writable")),
        ("train", "output_below_a_file", lambda s: SYNTHETIC + ["--output", str(s.put("f", b"x") / "m.keras")],
         ("m.keras",)),
        ("train", "resume_not_a_run", lambda s: ["--resume", str(s.put("runs/x/notes.txt", b"x").parent)],
         ("run folder",)),
        ("compare", "negative_epochs", lambda s: ["--epochs", "-3"], ("--epochs", "-3")),
        ("compare", "batch_size_0", lambda s: ["--batch-size", "0"], ("--batch-size", "0")),
        ("compare", "val_split_1.5", lambda s: ["--val-split", "1.5"], ("--val-split", "1.5")),
        ("compare", "unknown_model", lambda s: ["--models", "dense,vgg99"], ("vgg99",)),
        ("compare", "unwritable_output", lambda s: ["--dataset", "synthetic", "--train-size", "200", "--models", "dense", "--epochs", "1",
                                                                "--output-dir", str(_readonly_folder(s) / "cmp")],
         ("cmp",)),
        ("evaluate", "batch_size_0", lambda s: ["--batch-size", "0"], ("--batch-size", "0")),
        ("evaluate", "bins_0", lambda s: ["--bins", "0"], ("--bins", "0")),
        ("evaluate", "unwritable_output", lambda s: ["--saved-model", str(s.copy_model()), "--dataset", "synthetic",
                                                     "--test-size", "20", "--output-dir",
                                                     str(_readonly_folder(s) / "ev")], ("ev",)),
        ("evaluate", "images_folder_missing", lambda s: ["--images", str(s.root / "fotos ñ")], ("fotos ñ",)),
        ("tensorboard_visualise", "batch_size_0", lambda s: ["--batch-size", "0"], ("--batch-size", "0")),
        ("tensorboard_visualise", "num_0", lambda s: ["--num", "0"], ("--num", "0")),
        ("tensorboard_visualise", "unwritable_output",
         lambda s: ["--saved-model", str(s.copy_model()), "--dataset", "synthetic", "--test-size", "20",
                    "--no-tsne", "--output", str(_readonly_folder(s) / "export")], ("export",)),
        ("classify", "top_k_0", lambda s: ["x.png", "--top-k", "0"], ("--top-k", "0")),
        ("classify", "unwritable_plot_dir",
         lambda s: [str(s.put("shirt.png", _encoded("PNG"))), "--saved-model", str(s.copy_model()), "--save-plots",
                    "--plot-dir", str(_readonly_folder(s) / "plots")], ("plots",)),
        ("classify", "unknown_cam_class", lambda s: ["x.png", "--cam-class", "hat"], ("hat",)),
        ("serve", "port_in_use", _port_in_use, ("port", "already in use")),
        ("serve", "negative_port", lambda s: ["--port", "-1"], ("--port", "-1")),
        ("serve", "missing_directory", lambda s: ["--directory", str(s.root / "no such")], ("no such",)),
        ("serve", "directory_is_a_file", lambda s: ["--directory", str(s.put("file.txt", b"x")), "--port", "0"],
         ("file.txt",)),
        ("serve", "unknown_host", lambda s: ["--host", "no-such-host.invalid", "--port", "0",
                                             "--directory", str(s.root)], ("no-such-host.invalid",)),
    ]
    cases += [Case(command, name, build, words) for command, name, build, words in flag_cases]
    return cases


CORPUS = build_corpus()


# ----------------------------------------------------------------- the contract


def snapshot(root: Path) -> Dict[str, Tuple[str, ...]]:
    """relative path -> (kind, sha256, mtime_ns) of everything under ``root`` (FIFOs are not opened)."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            relative = str(path.relative_to(root))
            if path.is_fifo():
                state[relative] = ("fifo", "", info.st_mtime_ns)
            elif path.is_file():
                state[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mtime_ns)
            elif path.is_dir():
                state[relative] = ("dir", "", 0)
    return state


@pytest.fixture
def user_folder(tmp_path, monkeypatch, tiny_model_file, odd_models):
    """The case's folder (also the working directory), with no network and a private data cache."""
    root = tmp_path / "user folder ü"
    root.mkdir()
    monkeypatch.chdir(root)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / IDX_NAMES["train_images"]).write_bytes(b"corrupt, fails its MD5")
    monkeypatch.setenv("FASHION_MNIST_VIS_CACHE_DIR", str(cache))
    monkeypatch.setenv("FASHION_MNIST_VIS_MIRRORS", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.setenv("FASHION_MNIST_VIS_DOWNLOAD_TIMEOUT", "2")
    yield Setup(root, tiny_model_file, odd_models)
    for sock in OPEN_SOCKETS:
        sock.close()
    OPEN_SOCKETS.clear()
    for mount in READONLY_MOUNTS or []:
        subprocess.run(["umount", str(mount)], capture_output=True)
    if READONLY_MOUNTS:
        READONLY_MOUNTS.clear()


def run_case(case: Case, setup: Setup, capsys) -> Tuple[int, str, Dict, Dict]:
    argv = case.build(setup)
    before = snapshot(setup.root)
    capsys.readouterr()
    main, _ = COMMANDS[case.command]
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.err, before, snapshot(setup.root)


def assert_refused(case: Case, status: int, err: str, before: Dict, after: Dict) -> str:
    prog = COMMANDS[case.command][1]
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, f"exit status {status}, stderr:\n{err}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    line = lines[0]
    assert line.startswith(f"{prog}: error: "), line
    for word in case.expect:
        assert word.lower() in line.lower(), f"{word!r} not in {line!r}"
    changed = [path for path, state in before.items() if after.get(path) != state]
    assert not changed, f"modified or deleted: {changed}"
    created = [path for path, state in after.items() if path not in before and state[0] == "file"]
    assert not created, f"left behind: {created}"
    return line


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c.command}-{c.name}" for c in CORPUS])
def test_bad_input_exits_2_with_one_line_and_touches_nothing(case, user_folder, capsys):
    status, err, before, after = run_case(case, user_folder, capsys)
    assert_refused(case, status, err, before, after)


def test_unreadable_image_permission_denied(user_folder, capsys, monkeypatch):
    """open() raising PermissionError (what chmod 000 does for a non-root user)."""
    import builtins

    from fashion_mnist_vis.data import images

    image = user_folder.put("secret.png", _encoded("PNG"))
    real_open = Image.open

    def refuse(path, *args, **kwargs):
        if Path(path).name == "secret.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(images.Image, "open", refuse)
    assert builtins.open  # the check runs through Pillow's open, patched above
    case = Case("classify", "unreadable", lambda s: [str(image), "--saved-model", str(s.copy_model())],
                ("secret.png", "permission denied"))
    assert_refused(case, *run_case(case, user_folder, capsys))


def test_corpus_covers_every_command_and_counts(capsys):
    counts = {command: sum(case.command == command for case in CORPUS) for command in COMMANDS}
    assert all(counts.values()), counts
    with capsys.disabled():
        print(f"\nbad-input corpus: {len(CORPUS)} cases, per command {counts}")


# ----------------------------------------------------------------- valid but unusual images


def _valid_images() -> Dict[str, Callable[[Setup], Path]]:
    def frames(s):
        path = s.root / "animated.gif"
        first, second = _photo(), Image.new("RGB", (64, 64), (0, 0, 0))
        first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
        return path

    def palette(s):
        path = s.root / "palette.png"
        image = _photo().convert("P", palette=Image.ADAPTIVE, colors=8)
        image.info["transparency"] = 0
        image.save(path, transparency=0)
        return path

    def sixteen(s):
        path = s.root / "deep.png"
        values = (np.asarray(_photo().convert("L"), dtype=np.uint16) * 257)
        Image.fromarray(values).save(path)
        return path

    return {
        "cmyk_jpeg": lambda s: s.put("cmyk.jpg", _photo_bytes("JPEG", "CMYK")),
        "16_bit_png": sixteen,
        "animated_gif": frames,
        "palette_transparency": palette,
        "one_by_one": lambda s: s.put("dot.png", _photo_bytes("PNG", size=(1, 1))),
        "spaces_non_ascii_path": lambda s: s.put("my phötos/vestido rojo ñ.png", _encoded("PNG")),
    }


def _photo_bytes(fmt: str, mode: str = "RGB", size=(64, 64)) -> bytes:
    import io

    buffer = io.BytesIO()
    _photo(size).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("name", list(_valid_images()))
def test_unusual_but_valid_images_are_classified(name, user_folder, capsys):
    image = _valid_images()[name](user_folder)
    model = user_folder.copy_model()
    before = snapshot(user_folder.root)
    status = classify.main([str(image), "--saved-model", str(model)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Traceback" not in captured.err and "error" not in captured.err
    assert captured.out.startswith(f"{image}: ")
    assert snapshot(user_folder.root) == before


# ----------------------------------------------------------------- the bomb, in a fresh process


def test_bomb_is_refused_without_allocating_its_pixels(tmp_path):
    """Loading the 20000 x 20000 bomb must not allocate its 400 MB (peak RSS well under that)."""
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png())
    code = (
        "import resource, sys\n"
        "from fashion_mnist_vis.data.images import load_image\n"
        "from fashion_mnist_vis.errors import UserError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    load_image(sys.argv[1])\nexcept UserError as error:\n    print(error)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    message, grown_kib = result.stdout.strip().splitlines()
    assert "20000x20000" in message and "megapixel" in message
    assert int(grown_kib) < 50 * 1024, f"peak memory grew by {int(grown_kib) // 1024} MB"


# ----------------------------------------------------------------- real processes


SUBPROCESS_CASES = [
    ("classify", "text_named_jpg"),
    ("classify", "bomb_20000x20000"),
    ("evaluate", "empty_keras"),
    ("train", "batch_size_0"),
    ("train", "idx_bad_magic"),
    ("serve", "port_in_use"),
]


def _run_script(command: str, argv: List[str], cwd: Path, env_extra: Dict[str, str]) -> subprocess.CompletedProcess:
    script = REPO / ("tensorboard_assets/serve_assets.py" if command == "serve" else f"fashion_mnist_vis/{command}.py")
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(script), *argv], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=180)


@pytest.mark.slow
@pytest.mark.parametrize("command, name", SUBPROCESS_CASES)
def test_as_a_subprocess(command, name, user_folder):
    case = next(c for c in CORPUS if (c.command, c.name) == (command, name))
    argv = case.build(user_folder)
    before = snapshot(user_folder.root)
    env = {key: os.environ[key] for key in os.environ if key.startswith("FASHION_MNIST_VIS_")}
    result = _run_script(command, argv, user_folder.root, env)
    if command == "serve":
        case = Case(command, name, case.build, case.expect)
        prog = "serve_assets.py"
    else:
        prog = COMMANDS[command][1]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), result.stderr
    for word in case.expect:
        assert word.lower() in lines[0].lower()
    assert snapshot(user_folder.root) == before


@pytest.mark.slow
def test_debug_shows_the_traceback(user_folder):
    image = user_folder.put("shirt.png", _encoded("PNG"))
    bad = user_folder.put("notes.keras", b"just text")
    result = _run_script("classify", [str(image), "--saved-model", str(bad), "--debug"], user_folder.root, {})
    assert "Traceback" in result.stderr and "notes.keras" in result.stderr
    assert result.returncode != 0
