"""damos compile --target kubernetes: the ConfigMap and the DaemonSet of every
example validate (strict: no unknown field) against the schemas of
Kubernetes 1.37 and 1.34; the ConfigMap holds the source byte for byte as
PyYAML and kubectl (Go's YAML, via kubectl kustomize) read it; the
container's script, run by sh, applies, gets ready, and on SIGTERM stops
only its file's kdamond; option values are checked before any YAML."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from damos_lang import catalog
from damos_lang.cli import app
from damos_lang.pipeline import compile_path
from damos_lang.targets import kubernetes as K

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.damos"))
VERSIONS = ("1.37.0", "1.34.0")


def compile_(*args):
    return CliRunner().invoke(app, ["compile", "-t", "kubernetes", *map(str, args)])


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def validate(doc: dict) -> None:
    for v in VERSIONS:
        kubernetes_validate.validate(doc, v, strict=True)


def pid_args(example: Path) -> list[str]:
    r = compile_(example)
    if r.exit_code == 2 and "monitors a process and the file names none" in r.stderr:
        return ["--pid", "1"]
    return []


def test_the_examples_are_there():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_validates(example):
    pid = pid_args(example)
    r = compile_(example, *pid, "--stop-damon-stat")
    assert r.exit_code == 0, r.output
    config, ds = docs(r.stdout)
    assert config["kind"] == "ConfigMap" and ds["kind"] == "DaemonSet"
    validate(config)
    validate(ds)
    name = example.stem
    assert config["data"] == {f"{name}.damos": example.read_text()}
    pod = ds["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["securityContext"] == {"privileged": True}
    # hostPID only where the file's targets are processes (their pids are the node's)
    takes_pid = catalog.OPS[compile_path(str(example)).context.ops].takes_pid
    assert pod.get("hostPID", False) == takes_pid
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["sys"]["mountPath"] == "/sys"
    assert mounts["run"]["mountPath"] == "/run/damos-lang"
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["run"]["hostPath"] == {"path": "/run/damos-lang", "type": "DirectoryOrCreate"}
    assert vols["source"]["configMap"]["name"] == config["metadata"]["name"]
    assert mounts["source"]["subPath"] == f"{name}.damos"
    script = c["command"][2]
    assert f"damos apply --ensure --stop-damon-stat {' '.join(pid)} \"$f\"".replace("  ", " ") \
        in script
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1}}
    assert c["resources"] == {"requests": {"cpu": "10m", "memory": "64Mi"},
                              "limits": {"memory": "256Mi"}}


def test_the_schema_check_is_not_a_rubber_stamp():
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1")
    _, ds = docs(r.stdout)
    ds["spec"]["template"]["spec"]["hostPid"] = True            # a misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ds, VERSIONS[0], strict=True)


def test_a_new_source_is_a_new_rollout():
    """The ConfigMap is named by the source's hash and the pod template carries
    it, so an edit changes the template (a rolling update under
    maxUnavailable) and the old ConfigMap stays for 'kubectl rollout undo'."""
    a = CliRunner().invoke(app, ["compile", "-t", "kubernetes", str(ROOT / "examples/prcl.damos"),
                                 "--pid", "1"]).stdout
    assert a == compile_(ROOT / "examples/prcl.damos", "--pid", "1").stdout   # deterministic
    b = compile_(ROOT / "examples/ethp.damos", "--pid", "1", "--name", "prcl").stdout
    (ca, da), (cb, db) = docs(a), docs(b)
    assert ca["metadata"]["name"] != cb["metadata"]["name"]
    assert ca["metadata"]["name"].startswith("damos-prcl-")
    assert da["metadata"]["name"] == db["metadata"]["name"] == "damos-prcl"
    assert da["spec"]["template"] != db["spec"]["template"]


def test_kubectl_reads_what_pyyaml_reads(tmp_path):
    """Go's YAML (kubectl kustomize parses and re-emits without a cluster)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (kubernetes-validate checked the objects)")
    files = []
    for example in EXAMPLES:
        f = tmp_path / f"{example.stem}.yaml"
        f.write_text(compile_(example, *pid_args(example)).stdout)
        files.append(f.name)
    (tmp_path / "kustomization.yaml").write_text("resources:\n" + "".join(f"- {n}\n"
                                                                          for n in files))
    r = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    ours = [d for n in files for d in docs((tmp_path / n).read_text())]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(docs(r.stdout), key=key) == sorted(ours, key=key)


