"""The eval's held Ctrl-C (damos_lang/eval/sigint.py): a SIGINT inside the
block lets it finish, then raises; none, nothing; the handler comes back."""
import os
import signal

import pytest

from damos_lang.eval.sigint import held


def test_a_sigint_in_the_block_is_raised_after_it():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with held():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("rest of the block")
    assert done == ["rest of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_sigint_no_exception_and_the_blocks_own_error_wins():
    with held():
        pass
    with pytest.raises(ValueError):
        with held():
            os.kill(os.getpid(), signal.SIGINT)
            raise ValueError("its own")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
