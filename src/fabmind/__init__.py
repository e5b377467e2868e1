"""fabmind: industrial AI for high-tech fabs."""

__version__ = "0.1.0"
