"""Empatia: an open-source customer-experience engine.

>>> import empatia
>>> sorted(empatia.__all__)
['EmpatiaError', 'Settings', 'Workspace', '__version__']
"""

from empatia.errors import EmpatiaError
from empatia.settings import Settings
from empatia.workspace import Workspace

__version__ = "0.1.0"

__all__ = ["EmpatiaError", "Settings", "Workspace", "__version__"]
