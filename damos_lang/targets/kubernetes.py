"""A ConfigMap holding the file and a DaemonSet that applies it on every selected node (``kubectl apply -f -``).

The pod's one container is ``/bin/sh -c`` with a short script: check the
file against the node's kernel, ``damos apply --ensure`` it, mark itself
ready, then wait; on SIGTERM (a rolling update, a node leaving the selector,
the DaemonSet deleted) a ``trap`` runs ``damos stop --file``, which stops
only this file's kdamond and starts DAMON_STAT again if the apply stopped
it.  The trap is set before the apply: a shell that is PID 1 of its pid
namespace never sees a SIGTERM it has no handler for, so without it the pod
would wait out its grace period and be killed with its kdamond still
running.  The ownership records live in the host's ``/run/damos-lang``, so
a restarted container finds its kdamond (``unchanged``) instead of starting
a second one.

The ConfigMap's name carries a hash of the source: a new source is a new
pod template, so it rolls out under ``maxUnavailable`` (and ``kubectl
rollout undo`` finds the old ConfigMap still there) instead of reaching
every node at once.  ``-o DIR`` also writes the Containerfile of the image
(the same as examples/fleet/Containerfile); docs/fleet.md.
"""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from .. import __version__
from ..catalog import SYSFS
from ..errors import DamosError
from . import TargetOption
from ._fleet import (DEPLOY_DIR, NAME_OPTION, STOP_DAMON_STAT_OPTION, derived_name,
                     is_pid_target, needs_pid, stem)

NAME = "kubernetes"
INTERFACE = SYSFS

DEFAULT_IMAGE = f"damos-lang:{__version__}"
OPTIONS = (
    NAME_OPTION,
    STOP_DAMON_STAT_OPTION,
    TargetOption("image", "--image", "IMAGE",
                 f"kubernetes: the container image (default: {DEFAULT_IMAGE}, built from "
                 "the Containerfile)"),
    TargetOption("namespace", "--namespace", "NS", "kubernetes: the namespace (default: "
                 "kube-system)"),
    TargetOption("node_selector", "--node-selector", "K=V[,K=V]",
                 "kubernetes: only nodes with these labels (e.g. damos-lang/track=canary)"),
    TargetOption("toleration", "--toleration", "KEY[=VALUE][:EFFECT][,...]",
                 "kubernetes: tolerate these taints ('*': every taint)"),
    TargetOption("max_unavailable", "--max-unavailable", "N|N%",
                 "kubernetes: nodes updated at once in a rollout (default: 1)"),
    TargetOption("requests", "--requests", "cpu=Q,memory=Q",
                 "kubernetes: the container's resource requests (default: cpu=10m,memory=64Mi)"),
    TargetOption("limits", "--limits", "cpu=Q,memory=Q",
                 "kubernetes: the container's resource limits (default: memory=256Mi; '' for "
                 "none)"),
)

READY_FILE = "/tmp/damos-lang-applied"
LABEL = "app.kubernetes.io/name"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
NAME_LIMIT = 40   # damos-NAME-HASH10 stays a 63-character label value
LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY = re.compile(rf"(({DNS_SUBDOMAIN})/)?{LABEL_NAME}\Z")
LABEL_VALUE = re.compile(rf"({LABEL_NAME})?\Z")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
QUANTITY = re.compile(r"(?P<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)"
                      r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|)\Z")
SUFFIX = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
          "Pi": 2**50, "Ei": 2**60}
RESOURCES = ("cpu", "memory", "ephemeral-storage")
IMAGE = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*"
                   r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?\Z")
MAX_UNAVAILABLE = re.compile(r"([1-9][0-9]{0,5}|([1-9][0-9]?|100)%)\Z")


# -- options ----------------------------------------------------------------------

def _name(unit, options) -> str:
    name = derived_name(unit, options, "a-z0-9-", lower=True, limit=NAME_LIMIT)
    if not DNS_LABEL.match(name) or len(name) > NAME_LIMIT:
        raise DamosError(f"--name {name!r}: a Kubernetes name takes lower-case letters, digits "
                         f"and '-' (at most {NAME_LIMIT}, a letter or digit at each end)")
    return name


