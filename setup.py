"""Builds the monitor's Cython hot loop; everything else is in pyproject.toml.

`pip install .` and `pip install -e .` compile damos_lang/monitor/_fastpath.pyx
(gcc and the Python headers are prerequisites, see README.md)."""
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension("damos_lang.monitor._fastpath", ["damos_lang/monitor/_fastpath.pyx"],
              extra_compile_args=["-O2"]),
]

setup(ext_modules=cythonize(extensions, language_level=3, quiet=True))
