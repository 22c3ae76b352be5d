"""Rendering: the Jinja2 templates, what each declares in its header (`Contract`), and the Java
source of each planned class and of the model's interface."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from exporter import GENERATOR, __version__, targets
from exporter.core.manifest import Manifest
from exporter.java.binding import (
    BYTES_ND,
    JAVA_TYPES,
    NIO,
    SUPPORT,
    SUPPORT_TEMPLATE,
    JavaClass,
    JavaInterface,
    interface_of,
)
from exporter.java.javaenv import cache_dir
from exporter.java.naming import java_string, javadoc


@dataclass(frozen=True)
class Contract:
    """What a template declares in its `{#- tf2java template ... -#}` header, with the
    templates it imports: the members it defines in a generated class (methods, fields,
    helpers), which a signature's method never takes as its name, and the imports the class
    needs besides its tensor and NdArray types (tf2java adds those, sorts, and passes the
    whole list as `imports`). Templates refer to their fields as `this.x`, and their locals
    end in `$`, so that a parameter of any name shadows nothing."""

    members: frozenset[str]
    imports: frozenset[str]


_HEADER = re.compile(r"\{#-?\s*tf2java template\s*\n(.*?)-?#\}", re.S)
_FIELD = re.compile(r"^(\w+):((?:.*\n?)(?:[ \t]+.*\n?)*)", re.M)
_USES = re.compile(r"\{%-?\s*(?:import|include|extends|from)\s+[\"']([^\"']+)[\"']")


def contract(env: jinja2.Environment, name: str) -> Contract:
    """The contract of template `name` and of every template it imports."""
    members: set[str] = set()
    imports: set[str] = set()
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source, _, _ = env.loader.get_source(env, current)
        header = _HEADER.search(source)
        fields = dict(_FIELD.findall(header.group(1))) if header else {}
        members.update(fields.get("members", "").split())
        imports.update(fields.get("imports", "").split())
        todo.extend(_USES.findall(source))
    return Contract(frozenset(members), frozenset(imports))


# java.lang types the generated code names (it imports no java.lang type)
JAVA_LANG = frozenset(
    "AutoCloseable Boolean Byte Class Double Exception Float IllegalArgumentException "
    "IllegalStateException Integer Long Math Object Override RuntimeException Short String "
    "System Throwable Void".split()
)


def type_names(env: jinja2.Environment, classes: list[JavaClass]) -> set[str]:
    """Simple names of the types the generated files use: the model's interface cannot take
    one (a model called `graph` gets the interface GraphModel, not Graph, which the frozen
    class imports from org.tensorflow)."""
    templates = [c.template for c in classes] + ["interface.java.j2", SUPPORT_TEMPLATE]
    names = {i for t in templates for i in contract(env, t).imports}
    names |= {f"org.tensorflow.types.{j.tensor}" for j in JAVA_TYPES.values()}
    names |= {f"org.tensorflow.ndarray.{j.nd_array.split('<')[0]}" for j in JAVA_TYPES.values()}
    names |= {f"java.nio.{n}" for n in NIO.values()}
    return {n.rsplit(".", 1)[-1] for n in names} | JAVA_LANG | {SUPPORT}


def render_interface(
    iface: JavaInterface, manifest: Manifest, manifest_sha256: str, templates: Path | None = None
) -> str:
    """The Java source of the model's interface."""
    env = environment(templates)
    declared = contract(env, iface.template)
    return _render(
        env,
        iface.template,
        manifest,
        manifest_sha256,
        iface=iface,
        imports=sorted(declared.imports | _api_imports(iface.signatures)),
    )


def sources(
    classes: list[JavaClass],
    manifest: Manifest,
    manifest_sha256: str,
    templates: Path | None = None,
) -> dict[str, str]:
    """Relative path -> Java source of every file the classes need: each class, the model's
    interface and the package's support class (the same for every model of a package)."""
    files = {
        c.relative_path.as_posix(): render(c, manifest, manifest_sha256, templates) for c in classes
    }
    iface = interface_of(classes)
    files[iface.relative_path.as_posix()] = render_interface(
        iface, manifest, manifest_sha256, templates
    )
    env = environment(templates)
    files[iface.support_path.as_posix()] = _render(
        env,
        SUPPORT_TEMPLATE,
        manifest,
        manifest_sha256,
        package=iface.package,
        imports=sorted(contract(env, SUPPORT_TEMPLATE).imports),
    )
    return files