def test_o_dir_writes_the_objects_and_the_containerfile(tmp_path):
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", "-o", tmp_path / "k")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["Containerfile",
                                                                 "damos-prcl.yaml"]
    assert (tmp_path / "k/Containerfile").read_text() == K.CONTAINERFILE \
        == (ROOT / "examples/fleet/Containerfile").read_text()


def test_the_containerfile_builds_the_package_and_has_what_the_script_runs():
    lines = [x for x in K.CONTAINERFILE.splitlines() if x and not x.startswith("#")]
    froms = [x for x in lines if x.startswith("FROM ")]
    assert len(froms) == 2 and all("python:3.12-slim" in x for x in froms)
    assert any("pip wheel" in x and "/src" in x for x in lines)       # the Cython extension
    assert any("gcc" in x for x in lines)
    assert any("pip install" in x and "damos --version" in x for x in lines)


# -- the container's script --------------------------------------------------------

def kubelet_expand(text: str, env: dict) -> str:
    """What the kubelet does to a command: $(VAR) is the variable (unchanged when
    there is none), $$ is $."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and ")" in text[i:]:
            j = text.index(")", i)
            name = text[i + 2:j]
            out.append(env.get(name, text[i:j + 1]))
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def fake_damos(tmp_path, apply_rc: int, apply_sleep: float = 0) -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "damos").write_text(f"""#!/bin/sh
echo "$*" >> {log}
case $1 in
apply) sleep {apply_sleep}; exit {apply_rc} ;;
esac
exit 0
""")
    (bin_ / "damos").chmod(0o755)
    return bin_, log


def container_script(tmp_path, *args) -> str:
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", *args)
    cmd = docs(r.stdout)[1]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert cmd[:2] == ["/bin/sh", "-c"]
    return kubelet_expand(cmd[2], {}).replace(K.READY_FILE, str(tmp_path / "ready"))


def start(tmp_path, script: str, bin_: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}
    return subprocess.Popen(["/bin/sh", "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(pred, timeout=30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_the_script_applies_waits_and_stops_its_file_on_sigterm(tmp_path):
    bin_, log = fake_damos(tmp_path, apply_rc=4)
    p = start(tmp_path, container_script(tmp_path, "--stop-damon-stat"), bin_)
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists()), p.stderr
        calls = log.read_text().splitlines()
        release = os.uname().release
        assert calls == [f"check --kernel {release} /etc/damos-lang/prcl.damos",
                         "apply --ensure --stop-damon-stat --pid 1 /etc/damos-lang/prcl.damos"]
        assert p.poll() is None                        # it waits
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
        # the trap runs at once (not after a sleep): well inside a 30 s grace period
        assert time.monotonic() - t0 < 10
        assert log.read_text().splitlines()[-1] == "stop --file /etc/damos-lang/prcl.damos"
    finally:
        p.kill()


def test_a_sigterm_during_the_apply_stops_after_it(tmp_path):
    bin_, log = fake_damos(tmp_path, apply_rc=4, apply_sleep=1.5)
    p = start(tmp_path, container_script(tmp_path), bin_)
    try:
        assert wait_for(lambda: log.exists() and "apply" in log.read_text())
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
        calls = log.read_text().splitlines()
        assert calls[-2].startswith("apply --ensure") and calls[-1].startswith("stop --file")
        assert not (tmp_path / "ready").exists()
    finally:
        p.kill()


@pytest.mark.parametrize("rc", [1, 2])
def test_a_failed_apply_fails_the_container_unready(tmp_path, rc):
    """The pod is never ready, so a rolling update stops at the first node."""
    bin_, log = fake_damos(tmp_path, apply_rc=rc)
    p = start(tmp_path, container_script(tmp_path), bin_)
    assert p.wait(timeout=30) == rc
    assert not (tmp_path / "ready").exists()
    assert not any(c.startswith("stop") for c in log.read_text().splitlines())


@pytest.mark.parametrize("rc", [0, 3])
def test_unchanged_and_updated_are_ready_too(tmp_path, rc):
    bin_, log = fake_damos(tmp_path, apply_rc=rc)
    p = start(tmp_path, container_script(tmp_path), bin_)
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists())
    finally:
        p.kill()
        p.wait()


# -- options -------------------------------------------------------------------------

def test_options_reach_the_objects():
    r = compile_(ROOT / "examples/everything.damos", "--node-selector",
                 "damos-lang/track=canary,node.kubernetes.io/instance-type=m7i.large",
                 "--toleration", "dedicated=batch:NoSchedule,gpu:NoExecute,spot",
                 "--max-unavailable", "10%", "--image", "registry.example.com/damos-lang:0.1.0",
                 "--namespace", "damos", "--requests", "cpu=50m,memory=100Mi",
                 "--limits", "cpu=1,memory=1Gi", "--name", "all")
    assert r.exit_code == 0, r.output
    config, ds = docs(r.stdout)
    validate(config)
    validate(ds)
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "damos-lang/track": "canary",
                                   "node.kubernetes.io/instance-type": "m7i.large"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"},
        {"key": "gpu", "operator": "Exists", "effect": "NoExecute"},
        {"key": "spot", "operator": "Exists"}]
    assert "hostPID" not in pod                            # paddr: no process targets
    assert ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "10%"
    assert ds["metadata"] == {**ds["metadata"], "name": "damos-all", "namespace": "damos"}
    assert config["metadata"]["namespace"] == "damos"
    c = pod["containers"][0]
    assert c["image"] == "registry.example.com/damos-lang:0.1.0"
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "100Mi"},
                              "limits": {"cpu": "1", "memory": "1Gi"}}
    assert list(config["data"]) == ["all.damos"]


BAD = [
    (["--node-selector", "track"], "--node-selector 'track': write KEY=VALUE[,KEY=VALUE]"),
    (["--node-selector", "a b=c"], "--node-selector: 'a b' is no label key"),
    (["--node-selector", "k=-x"], "--node-selector: '-x' is no label value"),
    (["--toleration", "k=v:Never"], "--toleration 'k=v:Never': the effect is one of"),
    (["--toleration", "=v"], "--toleration '=v': write KEY[=VALUE][:EFFECT]"),
    (["--max-unavailable", "0"], "--max-unavailable '0': give a number of nodes"),
    (["--max-unavailable", "101%"], "--max-unavailable '101%': give a number of nodes"),
    (["--requests", "cpu=lots"], "--requests: cpu='lots' is no quantity"),
    (["--requests", "gpu=1"], "--requests: 'gpu' is not one of cpu, memory, ephemeral-storage"),
    (["--requests", "memory=0"], "--requests: memory='0' must be more than 0"),
    (["--requests", "cpu=0.0001"], "--requests: cpu='0.0001' is below 1m"),
    (["--limits", "memory=1500m"], "--limits: memory='1500m' is a fraction of a byte"),
    (["--requests", "memory=1Gi", "--limits", "memory=512Mi"],
     "memory: the request (1Gi) is above the limit (512Mi)"),
    (["--image", "Bad Image"], "--image 'Bad Image': give an image reference"),
    (["--namespace", "Kube_System"], "--namespace 'Kube_System': a namespace takes"),
    (["--name", "Prcl"], "--name 'Prcl': a Kubernetes name takes"),
    (["--name", "x" * 41], f"--name '{'x' * 41}': a Kubernetes name takes"),
    (["--ensure-every", "5min"], "--ensure-every applies to the systemd target, not kubernetes"),
]


@pytest.mark.parametrize("args,says", BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_bad_options_are_one_line_errors(args, says):
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", *args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("damos: error: " + says), r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""


label_name = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?", fullmatch=True)
label_key = st.tuples(st.sampled_from(["", "damos-lang/", "node.kubernetes.io/", "a.b-c/"]),
                      label_name).map("".join)
label_value = st.one_of(st.just(""), label_name)
quantity = st.tuples(st.integers(1, 4096), st.sampled_from(["", "m", "k", "M", "G", "Ki",
                                                            "Mi", "Gi"])).map(
    lambda t: f"{t[0]}{t[1]}")
toleration = st.one_of(
    st.just("*"),
    st.tuples(label_key, st.one_of(st.just(""), label_name.map(lambda v: "=" + v)),
              st.one_of(st.just(""), st.sampled_from(K.EFFECTS).map(lambda e: ":" + e))
              ).map("".join))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(selector=st.dictionaries(label_key, label_value, max_size=3),
       tols=st.lists(toleration, max_size=3),
       unavailable=st.one_of(st.integers(1, 5000).map(str),
                             st.integers(1, 100).map(lambda n: f"{n}%")),
       cpu=quantity, memory=quantity, name=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?",
                                                         fullmatch=True))
def test_any_good_option_values_validate(selector, tols, unavailable, cpu, memory, name):
    args = ["--max-unavailable", unavailable, "--requests", f"cpu={cpu},memory={memory}",
            "--limits", "", "--name", name]
    if selector:
        args += ["--node-selector", ",".join(f"{k}={v}" for k, v in selector.items())]
    if tols:
        args += ["--toleration", ",".join(tols)]
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", *args)
    if r.exit_code != 0:
        # the one refusal these values can meet: memory in thousandths of a byte
        assert f"memory={memory!r} is a fraction of a byte" in r.stderr, r.stderr
        return
    config, ds = docs(r.stdout)
    validate(config)
    validate(ds)
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", **selector}
    assert len(pod.get("tolerations", [])) == len(tols)
    got = ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"]
    assert str(got) == unavailable and isinstance(got, int) == (not unavailable.endswith("%"))
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": cpu, "memory": memory}}


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=20))
def test_any_bad_max_unavailable_is_a_one_line_error(text):
    if K.MAX_UNAVAILABLE.match(text.strip()) or "\x00" in text:
        return
    r = compile_(ROOT / "examples/prcl.damos", "--pid", "1", "--max-unavailable", text)
    assert r.exit_code == 2 and r.stderr.startswith("damos: error: --max-unavailable ")
    assert r.stderr.count("\n") == 1


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_the_yaml_of_any_text_reads_back_as_it(text):
    """The ConfigMap's data: a literal block where it can be one, else quoted."""
    doc = {"data": {"f.damos": text}, "list": [text, {"k": text}]}
    assert yaml.safe_load(K.to_yaml([doc])) == doc


