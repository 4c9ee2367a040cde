"""The optional C extensions; everything else about the package is in pyproject.toml.

`optional=True`: where no C compiler is at hand (or it fails), the install goes on without an
extension: `trailhound.cloudtrail.skim.compiled_skimmer` returns None, so files are read by the
pure-Python path; `trailhound.cloudtrail.compiled_columns` answers None, so the columnar step
makes every column with Arrow's kernels; and `trailhound.cloudtrail.request_readers` answers
with the Python readers of batch and transaction requests.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trailhound.cloudtrail._skim",
            ["src/trailhound/cloudtrail/_skim.c"],
            depends=[
                "src/trailhound/cloudtrail/_bits.h",
                "src/trailhound/cloudtrail/_json_number.h",
            ],
            optional=True,
        ),
        Extension(
            "trailhound.cloudtrail._columns",
            ["src/trailhound/cloudtrail/_columns.c"],
            depends=["src/trailhound/cloudtrail/_bits.h"],
            optional=True,
        ),
        Extension(
            "trailhound.cloudtrail._requests",
            ["src/trailhound/cloudtrail/_requests.c"],
            depends=["src/trailhound/cloudtrail/_json_number.h"],
            optional=True,
        ),
    ]
)
