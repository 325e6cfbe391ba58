"""filerate: how many files per second can this machine read and analyse, and what stops it?"""

__version__ = "0.1.0"
