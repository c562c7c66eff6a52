"""Segmentation head: one per decoder stage; the shallowest predicts, the others add deep supervision."""
import paddle.nn as nn
from paddleseg.cvlibs import manager
from paddleseg.models import layers


@manager.MODELS.add_component
class LiteSegHead(nn.Layer):
    """3x3 ConvBNReLU then a 1x1 classifier: (N, in_channels, H, W) -> (N, num_classes, H, W)."""

    def __init__(self, in_channels, mid_channels, num_classes):
        super().__init__()
        self.in_channels, self.num_classes = in_channels, num_classes
        self.conv = layers.ConvBNReLU(in_channels, mid_channels, kernel_size=3, padding=1,
                                      bias_attr=False)
        self.classifier = nn.Conv2D(mid_channels, num_classes, kernel_size=1, bias_attr=False)

    def forward(self, x):
        return self.classifier(self.conv(x))
