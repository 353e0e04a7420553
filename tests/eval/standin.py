"""What the eval tests read back from the sysfs stand-in: its write log and
whether anything stayed applied."""
import json

from damos_lang.live.owners import Owners
from damos_lang.sysfs.read import kdamonds
from damos_lang.sysfs.root import open_root


def writes(log):
    with open(log) as f:
        return [tuple(json.loads(line)) for line in f]


def nothing_applied(root):
    fs = open_root(root)
    ks = kdamonds(fs)
    assert all(k.state == "off" and k.nr_contexts == 0 for k in ks), ks
    assert not any(Owners(fs).owns(fs, k) for k in ks)
