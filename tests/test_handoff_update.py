"""A hand-off a Java team keeps for years: the module is installed and a separate service
builds against it; a retrained model whose API changed is handed off into the same module,
which holds the team's `.git`, a test of their own and an edited pom.xml. Nothing of theirs is
lost, the CHANGELOG and the version say what changed, and the service's build names what it
must change."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from exporter.cli import main
from exporter.errors import EXIT_USAGE
from exporter.java.module_files import STAMP
from tests import models

pytestmark = [pytest.mark.jvm, pytest.mark.slow]

TEAM_TEST = textwrap.dedent("""
    package org.acme.scorer;

    public class TeamTest {
      @org.junit.Test
      public void ours() {}
    }
""")
SERVICE = textwrap.dedent("""
    import org.acme.scorer.Scorer;
    import org.acme.scorer.ScorerFrozen;

    public class Service {
      public static void main(String[] args) throws Exception {
        try (ScorerFrozen model = ScorerFrozen.load()) {
          System.out.println(model.servingDefault(new float[][] {{1, 2, 3, 4}}).getScore()[0][0]);
        } catch (Scorer.LoadException e) {
          System.out.println("LoadException: " + e.getMessage());
        }
      }
    }
""")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def run(command, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)


def gradle(cwd: Path, *tasks: str) -> subprocess.CompletedProcess:
    return run(["gradle", "--no-daemon", "-q", *tasks], cwd)


def _service(root: Path, repo: Path, version: str, native: str | None) -> Path:
    """A service's Gradle build depending on the module at `version` from `repo`, with the
    TensorFlow Java native library of the classifier `native` (None: none)."""
    (root / "src/main/java").mkdir(parents=True, exist_ok=True)
    (root / "src/main/java/Service.java").write_text(SERVICE)
    (root / "settings.gradle").write_text("rootProject.name = 'service'\n")
    native_line = (
        f"runtimeOnly 'org.tensorflow:tensorflow-core-native:1.1.0:{native}'" if native else ""
    )
    (root / "build.gradle").write_text(
        textwrap.dedent(f"""
            apply plugin: 'java'
            repositories {{
                maven {{ url '{repo.as_uri()}' }}
                mavenCentral()
            }}
            dependencies {{
                implementation 'org.acme:scorer:{version}'
                {native_line}
            }}
            task printClasspath {{
                doLast {{ println sourceSets.main.runtimeClasspath.asPath }}
            }}
        """)
    )
    return root


def test_a_new_model_into_the_teams_module(tmp_path):
    exports = {}
    for name, classes, score in (("v1", 3, True), ("v2", 4, False)):
        src = models.save_scorer(tmp_path / f"{name}.keras", classes, score)
        exports[name] = tmp_path / f"export_{name}"
        result = cli("export", src, exports[name], "--name", "scorer", "--format", "frozen")
        assert result.exit_code == 0, result.output
    module, repo = tmp_path / "module", tmp_path / "m2"
    first = cli("handoff", exports["v1"], module, "--group", "org.acme")
    assert first.exit_code == 0, first.output
    assert "(version 1.0.0)" in first.output
    install = gradle(module, "publishToMavenLocal", f"-Dmaven.repo.local={repo}")
    assert install.returncode == 0, install.stderr[-3000:]
    assert (repo / "org/acme/scorer/1.0.0/scorer-1.0.0.jar").is_file()

    # the service builds against 1.0.0 and runs with the Linux native it names
    service = _service(tmp_path / "service", repo, "1.0.0", "linux-x86_64")
    built = gradle(service, "compileJava", "printClasspath")
    assert built.returncode == 0, built.stderr[-3000:]
    classpath = f"{service / 'build/classes/java/main'}:{built.stdout.strip().splitlines()[-1]}"
    assert "tensorflow-core-native-1.1.0-linux-x86_64.jar" in classpath
    ran = run(["java", "-cp", classpath, "Service"], service)
    assert ran.returncode == 0 and "LoadException" not in ran.stdout, ran.stdout + ran.stderr
    float(ran.stdout.strip().splitlines()[-1])  # the score
    # the module does not force its Linux native on the service: without one, a LoadException
    # names the classifier to add
    bare = _service(tmp_path / "bare", repo, "1.0.0", None)
    built = gradle(bare, "compileJava", "printClasspath")
    assert built.returncode == 0, built.stderr[-3000:]
    classpath = f"{bare / 'build/classes/java/main'}:{built.stdout.strip().splitlines()[-1]}"
    assert "tensorflow-core-native-1.1.0-linux" not in classpath
    ran = run(["java", "-cp", classpath, "Service"], bare)
    assert "LoadException: " in ran.stdout and "classifier linux-x86_64" in ran.stdout, ran.stdout

    # the team's work: a repository, a test of their own, an edit to pom.xml
    assert run(["git", "init", "-q"], module).returncode == 0
    team_test = module / "src/test/java/org/acme/scorer/TeamTest.java"
    team_test.write_text(TEAM_TEST)
    pom = (module / "pom.xml").read_text()
    (module / "pom.xml").write_text(pom.replace("</project>", "  <!-- ours -->\n</project>"))
    git_config = (module / ".git/config").read_text()

    same_version = cli(
        "handoff", exports["v2"], module, "--group", "org.acme", "--force", "--version", "1.0.0"
    )
    assert same_version.exit_code == EXIT_USAGE
    assert "a changed model needs a new version: 2.0.0" in same_version.output
    assert "Removed: `ScorerFrozen.servingDefault(...)` result's `getScore()`" in (
        same_version.output
    )
    second = cli("handoff", exports["v2"], module, "--group", "org.acme", "--force")
    assert second.exit_code == 0, second.output
    assert "(version 2.0.0)" in second.output
    assert "pom.xml: edited since tf2java wrote it, so it is kept" in second.output

    assert team_test.read_text() == TEAM_TEST
    assert (module / ".git/config").read_text() == git_config
    assert "<!-- ours -->" in (module / "pom.xml").read_text()
    assert "<version>2.0.0</version>" in (module / "pom.xml.tf2java-new").read_text()
    assert "version = '2.0.0'" in (module / "build.gradle").read_text()
    changelog = (module / "CHANGELOG.md").read_text()
    assert changelog.index("## 2.0.0") < changelog.index("## 1.0.0")
    assert "Major: callers must change their code." in changelog
    assert "- Removed: `ScorerFrozen.servingDefault(...)` result's `getScore()`" in changelog
    assert (
        "- Changed: `ScorerFrozen.servingDefault(...)` result's `getProbs()`: "
        "float[][]: float32 (?, 4) (was float[][]: float32 (?, 3))"
    ) in changelog
    assert "## Changes in 2.0.0 (since 1.0.0)" in (module / "README.md").read_text()
    assert not list((module / "src").rglob("out_score.npy"))  # the removed golden file went
    assert (module / STAMP).is_file()

    # the module builds and tests itself with the team's test beside, and installs as 2.0.0
    tested = gradle(module, "test", "publishToMavenLocal", f"-Dmaven.repo.local={repo}")
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert (module / "build/test-results/test/TEST-org.acme.scorer.TeamTest.xml").is_file()
    # the service moving to 2.0.0 fails to build, naming what went
    service_build = (service / "build.gradle").read_text()
    (service / "build.gradle").write_text(service_build.replace("scorer:1.0.0", "scorer:2.0.0"))
    broken = gradle(service, "compileJava")
    assert broken.returncode != 0
    assert "getScore()" in broken.stderr and "cannot find symbol" in broken.stderr

    # a version names one model: 1.0.0 cannot come back for this one
    reused = cli(
        "handoff",
        exports["v2"],
        module,
        "--group",
        "org.acme",
        "--force",
        "--module-version",
        "1.0.0",
    )
    assert reused.exit_code == EXIT_USAGE
    assert "--module-version 1.0.0: handed off before for another model" in reused.output
    again = cli("handoff", exports["v2"], module, "--group", "org.acme", "--force")
    assert again.exit_code == 0 and "(version 2.0.0)" in again.output  # nothing changed
    assert (module / "CHANGELOG.md").read_text() == changelog  # no second 2.0.0 section
