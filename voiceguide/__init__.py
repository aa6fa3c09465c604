"""voiceguide: an offline, hands-free voice guide for short physical routines."""

import os

# The guide computes in small steps (a 20 ms block, a look at 2 s of audio), and between them
# numpy's OpenBLAS keeps a thread of its own spinning on the other core: a trigger's look (its mel
# filterbank is a matrix product) cost 120 ms of CPU for 60 ms of work on a 2-core machine, 60 ms
# with one thread. Set before numpy is first imported; a value set outside still stands.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
