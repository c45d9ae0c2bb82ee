"""sonic: a Redis-compatible data server on Twisted.

C{pip install .} installs the C{sonic} package, the twistd plugin
(C{twisted/plugins/sonic_plugin.py} lands in site-packages'
C{twisted/plugins/}, so C{twistd -n sonic} works) and the C{sonic-server}
console script.  C{twisted/} and C{twisted/plugins/} must have no
C{__init__.py}: they merge with Twisted's own package.
"""

import re

from setuptools import find_packages, setup

with open("sonic/__init__.py") as f:
    version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

with open("README.rst") as f:
    long_description = f.read()

setup(
    name="sonic-server",
    version=version,
    description="A Redis-compatible data server on Twisted",
    long_description=long_description,
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(exclude=["tests", "tests.*", "bench", "bench.*"]) + ["twisted.plugins"],
    # The plugin module is installed as part of the "twisted.plugins" package
    # listed above; Twisted's dropin.cache is never shipped (MANIFEST.in).
    package_data={"sonic": ["commands/redis_commands.json"]},
    include_package_data=False,
    python_requires=">=3.10",
    install_requires=[
        "Twisted>=24.3",
        "hiredis>=3.0",
        "sortedcontainers>=2.4",
        # RDB: CRC-64/Jones at GB/s and liblzf (sonic.rdb.format).
        "anycrc>=2.0",
        "python-lzf>=0.2.4",
        # Lua 5.1 for EVAL and FUNCTION (sonic.scripting.engine).
        "lupa>=2.0",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-twisted>=1.14",
            "hypothesis>=6.100",
            "redis>=5.0",
        ],
    },
    entry_points={
        "console_scripts": ["sonic-server = sonic.cli:main"],
    },
    classifiers=[
        "Framework :: Twisted",
        "Programming Language :: Python :: 3",
        "Topic :: Database :: Database Engines/Servers",
    ],
)