def _pairs(flag: str, text: str) -> list[tuple[str, str]]:
    out = []
    for item in text.split(","):
        key, eq, value = item.strip().partition("=")
        if not eq:
            raise DamosError(f"{flag} {text!r}: write KEY=VALUE[,KEY=VALUE]")
        out.append((key, value))
    return out


def node_selector(text: str | None) -> dict:
    sel = {"kubernetes.io/os": "linux"}
    for key, value in _pairs("--node-selector", text) if text else ():
        if not LABEL_KEY.match(key) or len(key.split("/")[0]) > 253:
            raise DamosError(f"--node-selector: {key!r} is no label key ([PREFIX/]NAME, NAME "
                             "at most 63 letters, digits and '-_.')")
        if not LABEL_VALUE.match(value):
            raise DamosError(f"--node-selector: {value!r} is no label value (at most 63 "
                             "letters, digits and '-_.', a letter or digit at each end)")
        sel[key] = value
    return sel


def tolerations(text: str | None) -> list[dict]:
    out = []
    for item in (text.split(",") if text else ()):
        item = item.strip()
        if item == "*":
            out.append({"operator": "Exists"})
            continue
        rest, colon, effect = item.rpartition(":") if ":" in item else (item, "", "")
        key, eq, value = rest.partition("=")
        if colon and effect not in EFFECTS:
            raise DamosError(f"--toleration {item!r}: the effect is one of "
                             f"{', '.join(EFFECTS)}")
        if not LABEL_KEY.match(key):
            raise DamosError(f"--toleration {item!r}: write KEY[=VALUE][:EFFECT] with a "
                             "label key, or '*'")
        if eq and not LABEL_VALUE.match(value):
            raise DamosError(f"--toleration {item!r}: {value!r} is no label value")
        t = {"key": key, "operator": "Equal" if eq else "Exists"}
        if eq:
            t["value"] = value
        if effect:
            t["effect"] = effect
        out.append(t)
    return out


def quantity(flag: str, resource: str, text: str) -> Decimal:
    m = QUANTITY.match(text)
    if not m:
        raise DamosError(f"{flag}: {resource}={text!r} is no quantity (e.g. 100m, 0.5, 64Mi, 1G)")
    value = Decimal(m.group("num")) * SUFFIX[m.group("suffix")]
    if value <= 0:
        raise DamosError(f"{flag}: {resource}={text!r} must be more than 0")
    if resource == "cpu" and value < Decimal("0.001"):
        raise DamosError(f"{flag}: cpu={text!r} is below 1m, the smallest the kubelet takes")
    if resource != "cpu" and value != value.to_integral_value():
        raise DamosError(f"{flag}: {resource}={text!r} is a fraction of a byte")
    return value


def resources(flag: str, text: str) -> tuple[dict, dict]:
    """({resource: quantity text}, {resource: value}) of ``cpu=10m,memory=64Mi``."""
    texts, values = {}, {}
    for key, value in _pairs(flag, text) if text.strip() else ():
        if key not in RESOURCES:
            raise DamosError(f"{flag}: {key!r} is not one of {', '.join(RESOURCES)}")
        if key in texts:
            raise DamosError(f"{flag}: {key} is given twice")
        values[key] = quantity(flag, key, value)
        texts[key] = value
    return texts, values


def max_unavailable(text: str):
    if not MAX_UNAVAILABLE.match(text.strip()):
        raise DamosError(f"--max-unavailable {text!r}: give a number of nodes (1 or more) or a "
                         "percentage (1% to 100%)")
    text = text.strip()
    return text if text.endswith("%") else int(text)


# -- the objects ----------------------------------------------------------------------

