"""Observing PaddleSeg's evaluate: the record holds exactly what evaluate counted, image by image."""
import cv2
import numpy as np
import paddle
import pytest
from paddleseg.core import evaluate, infer
from paddleseg.utils import metrics

from paddleseg_liteseg.evaluation import EvaluationRecord, observe_evaluation
from paddleseg_liteseg.evaluation.confusion import areas


def _labels(dataset):
    return [cv2.imread(label_path, cv2.IMREAD_UNCHANGED) for _, label_path in dataset.file_list]


def _alone(model, dataset, index):
    """(mIoU over the classes present, accuracy) of one image, scored on its own."""
    sample = dataset[index]
    with paddle.no_grad():
        pred, _ = infer.inference(model, paddle.to_tensor(sample["img"][None]), trans_info=sample["trans_info"])
    intersect, pred_area, label_area = (area.numpy() for area in metrics.calculate_area(
        pred, paddle.to_tensor(sample["label"][None].astype("int64")), dataset.num_classes))
    union = pred_area + label_area - intersect
    return np.mean(intersect[union > 0] / union[union > 0]), intersect.sum() / label_area.sum()


@pytest.fixture
def observed(pixel_model, toy_val):
    with observe_evaluation(toy_val, worst_k=3) as record:
        result = evaluate(pixel_model, toy_val, print_detail=False)
    return record, result


def test_the_confusion_matrix_gives_evaluates_numbers(observed, toy_val):
    record, (miou, accuracy, class_iou, class_precision, kappa) = observed
    matrix_areas = areas(record.confusion)
    ours_iou, ours_miou = metrics.mean_iou(*matrix_areas)
    assert np.array_equal(ours_iou, class_iou) and ours_miou == miou
    ours_accuracy, ours_precision, _ = metrics.class_measurement(*matrix_areas)
    assert ours_accuracy == accuracy and np.array_equal(ours_precision, class_precision)
    assert metrics.kappa(*matrix_areas) == kappa
    assert 0 < miou < 1  # a partly right model, so the comparison means something


def test_the_confusion_matrix_counts_every_non_ignored_pixel(observed, toy_val):
    record, _ = observed
    labels = np.stack(_labels(toy_val))
    assert record.confusion.sum() == np.count_nonzero(labels != 255) < labels.size
    assert np.array_equal(record.confusion.sum(1), np.bincount(labels[labels != 255], minlength=5))


def test_each_image_score_is_that_image_scored_alone(observed, pixel_model, toy_val):
    record, _ = observed
    assert [score.index for score in record.images] == list(range(len(toy_val)))
    for score in record.images:
        miou, accuracy = _alone(pixel_model, toy_val, score.index)
        assert score.miou == pytest.approx(miou, abs=1e-12) and score.accuracy == pytest.approx(accuracy)
        assert score.image == toy_val.file_list[score.index][0]


def test_the_worst_are_the_lowest_scores_with_their_predictions(observed, toy_val):
    record, _ = observed
    lowest = sorted(record.images, key=lambda score: (score.miou, score.index))[:3]
    worst = record.worst()
    assert [kept.index for kept in worst] == [score.index for score in lowest]
    assert len({score.miou for score in record.images}) > 3  # the ranking is not decided by ties
    labels = _labels(toy_val)
    for kept in worst:
        assert np.array_equal(kept.label, labels[kept.index]) and kept.pred.shape == kept.label.shape


def test_previews_are_the_first_images(observed):
    record, _ = observed
    assert [kept.index for kept in record.previews] == [0, 1, 2, 3]


def test_paddlesegs_calculate_area_is_back_after_the_block(pixel_model, toy_val):
    original = metrics.calculate_area
    with observe_evaluation(toy_val):
        assert metrics.calculate_area is not original
    assert metrics.calculate_area is original


def test_each_process_keeps_its_share_without_the_padding(monkeypatch, toy_val, pixel_model):
    """Seven images on two processes: evaluate reads 4 each (one padded); together the records
    hold each image once, as evaluate's gathered areas do."""
    with observe_evaluation(toy_val) as whole:
        evaluate(pixel_model, toy_val, print_detail=False)
    predictions = {kept_index: _prediction(pixel_model, toy_val, kept_index) for kept_index in range(len(toy_val))}
    shares = []
    for rank in (0, 1):
        monkeypatch.setattr(paddle.distributed.ParallelEnv, "nranks", property(lambda self: 2))
        monkeypatch.setattr(paddle.distributed.ParallelEnv, "local_rank", property(lambda self, r=rank: r))
        record = EvaluationRecord(toy_val)
        order = [index for batch in paddle.io.DistributedBatchSampler(toy_val, 1) for index in batch]
        assert len(order) == 4
        for index in order:
            record.add(*predictions[index])
        shares.append(record)
    assert sorted(score.index for share in shares for score in share.images) == list(range(7))
    assert np.array_equal(shares[0].confusion + shares[1].confusion, whole.confusion)


def _prediction(model, dataset, index):
    sample = dataset[index]
    with paddle.no_grad():
        pred, _ = infer.inference(model, paddle.to_tensor(sample["img"][None]), trans_info=sample["trans_info"])
    return pred.numpy(), sample["label"][None]
