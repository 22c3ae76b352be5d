"""Hostile names: whatever a model calls its tensors, generated Java compiles and does its job,
and nothing in a name becomes code."""

from __future__ import annotations

import re
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.commands.parity import parity
from exporter.core import manifest
from exporter.core.manifest import Manifest
from exporter.core.model import Artifact, Signature, TensorInfo
from exporter.java import binding, javaenv, planning, rendering, writing
from tests import models

# Names built from pieces that break naive code generators, and any other character.
NAMES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                '"',
                "\\",
                "*/",
                "/*",
                "//",
                "@",
                ":",
                "-",
                ".",
                " ",
                "\n",
                "\r",
                "\t",
                "{",
                "}",
                "\\u000a",
                "\\u0022",
                "\\\\u005c",
                "class",
                "int",
                "0",
                "\x00",
                "\x7f",
                # members of the generated classes and of Object
                "session",
                "graph",
                "bundle",
                "close",
                "load",
                "loadResource",
                "requireRuntime",
                "minorVersion",
                "toString",
                "hashCode",
                "getClass",
                "wait",
                "notify",
                "finalize",
                # names longer than a file name may be
                "n" * 300,
                "L" * 10_000,
            ]
        ),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=10,
).map("".join)
MODELS_PER_RUN = 8
TRIED: list[str] = []


def _tensor(key: str, dtype: str, rank: int) -> TensorInfo:
    # a graph name carries no ':' (the manifest's rule); anything else goes; rank -1: unknown
    shape = None if rank < 0 else (-1,) * rank
    return TensorInfo(key, key.replace(":", "") or "n", 1, dtype, shape)


@pytest.mark.jvm
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_java_compiles_for_any_names(data, tmp_path_factory):
    """Draws MODELS_PER_RUN models of hostile names, renders both templates for each and
    compiles all of them with one javac run."""
    out = tmp_path_factory.mktemp("hostile-java")
    sources = []
    for n in range(MODELS_PER_RUN):
        keys = data.draw(st.lists(NAMES, min_size=2, max_size=5, unique=True))
        dtypes = data.draw(
            st.lists(
                st.sampled_from(["float32", "int64", "string", "bool"]),
                min_size=len(keys),
                max_size=len(keys),
            )
        )
        ranks = data.draw(st.lists(st.integers(-1, 3), min_size=len(keys), max_size=len(keys)))
        tensors = [_tensor(k, d, r) for k, d, r in zip(keys, dtypes, ranks)]
        half = max(1, len(tensors) // 2)
        sig_key = data.draw(NAMES)
        sig = Signature(sig_key, data.draw(NAMES), tuple(tensors[:half]), tuple(tensors[half:]))
        model_name = data.draw(NAMES) or "m"
        TRIED.extend([*keys, sig_key, model_name])
        files = [{"path": f"saved_model/{data.draw(NAMES)}", "sha256": "0" * 64, "size": 1}]
        arts = [
            Artifact(
                "savedmodel", "saved_model", [sig], [data.draw(NAMES)], ["serve", sig_key], files, 1
            ),
            Artifact("frozen", "frozen.pb", [sig], ["Identity"], [], [], 1),
        ]
        m = Manifest(model_name, "savedmodel", model_name, data.draw(NAMES), None, arts)
        manifest.validate(m.to_json())
        strings = data.draw(st.sampled_from(binding.STRING_TYPES))
        classes = planning.plan(m, f"hostile.m{n}", strings=strings)
        sources += writing.write_sources(classes, m, "f" * 64, out)
    javaenv.compile_sources(sources, out / "classes")
    compiled = list((out / "classes").rglob("*.class"))
    assert len({p.parent for p in compiled}) == MODELS_PER_RUN


@pytest.fixture(scope="module")
def hostile_export(built, tmp_path_factory):
    from exporter.commands.export import export

    src = models.save_module(models.Hostile(), built / "hostile")
    out = tmp_path_factory.mktemp("hostile") / "export"
    export(src, out, name='evil"name */ \\u000a')
    return out


@pytest.mark.jvm
def test_hostile_names_end_to_end(hostile_export, tmp_path):
    report = parity(hostile_export)
    assert report.ok, "\n".join(report.lines())
    data, sha = manifest.read(hostile_export)
    keys = {t.key for t in data.artifact("savedmodel").signatures[0].outputs}
    assert keys == set(models.HOSTILE_OUTPUTS)
    (saved, frozen) = planning.plan(data)
    getters = {t.info.key: t.getter for t in saved.signatures[0].outputs}
    assert getters["a-b"] == "getAB" and getters["a_b"] == "getAB2"  # collide, both kept
    assert getters["2nd output"] == "get2ndOutput"
    assert [t.ident for t in saved.signatures[0].inputs] == ["default_"]
    text = rendering.render(saved, data, sha)
    for cls in (saved, frozen):
        text = rendering.render(cls, data, sha)
        # no comment is closed early, and no unicode escape is live anywhere
        for comment in re.findall(r"/\*\*.*?\*/", text, re.S):
            assert "*/" not in comment[3:-2]
        assert not re.search(r"(?<!\\)(\\\\)*\\u000a", text)
        # outside comments and string literals, the injection attempt is nowhere
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        code = re.sub(r"//[^\n]*", "", re.sub(r'"(?:\\.|[^"\\])*"', '""', code))
        assert "getRuntime().exec" not in code and "pwned" not in code
    proc = subprocess.run(["ls", "/tmp/tf2java-pwned"], capture_output=True)
    assert proc.returncode != 0