def script(path: str, apply_args: list[str]) -> str:
    """The container's shell script.  Kubernetes reads $(NAME) in a command as a
    variable of the container and $$ as $: the kernel release is $$(uname -r)."""
    args = " ".join(apply_args + ['"$f"'])
    return (f"f={path}\n"
            # before the apply: a SIGTERM during it runs the stop after it
            "trap 'damos stop --file \"$f\"; exit $?' TERM INT\n"
            "damos check --kernel \"$$(uname -r)\" \"$f\" || exit\n"
            f"damos apply --ensure {args}\n"
            "rc=$?\n"
            "case $rc in 0|3|4) ;; *) exit \"$rc\" ;; esac\n"
            f"touch {READY_FILE}\n"
            # wait for a signal: a trap runs while 'wait' waits, not while sleep sleeps
            "sleep infinity &\n"
            "wait $!\n")


def objects(unit, options) -> tuple[str, list[dict]]:
    """(name, [ConfigMap, DaemonSet]) for the unit."""
    needs_pid(unit)
    name = _name(unit, options)
    namespace = options.namespace
    if not DNS_LABEL.match(namespace):
        raise DamosError(f"--namespace {namespace!r}: a namespace takes lower-case letters, "
                         "digits and '-' (at most 63)")
    image = options.image or DEFAULT_IMAGE
    if not IMAGE.match(image) or len(image) > 255:
        raise DamosError(f"--image {image!r}: give an image reference such as "
                         "registry.example.com/damos-lang:0.1.0")
    requests, req = resources("--requests", options.requests)
    limits, lim = resources("--limits", options.limits)
    for k in req.keys() & lim.keys():
        if req[k] > lim[k]:
            raise DamosError(f"{k}: the request ({requests[k]}) is above the limit ({limits[k]})")
    selector = node_selector(options.node_selector)
    tols = tolerations(options.toleration)
    unavailable = max_unavailable(options.max_unavailable)

    text = unit.source_text
    digest = hashlib.sha256(text.encode()).hexdigest()
    app = f"damos-{name}"
    key = f"{name}{stem(unit)[1]}"
    path = f"{DEPLOY_DIR}/{key}"
    labels = {LABEL: app, "app.kubernetes.io/managed-by": "damos-lang"}
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": f"{app}-{digest[:10]}", "namespace": namespace,
                           "labels": labels},
              "data": {key: text}}
    apply_args = (["--stop-damon-stat"] if options.stop_damon_stat else []) + \
        (["--pid", str(options.pid)] if options.pid is not None else [])
    container = {
        "name": "damos",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script(path, apply_args)],
        "securityContext": {"privileged": True},
        "readinessProbe": {"exec": {"command": ["test", "-e", READY_FILE]},
                           "periodSeconds": 5},
        "volumeMounts": [
            # subPath: a plain file whose real path stays the same in every pod,
            # which is how apply --ensure and stop --file know their kdamond
            {"name": "source", "mountPath": path, "subPath": key, "readOnly": True},
            {"name": "sys", "mountPath": "/sys"},
            {"name": "run", "mountPath": "/run/damos-lang"},
        ],
    }
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    if res:
        container["resources"] = res
    pod = {}
    if is_pid_target(unit):
        pod["hostPID"] = True   # the file's pids are the node's, not the pod's
    pod.update({
        "nodeSelector": selector,
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": [
            {"name": "source", "configMap": {"name": config["metadata"]["name"]}},
            {"name": "sys", "hostPath": {"path": "/sys", "type": "Directory"}},
            {"name": "run", "hostPath": {"path": "/run/damos-lang",
                                         "type": "DirectoryOrCreate"}},
        ],
    })
    if tols:
        pod["tolerations"] = tols
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": app, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {LABEL: app}},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": unavailable}},
            "template": {
                "metadata": {"labels": dict(labels),
                             "annotations": {"damos-lang/source-sha256": digest}},
                "spec": pod,
            },
        },
    }
    return name, [config, daemonset]


# -- YAML ------------------------------------------------------------------------------

PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*\Z")
RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# what a literal block may hold: printable text and newlines, no character
# YAML reads as a line break of its own, and no tab (Go's YAML, as kubectl
# kustomize re-emits it, refuses tabs there)
LITERAL = re.compile(r"[\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]*\Z")


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar in ASCII (JSON's \\ud83d\\ude00 pairs would read
    back as two surrogates: YAML writes a character past U+FFFF as \\U)."""
    out = []
    for c in text:
        n = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= n < 0x7f:
            out.append(c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif n < 0x100:
            out.append(f"\\x{n:02x}")
        elif n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:
            out.append(f"\\U{n:08x}")
    return '"' + "".join(out) + '"'


def _key(k: str) -> str:
    return k if PLAIN_KEY.match(k) and k.lower() not in RESERVED else _quoted(k)


# a string that reads back as that string, unquoted, in YAML 1.1 and 1.2
PLAIN = re.compile(r"[A-Za-z/][A-Za-z0-9_./-]*\Z")


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if PLAIN.match(v) and v.lower() not in RESERVED:
        return v
    return _quoted(v)


def _literal(text: str, indent: int) -> list[str] | None:
    """A block literal of ``text`` (explicit indentation: lines may start with
    spaces), or None when it cannot be one."""
    if "\n" not in text.rstrip("\n") or not LITERAL.match(text) \
            or any(c in text for c in "\u2028\u2029"):
        return None
    body = text.rstrip("\n")
    trail = len(text) - len(body)
    chomp = "-" if trail == 0 else ("" if trail == 1 else "+")
    pad = " " * (indent + 2)
    lines = [f"|2{chomp}"] + [pad + line if line else "" for line in body.split("\n")]
    lines += [""] * (trail - 1 if trail > 1 else 0)
    return lines


def _yaml(v, indent: int) -> list[str]:
    """``v`` (a dict or list) as block YAML lines at ``indent`` spaces."""
    pad = " " * indent
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            out += _entry(f"{pad}{_key(k)}:", x, indent)
    else:
        for x in v:
            if isinstance(x, dict) and x:
                sub = _yaml(x, indent + 2)
                out.append(f"{pad}- {sub[0].lstrip()}")
                out += sub[1:]
            else:
                out += _entry(f"{pad}-", x, indent)
    return out


def _entry(head: str, x, indent: int) -> list[str]:
    if isinstance(x, (dict, list)):
        if not x:
            return [f"{head} {'{}' if isinstance(x, dict) else '[]'}"]
        return [head] + _yaml(x, indent + 2)
    if isinstance(x, str):
        lit = _literal(x, indent)
        if lit:
            return [f"{head} {lit[0]}"] + lit[1:]
    return [f"{head} {_scalar(x)}"]


def to_yaml(docs: list[dict]) -> str:
    return "".join("---\n" + "\n".join(_yaml(d, 0)) + "\n" for d in docs)


# -- the image ---------------------------------------------------------------------

CONTAINERFILE = f"""\
# The image the damos-lang DaemonSet runs (damos compile --target kubernetes -o DIR
# writes it; examples/fleet/Containerfile is the same).  From a damos-lang checkout:
#   podman build -f examples/fleet/Containerfile -t REGISTRY/damos-lang:{__version__} .
# The pod runs /bin/sh -c with damos, sleep and uname: the base image has sh and
# coreutils.  The package builds a Cython extension, so the first stage has gcc.
FROM docker.io/library/python:3.12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN pip wheel --no-cache-dir --wheel-dir /wheels /src

FROM docker.io/library/python:3.12-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels && damos --version
CMD ["damos", "--help"]
"""


def compile(unit, options) -> dict:
    name, docs = objects(unit, options)
    head = (f"# Generated by damos-lang {__version__} from {unit.source_name}: the file in a "
            f"ConfigMap and a DaemonSet applying it.\n# kubectl apply -f THIS; docs/fleet.md\n")
    return {f"damos-{name}.yaml": head + to_yaml(docs), "Containerfile": CONTAINERFILE}


def on_stdout(files: dict) -> str:
    """Standard output holds the objects (the Containerfile needs -o DIR)."""
    return next(text for n, text in files.items() if n.endswith(".yaml"))
