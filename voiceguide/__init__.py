"""voiceguide: an offline, hands-free voice guide for short physical routines."""

import os

# The guide computes in small steps (a 20 ms block, a look at 2 s of audio), and between them
# numpy's OpenBLAS keeps a thread of its own spinning on the other core: a trigger's look (its mel
# filterbank is a matrix product) cost 120 ms of CPU for 60 ms of work on a 2-core machine, 60 ms
# with one thread. Set before numpy is first imported; a value set outside still stands.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Whisper's int8 matrix products (CTranslate2, through oneDNN) give different numbers on different
# CPUs: AVX-512 VNNI sums exactly, AVX2 saturates its pairwise sums at 16 bits. The listener's bars
# were measured with AVX2's numbers, and their margins over real talk are tenths of a nat: on a VNNI
# machine (AMD EPYC, 2026-11-27) a real "ask not" scored -5.9 as "Stop" (the bar is -6), a false
# stop, and two synthesized "ouch" were silenced late; with this ceiling `voiceguide bench` gave the
# earlier runs' figures again. It costs a VNNI machine speed (a decision 256 -> 300-330 ms of CPU, a
# trigger's look 38 -> 50-60 ms). A ceiling only: a CPU without AVX2 keeps its own, ARM has no oneDNN.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

__version__ = "0.1.0"
