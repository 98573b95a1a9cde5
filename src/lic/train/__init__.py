"""Training: the rate–distortion loss, the crop sampler and the loop."""

from lic.train.loop import TrainConfig, export, train

__all__ = ["TrainConfig", "export", "train"]