@cache
def generator_digest() -> str:
    """sha256 over the generator itself: every template and every exporter module, whose
    code decides what a manifest renders into. With a manifest's sha256 it keys the compiled
    classes, so that a run whose classes are compiled already renders nothing."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted([*templates_dir().rglob("*.j2"), *package.rglob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def templates_dir() -> Path:
    """The shipped templates: inside the installed package (a wheel maps the top-level
    templates/ folder to exporter/templates), or templates/ beside it in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "templates", package.parent / "templates"):
        if all((candidate / t.template).is_file() for t in targets.java_targets()):
            return candidate
    raise FileNotFoundError("tf2java's Java templates are missing from the installation")


@cache
def environment(override: Path | None = None) -> jinja2.Environment:
    """Templates in `override` (a user's folder) win over the shipped ones of the same name.
    Each template is compiled once per process, and its Python code is kept in tf2java's cache
    (keyed by the template's own text), so that a run renders without compiling templates."""
    dirs = ([override] if override else []) + [templates_dir()]
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in dirs])
    env = jinja2.Environment(
        loader=loader,
        bytecode_cache=_bytecode_cache(),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["java_string"] = java_string
    env.filters["javadoc"] = javadoc
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    folder = cache_dir() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: templates compile on each run
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def render(
    cls: JavaClass, manifest: Manifest, manifest_sha256: str, templates: Path | None = None
) -> str:
    """The Java source of `cls`, rendered from its template (one of `templates`' if it has one of
    that name) with the values its contract promises."""
    env = environment(templates)
    files = [f["path"] for f in cls.artifact.files]
    prefix = cls.artifact.path + "/"
    return _render(
        env,
        cls.template,
        manifest,
        manifest_sha256,
        cls=cls,
        artifact_files=[p[len(prefix) :] for p in files if p.startswith(prefix)],
        nd_copies=nd_copies(cls),
        imports=imports(cls, contract(env, cls.template)),
    )


def _render(
    env: jinja2.Environment, template: str, manifest: Manifest, manifest_sha256: str, **values
) -> str:
    """Renders `template` with what every template receives, and `values`."""
    return env.get_template(template).render(
        manifest=manifest,
        manifest_sha256=manifest_sha256,
        generator=GENERATOR,
        version=__version__,
        template_name=template,
        **values,
    )


def imports(cls: JavaClass, declared: Contract) -> list[str]:
    """The class's imports, sorted: what its template declares, its tensor types and the
    NdArray types of its tensors."""
    tensors = [t for s in cls.signatures for o in s.overloads for t in o.inputs]
    tensors += [t for s in cls.signatures for t in s.outputs]
    return sorted(
        declared.imports
        | _api_imports(cls.signatures)
        | {f"org.tensorflow.types.{t.tensor_type}" for t in tensors}
        | {f"org.tensorflow.ndarray.{f['nd']}" for f in cls.flat_readers}
    )


def _api_imports(signatures) -> set[str]:
    """The types the signatures' methods and results name, besides tensors: NdArray
    parameters and outputs, what outputs' views return, java.nio buffers."""
    params = [t for s in signatures for o in s.overloads for t in o.inputs]
    outputs = [t for s in signatures for t in s.outputs]
    nd = {t.java_type.split("<")[0] for t in params + outputs if t.nd}
    views = {i for t in outputs for i in t.view_imports()}
    return (
        {f"org.tensorflow.ndarray.{n}" for n in nd}
        | views
        | {f"java.nio.{t.java_type}" for t in params if t.form == "nio"}
    )


def nd_copies(cls: JavaClass) -> list[dict[str, str]]:
    """The ndCopyOf helpers a class needs: one per output tensor type it returns as an
    NdArray (copied out of the tensor, which is closed after the call)."""
    helpers = {}
    for sig in cls.signatures:
        for t in sig.outputs:
            if t.nd:
                name = "ndCopyOfBytes" if t.bytes_strings else "ndCopyOf"
                nd_type, factory = (
                    BYTES_ND
                    if t.bytes_strings
                    else (t.java_type, JAVA_TYPES[t.info.dtype].nd_factory)
                )
                source = "tensor.asBytes()" if t.bytes_strings else "tensor"
                helpers[(name, t.tensor_type)] = {
                    "name": name,
                    "tensor": t.tensor_type,
                    "nd_type": nd_type,
                    "factory": factory,
                    "source": source,
                }
    return [helpers[k] for k in sorted(helpers)]
