"""commands/cli.py, the shared parser plumbing, and models/keras_runtime.py, TensorFlow's quiet, lean import."""

import subprocess
import sys
from pathlib import Path

import pytest

from fashion_mnist_vis.models import keras_runtime

REPO = Path(__file__).resolve().parents[1]


def test_hidden_modules_fail_to_import_inside_the_block_only(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)  # a small module nothing here uses
    with keras_runtime._hidden(("colorsys",)):
        with pytest.raises(ImportError):
            import colorsys  # noqa: F401
    import colorsys  # noqa: F401, F811

    assert sys.modules["colorsys"] is not None


def test_modules_already_imported_are_not_hidden():
    import json

    with keras_runtime._hidden(("json",)):
        import json as again

    assert again is json and sys.modules["json"] is json


@pytest.mark.slow
def test_tensorflow_is_imported_without_sklearn_or_matplotlib_which_still_work_afterwards():
    code = (
        "import sys\n"
        "from fashion_mnist_vis.models.keras_runtime import import_tensorflow\n"
        "import_tensorflow()\n"
        "import keras, tensorflow\n"
        "heavy = [name for name in ('sklearn', 'matplotlib') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from sklearn.decomposition import PCA\n"
        "from matplotlib.figure import Figure\n"
        "print(PCA(n_components=1).fit_transform([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]).shape, Figure().dpi)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(3,", "1)", "100.0"]


def test_settings_become_flags_by_one_rule():
    from fashion_mnist_vis.commands.cli import flag_for_setting

    assert flag_for_setting("learning_rate") == "--learning-rate"
    assert flag_for_setting("engine=keras") == "--engine keras"
    assert flag_for_setting("tsne=off") == "--no-tsne"  # the exception, from SETTING_FLAGS


def test_a_library_error_gets_the_flags_this_command_has(capsys):
    from fashion_mnist_vis.commands import cli
    from fashion_mnist_vis.errors import UserError

    parser = cli.make_parser("demo", "a command with one of the two flags")
    parser.add_argument("--learning-rate", type=float, default=0.1)

    def fail(args):
        raise UserError("try a lower learning rate", settings=("learning_rate", "batch_size"))

    assert cli.run_cli("demo", [], parser, fail) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "demo: error: try a lower learning rate (--learning-rate)\n"
    unknown = UserError("choose another backup folder", settings=("backup_dir",))
    assert cli.error_line(unknown, parser) == "choose another backup folder"  # no such flag: no hint
    assert cli.error_line(UserError("plain"), parser) == "plain"


def test_every_setting_a_library_error_names_is_a_flag_of_some_command():
    """A setting named in a library UserError (settings=...) that no command has would never reach the user."""
    import ast
    import importlib

    from fashion_mnist_vis.commands.cli import flag_for_setting

    named = set()
    for path in (REPO / "fashion_mnist_vis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "settings" and isinstance(node.value, ast.Tuple):
                named.update(element.value for element in node.value.elts)
    assert {"learning_rate", "engine=keras", "tsne=off", "data_dir"} <= named
    flags = set()
    commands = [path.stem for path in (REPO / "fashion_mnist_vis" / "commands").glob("*.py")
                if "def build_parser(" in path.read_text()]
    assert {"train", "classify", "serve"} <= set(commands)
    for command in commands:
        module = importlib.import_module(f"fashion_mnist_vis.commands.{command}")
        flags.update(module.build_parser()._option_string_actions)
    missing = {setting for setting in named if flag_for_setting(setting).split()[0] not in flags}
    assert not missing, missing


def test_no_library_error_message_names_a_flag():
    """Only commands/ knows flags: a UserError or ValueError below it lists settings instead (issue 16)."""
    import ast
    import re

    offenders = []
    for path in sorted((REPO / "fashion_mnist_vis").rglob("*.py")):
        relative = path.relative_to(REPO / "fashion_mnist_vis")
        if relative.parts[0] == "commands" or len(relative.parts) == 1:  # the command layer and its shims
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(called, "id", None) in ("UserError", "ValueError"):
                texts = [part.value for argument in node.args for part in ast.walk(argument)
                         if isinstance(part, ast.Constant) and isinstance(part.value, str)]
                if any(re.search(r"(^|[\s(`])--[a-z]", text) for text in texts):
                    offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, offenders
