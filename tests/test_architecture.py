"""The package's layout, read from the code with `ast` (docs/architecture.md).

Layers import one way: a module may import modules of its own layer and of
the layers below it, never above, and no module reaches itself through
imports (those inside functions count too). Private modules stay in their
package, except `_internal`, the private package every layer shares; Keras's
and KerasTuner's private attributes and modules are touched in one package,
`_internal/keras_internals/` (the fence).
"""

import ast
import functools
import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_recipes"
FENCE = "keras_recipes._internal.keras_internals"
MAX_LINES = 400

# Bottom up; a path (relative to keras_recipes/) is in the layer of its
# longest matching prefix.
LAYERS = (
    ("internal", ("_internal/",)),
    ("schedules", ("schedules/",)),
    ("models and data", ("models/", "data.py", "batches.py", "optimizers.py")),
    ("lr_finder", ("lr_finder/",)),
    ("callbacks", ("callbacks/", "__init__.py")),
    (
        "tuning and diagnose",
        ("tuning/", "diagnose/steps.py", "diagnose/verdict.py", "fine_tuning.py"),
    ),
    ("plots and reports", ("plots.py", "diagnose/")),
    ("commands", ("commands/", "cli.py", "runs.py", "trained.py")),
)
CORE = ("schedules", "models", "lr_finder", "callbacks")
FACE = ("plots", "commands", "cli", "tuning", "diagnose")
# Modules of other libraries that are theirs alone.
FOREIGN_PRIVATE_MODULES = ("keras.src", "keras_tuner.src", "tensorflow.python")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(name):
    relative = MODULES[name].relative_to(PACKAGE).as_posix()
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if relative == prefix or (prefix.endswith("/") and relative.startswith(prefix))
    ]
    assert matches, f"{relative} is in no layer of tests/test_architecture.py"
    return max(matches)[1]


