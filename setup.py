"""The optional C extension; everything else about the package is in pyproject.toml.

`optional=True`: where no C compiler is at hand (or it fails), the install goes on without the
extension and `trailhound.cloudtrail.skim.compiled_skimmer` returns None, so files are read by
the pure-Python path.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trailhound.cloudtrail._skim",
            ["src/trailhound/cloudtrail/_skim.c"],
            optional=True,
        )
    ]
)
