"""The evaluation schedule of PaddleSeg's train loop (the CLI test runs it for real)."""
from paddleseg_liteseg.evaluation import evaluation_iterations


def test_evaluations_follow_save_interval_and_the_last_iteration():
    assert evaluation_iterations(0, 10, 4) == [4, 8, 10]
    assert evaluation_iterations(0, 8, 4) == [4, 8]
    assert evaluation_iterations(4, 10, 4) == [8, 10]  # resumed at iteration 4
