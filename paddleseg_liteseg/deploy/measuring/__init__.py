"""Measuring runtimes on this machine: ``tune`` (the choice ``infer`` reads) and ``bench`` (latency against GEMM and PaddleSeg)."""
