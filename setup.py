"""sonic: a Redis-compatible data server on Twisted."""

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
    packages=find_packages(exclude=["tests", "tests.*"]) + ["twisted.plugins"],
    package_data={"sonic": ["commands/redis_commands.json"], "twisted": ["plugins/sonic_plugin.py"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "Twisted>=24.3",
        "hiredis>=3.0",
        "sortedcontainers>=2.4",
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