def tree(name):
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def imports(name):
    """`(imported module, imported names, line)` for every import in `name`,
    inside functions too; relative imports resolved."""
    found = []
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            found += [(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            found.append((base, tuple(a.name for a in node.names), node.lineno))
    return found


def internal_edges(name):
    """The package's modules that `name` imports, with the line."""
    edges = []
    for module, names, line in imports(name):
        if not module.startswith("keras_recipes"):
            continue
        # `from package import module` imports the module itself.
        targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
        if module in MODULES and len(targets) < len(names) or not names:
            targets.append(module)
        edges += [(target, line) for target in targets if target in MODULES]
    return edges


GRAPH = {name: internal_edges(name) for name in MODULES}


def test_every_module_is_in_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_import_cycle():
    state, stack, cycles = {}, [], []

    def visit(name):
        state[name] = "open"
        stack.append(name)
        for target, _ in GRAPH[name]:
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[name] = "done"

    for name in MODULES:
        if name not in state:
            visit(name)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def loaded_with(target, importer):
    """`target` and the package `__init__` files Python runs to import it
    (not those of the importer's own packages, nor the top package's)."""
    parts = target.split(".")
    ancestors = [".".join(parts[:i]) for i in range(2, len(parts))]
    own = _package(importer)
    return [target] + [a for a in ancestors if a in MODULES and not own.startswith(a)]


def test_layers_import_only_downwards():
    # `from keras_recipes.diagnose.steps import x` also runs
    # `diagnose/__init__.py`: it counts as imported too.
    upward = [
        f"{name}:{line} ({LAYERS[layer_of(name)][0]}) imports {loaded} "
        f"({LAYERS[layer_of(loaded)][0]})"
        for name, edges in GRAPH.items()
        for target, line in edges
        for loaded in loaded_with(target, name)
        if layer_of(loaded) > layer_of(name)
    ]
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_the_core_never_imports_the_face():
    core = [n for n in MODULES if n.split(".")[1:2] and n.split(".")[1] in CORE]
    assert core
    wrong = [
        f"{name}:{line} imports {target}"
        for name in core
        for target, line in GRAPH[name]
        if target.split(".")[1:2] and target.split(".")[1] in FACE
    ]
    assert not wrong, "\n".join(wrong)


def _package(name):
    path = MODULES[name]
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def test_private_modules_and_names_stay_in_their_package():
    wrong = []
    for name in MODULES:
        for module, names, line in imports(name):
            if not module.startswith("keras_recipes"):
                continue
            for target in [module] + [f"{module}.{n}" for n in names]:
                parts = target.split(".")
                private = [p for p in parts if p.startswith("_") and p != "_internal"]
                if not private:
                    continue
                owner = ".".join(parts[: parts.index(private[0])])
                if owner != _package(name):
                    wrong.append(f"{name}:{line} imports {target}")
    assert not wrong, "private modules or names used across packages:\n" + "\n".join(
        wrong
    )


def test_no_module_is_over_400_lines():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _foreign_private_touches(name):
    """Private attributes of other objects (`x._y`, not `self._y` or
    `super()._y`), private modules of other libraries, and private methods of
    Keras/KerasTuner base classes overridden."""
    touches = []
    module_tree = tree(name)
    for node in ast.walk(module_tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = node.value
            ours = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            # `super()._x(...)`: a method we override calling its own base.
            ours = ours or (
                isinstance(owner, ast.Call)
                and isinstance(owner.func, ast.Name)
                and owner.func.id == "super"
            )
            if not ours:
                touches.append(f"{name}:{node.lineno} .{node.attr}")
        # getattr(x, "_y"), setattr(x, "_y", v), hasattr(x, "_y").
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _is_private(node.args[1].value)
        ):
            touches.append(f"{name}:{node.lineno} {node.func.id} {node.args[1].value}")
        # keras.src.something, reached as attributes.
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = f"{node.value.id}.{node.attr}"
            if dotted.startswith(FOREIGN_PRIVATE_MODULES):
                touches.append(f"{name}:{node.lineno} {dotted}")
    for module, names, line in imports(name):
        for imported in [module] + [f"{module}.{n}" for n in names]:
            if imported.startswith(FOREIGN_PRIVATE_MODULES):
                touches.append(f"{name}:{line} imports {imported}")
    imported = importlib.import_module(name)
    for node in ast.walk(module_tree):
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(imported, node.name, None)
        if not isinstance(cls, type):
            continue
        foreign = [
            base
            for base in cls.__mro__[1:]
            if base.__module__.split(".")[0] in ("keras", "keras_tuner")
        ]
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and _is_private(item.name):
                if any(item.name in vars(base) for base in foreign):
                    touches.append(f"{name}:{item.lineno} overrides {item.name}")
        # `self._x` where `_x` belongs to a Keras/KerasTuner base class (set
        # or defined there): theirs, even when reached through `self`.
        for item in ast.walk(node):
            if (
                isinstance(item, ast.Attribute)
                and isinstance(item.value, ast.Name)
                and item.value.id == "self"
                and _is_private(item.attr)
                and any(_base_has(base, item.attr) for base in foreign)
            ):
                touches.append(f"{name}:{item.lineno} self.{item.attr} (a base's)")
    return touches


@functools.cache
def _base_source(base):
    try:
        return inspect.getsource(base)
    except (OSError, TypeError):
        return ""


def _base_has(base, attribute):
    """Whether the Keras/KerasTuner class `base` defines or sets `attribute`."""
    if attribute in vars(base):
        return True
    return re.search(rf"self\.{re.escape(attribute)}\b", _base_source(base)) is not None


def _is_private(attribute):
    return attribute.startswith("_") and not attribute.startswith("__")


def in_fence(name):
    return name == FENCE or name.startswith(f"{FENCE}.")


def test_keras_and_kerastuner_internals_are_touched_in_the_fence_only():
    touches = [
        t
        for name in MODULES
        if not in_fence(name)
        for t in _foreign_private_touches(name)
    ]
    assert not touches, (
        f"private attributes touched outside {FENCE} (move them there, with a "
        "test in tests/test_keras_internals.py):\n" + "\n".join(touches)
    )


def test_the_fence_holds_what_it_says():
    # Each module of the fence does touch internals; if one stops, it (or
    # this file) is stale.
    fence = [name for name in MODULES if in_fence(name) and name != FENCE]
    assert fence
    for name in fence:
        assert _foreign_private_touches(name), name


def test_tensorflow_is_imported_only_inside_functions():
    wrong = []
    for name in MODULES:
        for node in tree(name).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                wrong += [
                    f"{name}:{node.lineno} imports {m}"
                    for m in modules
                    if m.split(".")[0] == "tensorflow"
                ]
    assert not wrong, "TensorFlow imported at module level:\n" + "\n".join(wrong)