def test_source_text_is_a_readable_literal_block():
    r = compile_(ROOT / "examples/reclaim.damos", "--pid", "1")
    assert "  reclaim.damos: |2\n    # Proactive reclamation" in r.stdout
    assert "\n    monitor {\n        ops vaddr\n" in r.stdout


def test_python_runs_it_from_the_command_line():
    """-m damos_lang, as the image's damos does."""
    r = subprocess.run([sys.executable, "-m", "damos_lang", "compile", "-t", "kubernetes",
                        "examples/prcl.damos", "--pid", "1"], cwd=ROOT, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and r.stdout.startswith("# Generated by damos-lang")


TRICKY = ["a\n", "a", "a\n\n\n", "\n a\n", "  indented\nx\n", "\ttab\n\t\n", "x  \ny \n",
          "# c\n---\n...\n", "é ü 😀 \u2028 x\n", "key: value\n- item\n", "\x07bell\n", "",
          "yes", "1.0", "null", "~", "a\r\nb\n", "\ufeffbom\n", "x\n\n  \n"]


def test_kubectl_reads_tricky_texts_as_pyyaml_does(tmp_path):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (PyYAML read them back above)")
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t"},
           "data": {f"k{i}": t for i, t in enumerate(TRICKY)}}
    (tmp_path / "t.yaml").write_text(K.to_yaml([doc]))
    (tmp_path / "kustomization.yaml").write_text("resources:\n- t.yaml\n")
    r = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["data"] == doc["data"] == \
        yaml.safe_load((tmp_path / "t.yaml").read_text())["data"]
